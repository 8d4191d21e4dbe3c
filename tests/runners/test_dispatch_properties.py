"""Property-based tests of ``DispatchRunner.dispatch`` (RUNNERS.md §10, items 1–13, 16, 17).

Hypothesis generates a *program*: per iteration, for each dispatch input middleware, the
executor and each dispatch output middleware, a short list of actions (ack, nack, abort,
raise ValueError / AbortError, store/mutate/delete of messages and tool calls with ids and
checksums from small pools, ack-handler (un)registration, stream reports in the executor),
and for middleware whether ``next`` is called (0, 1 or 2 times) between a *pre* and a *post*
action list. An extra "terminator" iteration (pass-through middleware, an executor that
acks) follows the generated ones so every dispatch ends.

The program runs on both paths (standalone ``raw=`` and derived ``source=FakeTurn()``) on
asyncio and trio. Every observer/hook event, every action started, every successful
persistence call and the outcome are recorded, then compared with a small reference model
of the loop (``_Model``) written from the spec, and checked against structural invariants.

Conventions that make the programs deterministic:

* Each action is preceded by a checkpoint (``await anyio.sleep(0)``). With prompt abort
  (PORT.md §7.2, §9.2) a body is cancelled at its first checkpoint after ``abort()``, so
  once the context is aborted no further action runs anywhere.
* A mutation of the id ``"x"`` makes the persistence callback raise ``ValueError``
  (RUNNERS.md §4.2: the local set has changed, no delta is queued, the error propagates).
* A second ``ack``/``nack`` is expected to raise ``E_LLM_EXECUTION_ALREADY_SIGNALLED``; the
  action catches that class only (and records it), so it never turns into a failure.
* A stream report for a completed id is expected to raise ``E_STREAM_ALREADY_COMPLETE``;
  the action catches that class only (and records it).
* Every pipeline has an outermost probe middleware recording that the pipeline ran.
* ``("ack_abort",)`` acks then aborts with no checkpoint in between (RUNNERS.md §9.4).

Program *modes* (``MODES``) bias the "loud" bodies (the ones holding stopping actions):
``errors`` towards several failing levels, ``signals`` towards mutations followed by a
signal or an abort (flush rules). ``ADK_PROPERTY_EXAMPLES=N`` sets the example count.

Spec choices made here (see the report): ``E_STREAM_ALREADY_COMPLETE`` (an ``AdkError``)
is what a sealed stream raises (the ADK raises a plain Error); an executor raising
``AbortError`` without aborting or signalling ends the dispatch with status ``aborted``
(the "otherwise" row of RUNNERS.md §3.4); a middleware raising ``AbortError`` before
``next`` is a short circuit unless signalled/aborted (abort-class errors are ignored,
then the §3.5 check applies); explicit ``args=None`` counts as known for the checksum.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adk.errors import (
    E_LLM_EXECUTION_ALREADY_SIGNALLED,
    E_PIPELINE_SHORT_CIRCUITED,
    E_PROVIDER_ERROR,
    E_STREAM_ALREADY_COMPLETE,
    AbortError,
    AdkError,
)
from adk.primitives.canonical import tool_call_checksum
from adk.runners.dispatch import DispatchRunner
from adk.stores.memory import InMemoryStore
from tests.runners.doubles import FakeTurn, msg, tool_call

BACKENDS = ["asyncio", "trio"]
PERSIST_FAILED = "persist-failed"
FAIL_ID = "x"  # a mutation of this id makes the persistence callback raise
CHECKSUMS = ("c1", "c2")
UNSET: Any = "<unset>"  # program-level marker for "argument not passed"
ARGS_CHOICES: tuple[Any, ...] = (
    UNSET,
    {"q": 1, "a": [1, 2]},
    {"a": [1, 2], "q": 1},  # the same mapping, keys reordered
    {"k": "v", "n": None},
)
# ADK_PROPERTY_EXAMPLES=500 for a deeper run (the default keeps the file around 30 s).
EXAMPLES = int(os.environ.get("ADK_PROPERTY_EXAMPLES", "25"))
PROPS = settings(max_examples=EXAMPLES, deadline=None)
PROPS_MORE = settings(PROPS, max_examples=2 * EXAMPLES)  # the model-heavy properties

Action = tuple[Any, ...]


# -- reference canonical JSON / checksum (RUNNERS.md §3.7) --------------------------------------


def ref_canonical(value: Any) -> str:
    """Canonical JSON written from the spec: sorted keys (UTF-16 order), no whitespace."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))  # JS prints integral numbers without ".0"; -0 as "0"
        return repr(value)  # only simple non-integral floats are generated
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list | tuple):
        return "[" + ",".join(ref_canonical(v) for v in value) + "]"
    if isinstance(value, dict):
        keys = sorted(value, key=lambda k: k.encode("utf-16-be"))
        return (
            "{"
            + ",".join(
                json.dumps(k, ensure_ascii=False) + ":" + ref_canonical(value[k]) for k in keys
            )
            + "}"
        )
    raise TypeError(type(value))


def ref_checksum(tool: str, args: Any) -> str:
    text = ref_canonical({"tool": tool, "args": args})
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def reordered(value: Any) -> Any:
    """The same JSON value with every mapping's insertion order reversed."""
    if isinstance(value, dict):
        return {k: reordered(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [reordered(v) for v in value]
    return value


# -- programs -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mw:
    pre: tuple[Action, ...]
    next_calls: int
    post: tuple[Action, ...]


@dataclass(frozen=True)
class Iteration:
    inputs: tuple[Mw, ...]
    executor: tuple[Action, ...]
    outputs: tuple[Mw, ...]


@dataclass(frozen=True)
class Program:
    n_in: int
    n_out: int
    iterations: tuple[Iteration, ...]
    messages: tuple[tuple[str, str], ...]  # (id, tag)
    tool_calls: tuple[tuple[str, str, str], ...]  # (id, checksum, tag)

    def at(self, i: int) -> Iteration:
        if i < len(self.iterations):
            return self.iterations[i]
        passthrough = Mw((), 1, ())
        return Iteration(
            (passthrough,) * self.n_in, (("ack",),), (passthrough,) * self.n_out
        )  # the terminator


ids = st.sampled_from(["a", "b", "a", "b", FAIL_ID])  # "x" (failing) less often
ops = st.sampled_from(["store", "mutate", "delete"])
mutation = st.one_of(
    st.tuples(st.just("msg"), ops, ids),
    st.tuples(st.just("tc"), ops, ids, st.sampled_from(CHECKSUMS)),
)
handler_action = st.one_of(
    st.tuples(st.just("on_ack"), st.booleans()),
    st.tuples(st.just("on_ack"), st.booleans()),
    st.just(("unsub",)),
)
stopping = st.one_of(
    st.just(("ack",)),
    st.tuples(st.just("nack"), st.sampled_from(["value", "none", "adk"])),
    st.just(("abort",)),
    st.just(("ack_abort",)),  # ack then abort, no checkpoint in between (§9.4)
    st.tuples(st.just("raise"), st.sampled_from(["value", "abort"])),
)
report = st.one_of(
    st.tuples(
        st.sampled_from(["rmsg", "rmsg", "rthought"]),
        st.sampled_from(["s1", "s1", "s1", "s2"]),
        st.sampled_from(["", "ab", "c"]),
        st.booleans(),
    ),
    st.tuples(
        st.just("rtc"),
        st.sampled_from(["t1", "t1", "t2"]),
        st.sampled_from([None, "alpha", "beta"]),
        st.sampled_from(range(len(ARGS_CHOICES))),
        st.sampled_from([None, False, True]),
    ),
)
mw_action = st.one_of(mutation, mutation, handler_action)
exec_action = st.one_of(mutation, handler_action, report, report)


raise_value: st.SearchStrategy[Action] = st.just(("raise", "value"))
ok_mutation = st.one_of(
    st.tuples(st.just("msg"), ops, st.sampled_from(["a", "b"])),
    st.tuples(st.just("tc"), ops, st.sampled_from(["a", "b"]), st.sampled_from(CHECKSUMS)),
)
# Program "modes" bias the loud bodies: "errors" towards several failing levels (the last
# failure wins), "signals" towards mutations followed by a signal or abort (flush rules).
MODES: dict[str, tuple[list[bool], st.SearchStrategy[Action], st.SearchStrategy[Action]]] = {
    "mixed": ([True, False, False], st.lists(mw_action, max_size=0), stopping),
    "errors": ([True, False], st.lists(mw_action, max_size=0), st.one_of(raise_value, stopping)),
    "signals": (
        [True, False],
        st.lists(ok_mutation, min_size=1, max_size=2),
        st.one_of(
            st.just(("ack",)),
            st.just(("ack_abort",)),
            st.just(("ack_abort",)),
            st.just(("abort",)),
            st.just(("raise", "abort")),
            st.just(("raise", "abort")),
            st.just(("on_ack", False)),  # registered after the signal: never runs
            stopping,
        ),
    ),
}


def _body(
    draw: st.DrawFn,
    quiet: st.SearchStrategy[Action],
    loud: bool,
    size: int = 2,
    mode: str = "mixed",
) -> tuple[Action, ...]:
    """Quiet actions, then (if loud) one or two stopping actions, then maybe one more."""
    acts = draw(st.lists(quiet, max_size=size))
    if loud:
        _, prefix, stops = MODES[mode]
        acts += draw(prefix)
        acts += draw(st.lists(stops, min_size=1, max_size=2))
        acts += draw(st.lists(quiet, max_size=1))
    return tuple(acts)


@st.composite
def programs(draw: st.DrawFn, streams: bool = False, mode: str | None = None) -> Program:
    """A random program; ``streams=True`` gives executors made mostly of stream reports;
    ``mode`` forces a mode of :data:`MODES`."""
    if mode is None:
        mode = draw(st.sampled_from(["mixed", "mixed", "errors", "signals"]))
    odds = MODES[mode][0]
    n_in = draw(st.integers(0, 2))
    n_out = draw(st.integers(0, 2))
    n_iter = draw(st.integers(1, 4))
    iterations = []
    for _ in range(n_iter):
        loud_iteration = draw(st.sampled_from(odds))

        def loud(loud_iteration: bool = loud_iteration) -> bool:
            return loud_iteration and draw(st.sampled_from(odds))

        def mws(n: int) -> tuple[Mw, ...]:
            out = []
            for _ in range(n):
                loud_pre = loud()
                pre = _body(draw, mw_action, loud_pre, mode=mode)
                nexts = [0, 1, 1, 2] if loud_pre else [1, 1, 1, 1, 1, 1, 1, 2, 0]
                post = _body(draw, mw_action, loud(), mode=mode)
                out.append(Mw(pre, draw(st.sampled_from(nexts)), post))
            return tuple(out)

        inputs = mws(n_in)
        if streams:
            executor = tuple(draw(st.lists(report, min_size=1, max_size=4))) + _body(
                draw, exec_action, loud(), 1, mode
            )
        else:
            executor = _body(draw, exec_action, loud(), 4, mode)
        iterations.append(Iteration(inputs, executor, mws(n_out)))
    messages = tuple((i, f"init-m{n}") for n, i in enumerate(draw(st.lists(ids, max_size=3))))
    tool_calls = tuple(
        (i, c, f"init-t{n}")
        for n, (i, c) in enumerate(
            draw(st.lists(st.tuples(ids, st.sampled_from(CHECKSUMS)), max_size=3))
        )
    )
    return Program(n_in, n_out, tuple(iterations), messages, tool_calls)


# -- the reference model (RUNNERS.md §3.3–§3.5, §4.2, §5) -------------------------------------


class _Fail(Exception):
    def __init__(self, cls: str, detail: str) -> None:
        super().__init__(cls, detail)
        self.cls = cls
        self.detail = detail


def apply_delta(items: list[tuple[Any, ...]], op: str, rec: Any) -> None:
    """Flush rules (RUNNERS.md §3.3): store appends, mutate collapses, delete first match."""
    if op == "store":
        items.append(rec)
    elif op == "mutate":
        out: list[tuple[Any, ...]] = []
        placed = False
        for item in items:
            if item[0] == rec[0]:
                if not placed:
                    out.append(rec)
                    placed = True
            else:
                out.append(item)
        if not placed:
            out.append(rec)
        items[:] = out
    else:
        for n, item in enumerate(items):
            if item[0] == rec:
                del items[n]
                break


class _Model:
    """What the spec says a program does: trace, status, failure, sets, persistence."""

    def __init__(self, p: Program) -> None:
        self.p = p
        self.trace: list[tuple[Any, ...]] = []
        self.signal: str | None = None
        self.nack_kind: str | None = None
        self.aborted = False
        self.handlers: list[str] = []
        self.local: dict[str, list[tuple[Any, ...]]] = {
            "message": list(p.messages),
            "tool_call": list(p.tool_calls),
        }
        self.parent: dict[str, list[tuple[Any, ...]]] = {
            "message": list(p.messages),
            "tool_call": list(p.tool_calls),
        }
        self.deltas: list[tuple[str, str, Any]] = []
        self.persist: list[tuple[str, str, str | None]] = []
        self.local_snapshots: list[tuple[Any, ...]] = []
        self.streams: dict[str, dict[str, list[Any]]] = {"message": {}, "thought": {}}
        self.tool_streams: dict[str, dict[str, Any]] = {}
        self.failure: _Fail | None = None
        self.status = ""
        self.iterations = 0
        self.output_ran: list[int] = []
        self.run()

    # the loop (§3.4)
    def run(self) -> None:
        t = self.trace
        t.append(("dispatch_start",))
        i = 0
        try:
            while not self.aborted and self.signal is None:
                t.append(("iteration_start", i))
                it = self.p.at(i)
                self.pipeline(it.inputs, "dispatch-input", "in", i)
                if self.checkpoint():  # A
                    break
                t.append(("enter", "exec", i))
                r = self.actions(it.executor, f"exec@{i}")
                if r[0] in ("cancelled", "raise_abort"):
                    self.deltas.clear()
                    break
                if r[0] == "raise_value":
                    t.append(("error", "E_LLM_EXECUTION_EXECUTOR_ERROR"))
                    self.deltas.clear()
                    raise _Fail("E_LLM_EXECUTION_EXECUTOR_ERROR", r[1])
                if self.checkpoint():  # B
                    break
                self.output_ran.append(i)
                self.pipeline(it.outputs, "dispatch-output", "out", i)
                self.flush()
                t.append(("iteration_end", i))
                i += 1
        except _Fail as f:
            self.failure = f
            self.deltas.clear()
        self.iterations = i
        if self.failure is not None:
            self.status = "nack"
        elif self.signal == "nack":
            self.status = "nack"
            t.append(
                (
                    "error",
                    "E_PROVIDER_ERROR"
                    if self.nack_kind == "adk"
                    else "E_LLM_EXECUTION_EXECUTOR_ERROR",
                )
            )
        elif self.signal == "ack":
            self.status = "ack"
        else:
            self.status = "aborted"
        t.append(("dispatch_end", self.status, i))

    def checkpoint(self) -> bool:
        if self.aborted or self.signal is not None:
            if self.signal == "ack" and not self.aborted:
                self.flush()
            else:
                self.deltas.clear()
            return True
        return False

    def flush(self) -> None:
        for kind, op, rec in self.deltas:
            apply_delta(self.parent[kind], op, rec)
        self.deltas.clear()

    # the onion (§3.5, §5): probe first, abort-skip wrapper, errors caught per level
    def pipeline(self, mws: tuple[Mw, ...], label: str, prefix: str, i: int) -> None:
        t = self.trace
        reached = False
        failures: list[str] = []
        n = 1 + len(mws)

        def call(idx: int) -> None:
            nonlocal reached
            if idx == n:
                reached = True
                return
            if self.aborted:
                call(idx + 1)
                return
            if idx == 0:
                t.append(("pipeline", label, i))
                call(1)
                return
            mw = mws[idx - 1]
            name = f"{prefix}{idx - 1}"
            t.append(("enter", name, i))
            r = self.actions(mw.pre, f"{name}.pre@{i}")
            if r[0] == "ok":
                if mw.next_calls:
                    call(idx + 1)  # a second call is a no-op
                r = self.actions(mw.post, f"{name}.post@{i}")
            if r[0] == "raise_value":
                failures.append(r[1])

        call(0)
        if failures:
            t.append(("error", "E_DISPATCH_PIPELINE_ERROR"))
            raise _Fail("E_DISPATCH_PIPELINE_ERROR", failures[-1])
        if not reached and not self.aborted and self.signal is None:
            t.append(("error", "E_PIPELINE_SHORT_CIRCUITED"))
            raise _Fail("E_PIPELINE_SHORT_CIRCUITED", label)

    def actions(self, acts: tuple[Action, ...], prefix: str) -> tuple[str, ...]:
        for n, a in enumerate(acts):
            if self.aborted:
                return ("cancelled",)
            key = f"{prefix}#{n}"
            self.trace.append(("do", key, a[0]))
            r = self.apply(a, key)
            self.local_snapshots.append(
                (key, tuple(self.local["message"]), tuple(self.local["tool_call"]))
            )
            if r is not None:
                return r
        return ("ok",)

    def apply(self, a: Action, key: str) -> tuple[str, ...] | None:
        t = self.trace
        kind = a[0]
        if kind == "ack":
            if self.signal is not None:
                t.append(("already", "ack"))
            else:
                self.signal = "ack"
                t.append(("ack",))
                t.extend(("ack_handler", h) for h in self.handlers)
        elif kind == "nack":
            if self.signal is not None:
                t.append(("already", "nack"))
            else:
                self.signal = "nack"
                self.nack_kind = a[1]
                t.append(("nack",))
        elif kind == "abort":
            self.aborted = True
        elif kind == "ack_abort":
            self.apply(("ack",), key)
            self.aborted = True
        elif kind == "raise":
            return ("raise_value", key) if a[1] == "value" else ("raise_abort",)
        elif kind in ("msg", "tc"):
            rkind = "message" if kind == "msg" else "tool_call"
            op, rid = a[1], a[2]
            rec: Any = (
                rid if op == "delete" else ((rid, key) if kind == "msg" else (rid, a[3], key))
            )
            apply_delta(self.local[rkind], op, rec)
            if rid == FAIL_ID:
                return ("raise_value", PERSIST_FAILED)
            self.persist.append((f"{op}_{rkind}", rid, None if op == "delete" else key))
            self.deltas.append((rkind, op, rec))
        elif kind == "on_ack":
            self.handlers.append(key)
        elif kind == "unsub":
            if self.handlers:
                self.handlers.pop()
        elif kind in ("rmsg", "rthought"):
            skind = "message" if kind == "rmsg" else "thought"
            state = self.streams[skind].setdefault(a[1], ["", False])
            if state[1]:
                t.append(("sealed", skind, a[1]))
            else:
                state[0] += a[2]
                state[1] = a[3]
                t.append(("emit", skind, a[1], state[0], a[2], a[3]))
        elif kind == "rtc":
            _, sid, tool, args_i, complete = a
            state = self.tool_streams.setdefault(
                sid, {"tool": None, "args": UNSET, "complete": False, "checksum": ""}
            )
            if state["complete"]:
                t.append(("sealed", "tool_call", sid))
            else:
                args = ARGS_CHOICES[args_i]
                if tool is not None:
                    state["tool"] = tool
                if args is not UNSET:
                    state["args"] = args
                if complete is not None:
                    state["complete"] = complete
                if state["tool"] is not None and state["args"] is not UNSET:
                    state["checksum"] = ref_checksum(state["tool"], state["args"])
                t.append(
                    (
                        "emit",
                        "tool_call",
                        sid,
                        state["tool"] or "",
                        None if state["args"] is UNSET else ref_canonical(state["args"]),
                        state["checksum"],
                        state["complete"],
                    )
                )
        else:  # pragma: no cover
            raise AssertionError(a)
        return None


# -- running a program for real ----------------------------------------------------------------


class RecordingStore(InMemoryStore):
    """Records every successful message/tool-call mutation; ids ``"x"`` fail."""

    def __init__(self, tags: dict[int, str]) -> None:
        super().__init__()
        self.calls: list[tuple[str, str, str | None]] = []
        self._tags = tags

    def _record(self, name: str, value: Any) -> None:
        rid = value if isinstance(value, str) else value.id
        if rid == FAIL_ID:
            raise ValueError(PERSIST_FAILED)
        self.calls.append((name, rid, None if isinstance(value, str) else self._tags[id(value)]))

    def store_message(self, ctx: Any, value: Any) -> None:
        self._record("store_message", value)
        super().store_message(ctx, value)

    def mutate_message(self, ctx: Any, value: Any) -> None:
        self._record("mutate_message", value)
        super().mutate_message(ctx, value)

    def delete_message(self, ctx: Any, id: str) -> None:
        self._record("delete_message", id)
        super().delete_message(ctx, id)

    def store_tool_call(self, ctx: Any, value: Any) -> None:
        self._record("store_tool_call", value)
        super().store_tool_call(ctx, value)

    def mutate_tool_call(self, ctx: Any, value: Any) -> None:
        self._record("mutate_tool_call", value)
        super().mutate_tool_call(ctx, value)

    def delete_tool_call(self, ctx: Any, id: str) -> None:
        self._record("delete_tool_call", id)
        super().delete_tool_call(ctx, id)


@dataclass
class Observed:
    derived: bool
    trace: list[tuple[Any, ...]] = field(default_factory=list)
    persist: list[tuple[str, str, str | None]] = field(default_factory=list)
    raised: BaseException | None = None
    resolved: bool = False
    end: Any = None
    errors: list[BaseException] = field(default_factory=list)
    exec_exits: list[tuple[int, str, bool, bool]] = field(default_factory=list)
    signal_states: list[tuple[str, bool, bool, BaseException | None]] = field(default_factory=list)
    already: list[tuple[str, bool, tuple[Any, ...], tuple[Any, ...]]] = field(default_factory=list)
    violations: list[tuple[Any, ...]] = field(default_factory=list)
    local_snapshots: list[tuple[Any, ...]] = field(default_factory=list)
    emissions: list[tuple[str, Any]] = field(default_factory=list)
    ctx: Any = None
    turn: Any = None
    parent: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)

    def kinds(self, name: str) -> list[tuple[Any, ...]]:
        return [e for e in self.trace if e[0] == name]


class _Run:
    def __init__(self, program: Program, derived: bool) -> None:
        self.p = program
        self.o = Observed(derived)
        self.current = -1
        self.tags: dict[int, str] = {}
        self.keep: list[Any] = []  # keeps tagged records alive (id() keys stay unique)
        self.handlers: list[tuple[str, Any]] = []

    def tag(self, value: Any, tag: str) -> Any:
        self.tags[id(value)] = tag
        self.keep.append(value)
        return value

    def rec(self, value: Any, kind: str) -> tuple[Any, ...]:
        if kind == "message":
            return (value.id, self.tags[id(value)])
        return (value.id, value.checksum, self.tags[id(value)])

    # observers and hooks
    def on_iteration_start(self, e: Any) -> None:
        self.current = e.iteration
        self.o.trace.append(("iteration_start", e.iteration))

    def on_error(self, e: BaseException) -> None:
        self.o.errors.append(e)
        self.o.trace.append(("error", type(e).__name__))

    def on_end(self, e: Any) -> None:
        self.o.end = e
        self.o.trace.append(("dispatch_end", e.status, e.iterations))

    def on_stream(self, kind: str, c: Any) -> None:
        self.o.emissions.append((kind, c))
        self.o.trace.append(("emit", kind, c.id, c.full, c.a_delta, c.is_complete))

    def on_tool_call(self, c: Any) -> None:
        self.o.emissions.append(("tool_call", c))
        args = None if c.args is None else ref_canonical(c.args)
        self.o.trace.append(("emit", "tool_call", c.id, c.tool, args, c.checksum, c.is_complete))

    # program pieces
    def probe(self, label: str) -> Any:
        async def probe(ctx: Any, next: Any) -> None:
            self.o.ctx = ctx
            i = self.current
            self.o.trace.append(("pipeline", label, i))
            if ctx.iteration != i:
                self.o.violations.append(("iteration", label, ctx.iteration, i))
            if i > len(self.p.iterations):
                self.o.trace.append(("runaway",))
                ctx.abort()
                return
            await next()

        return probe

    def middleware(self, prefix: str, j: int) -> Any:
        name = f"{prefix}{j}"

        async def mw(ctx: Any, next: Any) -> None:
            i = self.current
            it = self.p.at(i)
            spec = (it.inputs if prefix == "in" else it.outputs)[j]
            self.o.trace.append(("enter", name, i))
            await self.actions(ctx, None, spec.pre, f"{name}.pre@{i}", i)
            for _ in range(spec.next_calls):
                await next()
            await self.actions(ctx, None, spec.post, f"{name}.post@{i}", i)

        return mw

    async def executor(self, ctx: Any, helpers: Any) -> None:
        self.o.ctx = ctx
        i = self.current
        self.o.trace.append(("enter", "exec", i))
        how = "raise"
        try:
            await self.actions(ctx, helpers, self.p.at(i).executor, f"exec@{i}", i)
            how = "return"
        finally:
            self.o.exec_exits.append((i, how, ctx.is_signalled, ctx.aborted))

    async def actions(
        self, ctx: Any, helpers: Any, acts: tuple[Action, ...], prefix: str, i: int
    ) -> None:
        for n, a in enumerate(acts):
            await anyio.sleep(0)  # checkpoint: a prompt abort cancels the body here
            key = f"{prefix}#{n}"
            self.o.trace.append(("do", key, a[0]))
            if ctx.iteration != i:
                self.o.violations.append(("iteration", key, ctx.iteration, i))
            try:
                await self.apply(ctx, helpers, a, key)
            finally:
                self.snapshot(ctx, key)

    def snapshot(self, ctx: Any, key: str) -> None:
        o = self.o
        counted = Counter(tc.checksum for tc in ctx.turn_tool_calls)
        for c in set(counted) | set(CHECKSUMS):
            if ctx.tool_call_count(c) != counted[c]:
                o.violations.append(("tool_call_count", key, c, ctx.tool_call_count(c), counted[c]))
        o.signal_states.append((key, ctx.is_signalled, ctx.is_acked, ctx.nack_error))
        o.local_snapshots.append(
            (
                key,
                tuple(self.rec(m, "message") for m in ctx.turn_messages),
                tuple(self.rec(tc, "tool_call") for tc in ctx.turn_tool_calls),
            )
        )

    async def apply(self, ctx: Any, helpers: Any, a: Action, key: str) -> None:
        o = self.o
        kind = a[0]
        if kind in ("ack", "nack"):
            before = (ctx.is_signalled, ctx.is_acked, ctx.nack_error)
            at = len(o.trace)  # ack handlers run inside ack(): the marker goes first
            try:
                if kind == "ack":
                    ctx.ack()
                elif a[1] == "value":
                    ctx.nack(ValueError(f"nack:{key}"))
                elif a[1] == "adk":
                    ctx.nack(E_PROVIDER_ERROR(message=f"nack:{key}"))
                else:
                    ctx.nack()
            except E_LLM_EXECUTION_ALREADY_SIGNALLED:
                after = (ctx.is_signalled, ctx.is_acked, ctx.nack_error)
                o.already.append((kind, True, before, after))
                o.trace.append(("already", kind))
            else:
                o.already.append((kind, False, before, before))
                o.trace.insert(at, (kind,))
        elif kind == "abort":
            ctx.abort()
        elif kind == "ack_abort":
            await self.apply(ctx, helpers, ("ack",), key)
            ctx.abort()
        elif kind == "raise":
            if a[1] == "value":
                raise ValueError(key)
            raise AbortError(key)
        elif kind in ("msg", "tc"):
            op, rid = a[1], a[2]
            noun = "message" if kind == "msg" else "tool_call"
            method = getattr(ctx, f"{op}_{noun}")
            if op == "delete":
                await method(rid)
            elif kind == "msg":
                await method(self.tag(msg(rid, key), key))
            else:
                await method(self.tag(tool_call(rid, a[3], tool=key), key))
        elif kind == "on_ack":
            raises = a[1]

            def handler() -> None:
                o.trace.append(("ack_handler", key))
                if raises:
                    raise RuntimeError(f"handler {key} fails")

            self.handlers.append((key, ctx.on_ack(handler)))
        elif kind == "unsub":
            if self.handlers:
                self.handlers.pop()[1]()
        elif kind in ("rmsg", "rthought"):
            report = helpers.report_message if kind == "rmsg" else helpers.report_thought
            try:
                report(a[1], a[2], is_complete=a[3])
            except E_STREAM_ALREADY_COMPLETE:
                o.trace.append(("sealed", "message" if kind == "rmsg" else "thought", a[1]))
        elif kind == "rtc":
            _, sid, tool, args_i, complete = a
            kwargs: dict[str, Any] = {}
            if tool is not None:
                kwargs["tool"] = tool
            if ARGS_CHOICES[args_i] is not UNSET:
                kwargs["args"] = ARGS_CHOICES[args_i]
            if complete is not None:
                kwargs["is_complete"] = complete
            try:
                helpers.report_tool_call(sid, **kwargs)
            except E_STREAM_ALREADY_COMPLETE:
                o.trace.append(("sealed", "tool_call", sid))
        else:  # pragma: no cover
            raise AssertionError(a)

    async def execute(self) -> Observed:
        p, o = self.p, self.o
        store = RecordingStore(self.tags)
        messages = [self.tag(msg(i, t), t) for i, t in p.messages]
        tool_calls = [self.tag(tool_call(i, c, tool=t), t) for i, c, t in p.tool_calls]
        kwargs: dict[str, Any] = {
            "executor": self.executor,
            "turn_input_pipeline": [self.probe("dispatch-input")]
            + [self.middleware("in", j) for j in range(p.n_in)],
            "turn_output_pipeline": [self.probe("dispatch-output")]
            + [self.middleware("out", j) for j in range(p.n_out)],
            "hooks": {
                "message": lambda c: self.on_stream("message", c),
                "thought": lambda c: self.on_stream("thought", c),
                "tool_call": self.on_tool_call,
            },
            "observers": {
                "dispatch_start": lambda e: o.trace.append(("dispatch_start",)),
                "iteration_start": self.on_iteration_start,
                "iteration_end": lambda e: o.trace.append(("iteration_end", e.iteration)),
                "error": self.on_error,
                "dispatch_end": self.on_end,
            },
        }
        if o.derived:
            turn = o.turn = FakeTurn(store=store)
            for m in messages:
                turn.turn_messages.add(m)
            for tc in tool_calls:
                turn.turn_tool_calls.add(tc)
            kwargs["source"] = turn
        else:
            kwargs["raw"] = {
                "system_prompt": "You are a test.",
                "store": store,
                "messages": messages,
                "tool_calls": tool_calls,
            }
        try:
            with anyio.fail_after(30):
                await DispatchRunner.dispatch(**kwargs)
        except Exception as exc:
            o.raised = exc
        else:
            o.resolved = True
        o.persist = store.calls
        if o.turn is not None:
            o.parent = {
                "message": [self.rec(m, "message") for m in o.turn.turn_messages],
                "tool_call": [self.rec(tc, "tool_call") for tc in o.turn.turn_tool_calls],
            }
        return o


def run_program(program: Program, backend: str) -> tuple[_Model, list[Observed]]:
    async def main() -> list[Observed]:
        return [await _Run(program, derived).execute() for derived in (False, True)]

    return _Model(program), anyio.run(main, backend=backend)


backends = pytest.mark.parametrize("backend", BACKENDS)


# -- the whole trace against the model ---------------------------------------------------------


@backends
@PROPS_MORE
@given(programs())
def test_trace_matches_reference_model(backend: str, program: Program) -> None:
    model, observed = run_program(program, backend)
    for o in observed:
        assert o.trace == model.trace, f"derived={o.derived}"


# -- §10.1 ------------------------------------------------------------------------------------


@backends
@PROPS
@given(programs())
def test_1_first_signal_wins_later_signals_raise_synchronously(
    backend: str, program: Program
) -> None:
    model, observed = run_program(program, backend)
    for o in observed:
        first: tuple[bool, BaseException | None] | None = None
        for kind, raised, before, after in o.already:
            # a later ack/nack raises E_LLM_EXECUTION_ALREADY_SIGNALLED iff already signalled
            assert raised == before[0], (kind, before)
            assert before == after  # and changes nothing
        for _key, signalled, acked, nack_error in o.signal_states:
            if first is None:
                if signalled:
                    first = (acked, nack_error)
            else:
                assert signalled
                assert acked == first[0]
                assert nack_error is first[1]
        final = (o.ctx.is_signalled, o.ctx.is_acked, o.ctx.nack_error)
        if first is not None:
            assert final[0] and final[1] == first[0] and final[2] is first[1]
        expected = [e for e in model.trace if e[0] in ("ack", "nack", "already")]
        assert [e for e in o.trace if e[0] in ("ack", "nack", "already")] == expected


# -- §10.2 ------------------------------------------------------------------------------------


@backends
@PROPS
@given(programs())
def test_2_is_signalled_iff_acked_xor_nack_error(backend: str, program: Program) -> None:
    _model, observed = run_program(program, backend)
    for o in observed:
        states = [s[1:] for s in o.signal_states]
        states.append((o.ctx.is_signalled, o.ctx.is_acked, o.ctx.nack_error))
        for signalled, acked, nack_error in states:
            assert signalled == (acked != (nack_error is not None))
        if any(e == ("nack",) for e in o.trace):  # nack() with no argument included
            assert o.ctx.nack_error is not None


# -- §10.3 ------------------------------------------------------------------------------------


@backends
@PROPS
@given(programs())
def test_3_ack_handlers_run_once_iff_ack_won_in_order(backend: str, program: Program) -> None:
    model, observed = run_program(program, backend)
    expected = [e for e in model.trace if e[0] == "ack_handler"]
    for o in observed:
        ran = [e for e in o.trace if e[0] == "ack_handler"]
        assert ran == expected
        assert len(set(ran)) == len(ran)  # each at most once
        if not o.ctx.is_acked:
            assert ran == []
        else:  # they all run inside ack(), right after it
            at = o.trace.index(("ack",))
            assert o.trace[at + 1 : at + 1 + len(ran)] == ran


# -- §10.4 ------------------------------------------------------------------------------------


@backends
@PROPS
@given(programs())
def test_4_no_iteration_or_executor_call_after_signal_or_abort(
    backend: str, program: Program
) -> None:
    model, observed = run_program(program, backend)
    for o in observed:
        stops = [
            n
            for n, e in enumerate(o.trace)
            if e in (("ack",), ("nack",)) or (e[0] == "do" and e[2] == "abort")
        ]
        if stops:
            after = o.trace[stops[0] + 1 :]
            assert not [e for e in after if e[0] == "iteration_start"]
            assert not [e for e in after if e[:2] == ("enter", "exec")]
        assert o.kinds("enter") == [e for e in model.trace if e[0] == "enter"]


# -- §10.5 ------------------------------------------------------------------------------------


@backends
@PROPS
@given(programs())
def test_5_output_pipeline_runs_iff_not_signalled_nor_aborted_at_checkpoint_b(
    backend: str, program: Program
) -> None:
    model, observed = run_program(program, backend)
    for o in observed:
        ran = [e[2] for e in o.trace if e[:2] == ("pipeline", "dispatch-output")]
        assert ran == model.output_ran
        for i, how, signalled, aborted in o.exec_exits:
            if signalled or aborted:
                assert i not in ran
            elif how == "return":
                assert i in ran


# -- §10.6 ------------------------------------------------------------------------------------


@backends
@PROPS
@given(programs())
def test_6_iteration_indices_contiguous_and_ctx_iteration_current(
    backend: str, program: Program
) -> None:
    model, observed = run_program(program, backend)
    for o in observed:
        starts = [e[1] for e in o.kinds("iteration_start")]
        ends = [e[1] for e in o.kinds("iteration_end")]
        assert starts == list(range(len(starts)))
        assert ends == starts[: len(ends)]
        assert len(starts) - len(ends) in (0, 1)
        assert starts == [e[1] for e in model.trace if e[0] == "iteration_start"]
        assert [v for v in o.violations if v[0] == "iteration"] == []
        assert o.ctx.iteration == starts[-1]


# -- §10.7 ------------------------------------------------------------------------------------


@backends
@PROPS
@given(programs())
def test_7_one_dispatch_start_first_one_dispatch_end_last_iterations_counted(
    backend: str, program: Program
) -> None:
    model, observed = run_program(program, backend)
    for o in observed:
        assert o.trace[0] == ("dispatch_start",)
        assert o.trace[-1][0] == "dispatch_end"
        assert len(o.kinds("dispatch_start")) == 1
        assert len(o.kinds("dispatch_end")) == 1
        assert o.end.iterations == len(o.kinds("iteration_end")) == model.iterations


# -- §10.8 ------------------------------------------------------------------------------------


def _check_failure(o: Observed, model: _Model) -> None:
    f = model.failure
    assert f is not None
    assert type(o.raised).__name__ == f.cls
    if f.cls == "E_PIPELINE_SHORT_CIRCUITED":
        assert isinstance(o.raised, E_PIPELINE_SHORT_CIRCUITED)
        assert o.raised.pipeline == f.detail
    else:
        assert isinstance(o.raised.__cause__, ValueError)
        assert str(o.raised.__cause__) == f.detail


@backends
@PROPS
@given(st.one_of(programs(), programs(mode="errors")))
def test_8_status_precedence_and_dispatch_outcome(backend: str, program: Program) -> None:
    model, observed = run_program(program, backend)
    for o in observed:
        assert o.end.status == model.status
        assert o.resolved == (o.end.status in ("ack", "aborted"))
        assert o.resolved == (o.raised is None)
        assert o.end.error is o.raised
        if model.failure is not None:  # thrown error > nack > ack > aborted
            _check_failure(o, model)
        elif model.status == "nack":  # the raw nack error
            assert o.raised is o.ctx.nack_error
            expected = {"value": ValueError, "none": RuntimeError, "adk": E_PROVIDER_ERROR}
            assert type(o.raised) is expected[model.nack_kind or ""]


# -- §10.9 ------------------------------------------------------------------------------------


@backends
@PROPS
@given(programs())
def test_9_exactly_one_error_observation_per_nack_dispatch(backend: str, program: Program) -> None:
    model, observed = run_program(program, backend)
    for o in observed:
        assert len(o.errors) == (1 if o.end.status == "nack" else 0)
        assert o.kinds("error") == [e for e in model.trace if e[0] == "error"]
        if o.errors and model.failure is None:  # nack: AdkError as is, else the wrapper
            err = o.errors[0]
            if isinstance(o.raised, AdkError):
                assert err is o.raised
            else:
                assert type(err).__name__ == "E_LLM_EXECUTION_EXECUTOR_ERROR"
                assert err.__cause__ is o.raised
        elif o.errors:
            assert o.errors[0] is o.raised


# -- §10.10 -----------------------------------------------------------------------------------


@backends
@PROPS_MORE
@given(st.one_of(programs(), programs(mode="signals")))
def test_10_parent_mirror_and_persistence_calls(backend: str, program: Program) -> None:
    model, observed = run_program(program, backend)
    for o in observed:
        assert o.persist == model.persist, f"derived={o.derived}"
        if o.derived:
            assert o.parent == model.parent
        assert o.local_snapshots == model.local_snapshots


# -- §10.11 -----------------------------------------------------------------------------------


@backends
@PROPS
@given(programs())
def test_11_short_circuit_iff_neither_aborted_nor_signalled(backend: str, program: Program) -> None:
    model, observed = run_program(program, backend)
    expected = (
        model.failure.detail
        if model.failure is not None and model.failure.cls == "E_PIPELINE_SHORT_CIRCUITED"
        else None
    )
    for o in observed:
        got = o.raised.pipeline if isinstance(o.raised, E_PIPELINE_SHORT_CIRCUITED) else None
        assert got == expected
        if got is not None:
            assert not o.ctx.aborted and not o.ctx.is_signalled


# -- §10.12 -----------------------------------------------------------------------------------


@backends
@PROPS
@given(programs())
def test_12_abort_without_signal_or_error_resolves_aborted(backend: str, program: Program) -> None:
    model, observed = run_program(program, backend)
    for o in observed:
        if o.ctx.aborted and not o.ctx.is_signalled and model.failure is None:
            assert o.end.status == "aborted"
            assert o.resolved and o.raised is None
            assert o.errors == []
        if o.derived:
            assert not o.turn.aborted  # a dispatch abort does not abort the turn (§9.7)


# -- §10.13 -----------------------------------------------------------------------------------


@backends
@PROPS
@given(programs())
def test_13_tool_call_count_equals_checksum_count(backend: str, program: Program) -> None:
    model, observed = run_program(program, backend)
    for o in observed:
        assert [v for v in o.violations if v[0] == "tool_call_count"] == []
        assert [s[2] for s in o.local_snapshots] == [s[2] for s in model.local_snapshots]


# -- §10.16 -----------------------------------------------------------------------------------


@backends
@PROPS
@given(programs(streams=True))
def test_16_stream_helpers_full_concatenates_deltas_and_seal(
    backend: str, program: Program
) -> None:
    model, observed = run_program(program, backend)
    for o in observed:
        full: dict[tuple[str, str], str] = {}
        created: dict[tuple[str, str], Any] = {}
        complete: set[tuple[str, str]] = set()
        for kind, c in o.emissions:
            k = (kind, c.id)
            assert k not in complete  # nothing is emitted after is_complete
            if kind != "tool_call":
                full[k] = full.get(k, "") + c.a_delta
                assert c.full == full[k]
            assert created.setdefault(k, c.created_at) == c.created_at
            assert (c.completed_at is not None) == c.is_complete
            if c.is_complete:
                complete.add(k)
        for e in o.kinds("sealed"):
            assert (e[1], e[2]) in complete
        keep = ("emit", "sealed")
        assert [e for e in o.trace if e[0] in keep] == [e for e in model.trace if e[0] in keep]
        if o.derived:  # forwarded to the parent turn, same payloads in the same order
            assert [c for _, c in o.turn.emitted] == [c for _, c in o.emissions]


# -- §10.17 -----------------------------------------------------------------------------------

json_keys = st.text(
    alphabet=st.sampled_from(["a", "b", "Z", "_", "é", "\ue000", "\uffff", "😀", "𝄞"]),
    max_size=3,
)
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**53) + 1, 2**53 - 1),
    st.sampled_from([0.5, -2.25, 1.0, -0.0, 3.0, 1e20]),
    st.text(max_size=5),
)


def _json_containers(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.lists(inner, max_size=3), st.dictionaries(json_keys, inner, max_size=3))


json_values = st.recursive(json_scalars, _json_containers, max_leaves=8)


@backends
@settings(max_examples=2 * EXAMPLES, deadline=None)
@given(
    tool=st.text(max_size=6),
    args=st.one_of(st.dictionaries(json_keys, json_values, max_size=4), st.none()),
)
def test_17_checksum_is_sha256_of_canonical_json_and_order_stable(
    backend: str, tool: str, args: Any
) -> None:
    expected = ref_checksum(tool, args)
    if args is not None:
        assert tool_call_checksum(tool, args) == expected
        assert tool_call_checksum(tool, reordered(args)) == expected
    seen: dict[str, str] = {}

    async def executor(ctx: Any, helpers: Any) -> None:
        helpers.report_tool_call("one", tool=tool, args=args)
        helpers.report_tool_call("two", args=reordered(args))  # args first, then tool
        helpers.report_tool_call("two", tool=tool, is_complete=True)
        ctx.ack()

    async def main() -> None:
        await DispatchRunner.dispatch(
            raw={"system_prompt": "p"},
            executor=executor,
            hooks={"tool_call": lambda c: seen.__setitem__(c.id, c.checksum)},
        )

    anyio.run(main, backend=backend)
    assert seen == {"one": expected, "two": expected}
