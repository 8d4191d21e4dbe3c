"""Primitive hot paths against same-process baselines.

Run: ``python benchmarks/bench_primitives.py [--profile]``. For each operation prints the
median ns/op of ``adk`` and of a baseline doing the same job with plain msgspec/stdlib, and
their ratio. ``--profile`` runs cProfile on the operation with the worst ratio.
"""

from __future__ import annotations

import cProfile
import hashlib
import json
import pstats
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import msgspec

from adk.primitives.canonical import tool_call_checksum
from adk.primitives.codec import decode, encode
from adk.primitives.message import Message
from adk.primitives.tokenizable import Tokenizable

try:
    import adk

    checksum = getattr(adk, "tool_call_checksum", tool_call_checksum)
except ImportError:  # pragma: no cover
    checksum = tool_call_checksum

T0 = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
T1 = datetime(2024, 5, 6, 7, 9, 0, tzinfo=UTC)


class PlainMessage(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    role: str
    content: str | None
    identity: str
    created_at: datetime
    updated_at: datetime


class PlainToolCall(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    tool: str
    args: dict[str, Any]
    checksum: str
    is_complete: bool
    is_error: bool
    results: str
    created_at: datetime
    updated_at: datetime
    completed_at: datetime


def bench(
    ours: Callable[[], object],
    baseline: Callable[[], object],
    *,
    batch: int = 1000,
    repeats: int = 15,
) -> tuple[float, float, float]:
    """Median ns/op of ``ours`` and ``baseline`` and the median of their per-round ratio.

    The two are timed in alternating batches so that load from other processes affects
    both alike; the ratio is the median of the per-round ratios.
    """
    for fn in (ours, baseline):
        for _ in range(batch // 10):
            fn()
    ours_ns: list[float] = []
    base_ns: list[float] = []
    ratios: list[float] = []
    for _ in range(repeats):
        start = time.perf_counter_ns()
        for _ in range(batch):
            ours()
        mid = time.perf_counter_ns()
        for _ in range(batch):
            baseline()
        end = time.perf_counter_ns()
        ours_ns.append((mid - start) / batch)
        base_ns.append((end - mid) / batch)
        ratios.append((mid - start) / (end - mid))
    return statistics.median(ours_ns), statistics.median(base_ns), statistics.median(ratios)


def cases() -> list[tuple[str, Callable[[], object], Callable[[], object]]]:
    out: list[tuple[str, Callable[[], object], Callable[[], object]]] = []

    out.append(
        (
            "construct Message",
            lambda: Message(
                id="m1", role="user", content="hello world", created_at=T0, updated_at=T1
            ),
            lambda: PlainMessage(
                id="m1",
                role="user",
                content="hello world",
                identity="user",
                created_at=T0,
                updated_at=T1,
            ),
        )
    )

    try:
        from adk.primitives.tool_call import ToolCall
    except ImportError:
        print("construct ToolCall: skipped (adk.primitives.tool_call does not exist yet)")
    else:
        args = {"q": "weather in Paris", "limit": 5}
        results = Tokenizable("sunny")
        out.append(
            (
                "construct ToolCall",
                lambda: ToolCall(
                    id="tc1",
                    tool="search",
                    args=args,
                    checksum="abc",
                    is_complete=True,
                    is_error=False,
                    results=results,
                    created_at=T0,
                    updated_at=T1,
                    completed_at=T1,
                ),
                lambda: PlainToolCall(
                    id="tc1",
                    tool="search",
                    args=args,
                    checksum="abc",
                    is_complete=True,
                    is_error=False,
                    results="sunny",
                    created_at=T0,
                    updated_at=T1,
                    completed_at=T1,
                ),
            )
        )

    small_args = {"q": "weather in Paris", "limit": 5, "units": "metric", "verbose": False}
    obj = {"tool": "search", "args": small_args}
    out.append(
        (
            "tool_call_checksum (small args)",
            lambda: checksum("search", small_args),
            lambda: hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest(),
        )
    )

    message = Message(id="m1", role="user", content="hello world", created_at=T0, updated_at=T1)
    plain = PlainMessage(
        id="m1", role="user", content="hello world", identity="user", created_at=T0, updated_at=T1
    )
    enc = msgspec.json.Encoder()
    dec = msgspec.json.Decoder(PlainMessage)
    out.append(
        (
            "encode+decode Message",
            lambda: decode(encode(message)),
            lambda: dec.decode(enc.encode(plain)),
        )
    )
    data = encode(message)
    plain_data = enc.encode(plain)
    out.append(("  encode Message", lambda: encode(message), lambda: enc.encode(plain)))
    out.append(("  decode Message", lambda: decode(data), lambda: dec.decode(plain_data)))
    return out


def main() -> None:
    rows: list[tuple[str, float, float, float]] = []
    fns: dict[str, Callable[[], object]] = {}
    for name, ours, baseline in cases():
        rows.append((name, *bench(ours, baseline)))
        fns[name] = ours
    width = max(len(r[0]) for r in rows)
    print(f"{'operation':<{width}}  {'adk ns/op':>10}  {'baseline':>10}  {'ratio':>6}")
    for name, ours_ns, base_ns, ratio in rows:
        print(f"{name:<{width}}  {ours_ns:>10.0f}  {base_ns:>10.0f}  {ratio:>6.1f}x")
    if "--profile" in sys.argv:
        worst = max(rows, key=lambda r: r[3])[0]
        print(f"\nprofile of the worst ratio: {worst}")
        fn = fns[worst]
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(20000):
            fn()
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(12)


if __name__ == "__main__":
    main()
