"""ToolRegistry (PRIMITIVES.md §12, §22 item 8)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import pytest

from adk.errors import E_INVALID_INITIAL_TOOL_VALUE, E_TOOL_ALREADY_REGISTERED
from adk.primitives.registry import Registry
from adk.primitives.tool import OnCollision, Tool
from adk.primitives.tool_registry import ToolRegistry


def handler(args: Any, ctx: Any, meta: Registry) -> str:
    return "ok"


def mk(name: str, on_collision: OnCollision = "throw", ephemeral: bool = False) -> Tool:
    return Tool(
        name=name,
        description=f"tool {name}",
        input_schema={"type": "object"},
        handler=handler,
        on_collision=on_collision,
        ephemeral=ephemeral,
    )


def names(tools: Any) -> list[str]:
    return [t.name for t in tools]


class FakeAckCtx:
    """Ack handlers run in registration order; a raising handler does not stop later ones;
    a second signal raises (as DispatchContext does, PRIMITIVES.md §19)."""

    def __init__(self) -> None:
        self.handlers: list[Callable[[], Any]] = []
        self.signalled = False

    def on_ack(self, fn: Callable[[], Any]) -> Callable[[], None]:
        if fn not in self.handlers:
            self.handlers.append(fn)
        return lambda: self.handlers.remove(fn) if fn in self.handlers else None

    def ack(self) -> None:
        if self.signalled:
            raise RuntimeError("already signalled")
        self.signalled = True
        for fn in list(self.handlers):
            with contextlib.suppress(Exception):
                fn()

    def nack(self) -> None:
        if self.signalled:
            raise RuntimeError("already signalled")
        self.signalled = True


def test_construct_register_and_lookup() -> None:
    a, b = mk("a"), mk("b")
    reg = ToolRegistry([a, b])
    assert len(reg) == 2 and names(reg) == ["a", "b"]
    assert reg.get("a") is a and reg.get("zz") is None
    assert reg.has("b") and not reg.has("c")
    assert "a" in reg and a in reg and mk("a") not in reg and 3 not in reg
    assert reg.all() == [a, b] and reg.all() is not reg.all()
    assert ToolRegistry.is_tool_registry(reg) and not ToolRegistry.is_tool_registry([a])
    assert len(ToolRegistry()) == 0


def test_duplicate_names_raise() -> None:
    with pytest.raises(E_TOOL_ALREADY_REGISTERED):
        ToolRegistry([mk("a"), mk("a")])
    reg = ToolRegistry([mk("a")])
    with pytest.raises(E_TOOL_ALREADY_REGISTERED) as info:
        reg.register(mk("a"))
    assert "'a'" in str(info.value)


def test_overwrite_keeps_position() -> None:
    a2 = mk("a")
    reg = ToolRegistry([mk("a"), mk("b"), mk("c")])
    reg.register(a2, overwrite=True)
    assert names(reg) == ["a", "b", "c"] and reg.get("a") is a2


def test_non_tool_rejected() -> None:
    with pytest.raises(E_INVALID_INITIAL_TOOL_VALUE):
        ToolRegistry().register({"name": "a"})  # type: ignore[arg-type]
    with pytest.raises(E_INVALID_INITIAL_TOOL_VALUE):
        ToolRegistry(["a"])  # type: ignore[list-item]


def test_unregister_removes_hidden_mark() -> None:
    reg = ToolRegistry([mk("a"), mk("b")])
    reg.hide("a")
    reg.unregister("a")
    reg.unregister("nope")  # no-op
    reg.register(mk("a"))
    assert names(reg.visible()) == ["b", "a"] and reg.hidden() == []


def test_hidden_state() -> None:
    reg = ToolRegistry([mk("a"), mk("b"), mk("c")])
    reg.hide("c", "a", "later")
    assert names(reg.visible()) == ["b"] and names(reg.hidden()) == ["a", "c"]
    assert reg.get("a") is not None  # hidden tools stay callable
    reg.register(mk("later"))
    assert names(reg.hidden()) == ["a", "c", "later"]  # remembered before registration
    reg.unhide("a")
    assert names(reg.hidden()) == ["c", "later"]
    reg.set_hidden("b")
    assert names(reg.hidden()) == ["b"]
    reg.clear_hidden()
    assert reg.hidden() == [] and len(reg.visible()) == 4


def test_prune_ephemeral_idempotent() -> None:
    reg = ToolRegistry([mk("a", ephemeral=True), mk("b"), mk("c", ephemeral=True)])
    reg.hide("a", "b")
    reg.prune_ephemeral()
    assert names(reg) == ["b"] and names(reg.hidden()) == ["b"]
    reg.prune_ephemeral()
    assert names(reg) == ["b"]
    reg.register(mk("a"))
    assert names(reg.visible()) == ["a"]  # the hidden mark went with the pruned tool


def test_bind_context_prunes_on_ack_only() -> None:
    ctx = FakeAckCtx()
    reg = ToolRegistry([mk("a", ephemeral=True), mk("b")])
    unsubscribe = reg.bind_context(ctx)
    assert callable(unsubscribe) and len(ctx.handlers) == 1
    reg.bind_context(ctx)  # the same bound method is stored once
    assert len(ctx.handlers) == 1
    ctx.nack()
    assert names(reg) == ["a", "b"]

    ctx = FakeAckCtx()
    reg.bind_context(ctx)
    ctx.on_ack(lambda: 1 / 0)
    ctx.ack()
    assert names(reg) == ["b"]
    with pytest.raises(RuntimeError):
        ctx.ack()


def test_unsubscribe_stops_pruning() -> None:
    ctx = FakeAckCtx()
    reg = ToolRegistry([mk("a", ephemeral=True)])
    reg.bind_context(ctx)()
    ctx.ack()
    assert names(reg) == ["a"]


# --- merge --------------------------------------------------------------------------------------


def test_merge_new_names_in_order_inputs_untouched() -> None:
    r1 = ToolRegistry([mk("a"), mk("b")])
    r2 = ToolRegistry([mk("c"), mk("d")])
    out = ToolRegistry.merge([r1, r2])
    assert names(out) == ["a", "b", "c", "d"]
    assert out is not r1 and names(r1) == ["a", "b"] and names(r2) == ["c", "d"]
    out.unregister("a")
    assert r1.has("a")


def test_merge_collision_throw_by_default() -> None:
    with pytest.raises(E_TOOL_ALREADY_REGISTERED):
        ToolRegistry.merge([ToolRegistry([mk("a")]), ToolRegistry([mk("a")])])


@pytest.mark.parametrize(
    ("incoming", "option", "winner"),
    [
        ("replace", "throw", "incoming"),
        ("replace", "keep", "incoming"),  # the tool's own policy beats the merge option
        ("keep", "replace", "existing"),
        ("keep", "throw", "existing"),
        ("throw", "replace", "incoming"),  # falls back to the merge option
        ("throw", "keep", "existing"),
    ],
)
def test_merge_precedence(incoming: OnCollision, option: OnCollision, winner: str) -> None:
    existing_tool = mk("x", on_collision="throw")
    incoming_tool = mk("x", on_collision=incoming)
    r1 = ToolRegistry([mk("first"), existing_tool, mk("last")])
    r2 = ToolRegistry([incoming_tool])
    out = ToolRegistry.merge([r1, r2], on_collision=option)
    assert names(out) == ["first", "x", "last"]  # a replacement keeps the position
    assert out.get("x") is (incoming_tool if winner == "incoming" else existing_tool)


def test_merge_only_incoming_policy_matters() -> None:
    # the existing tool's policy is irrelevant: a 'keep' existing is still replaced
    existing_tool = mk("x", on_collision="keep")
    incoming_tool = mk("x", on_collision="throw")
    out = ToolRegistry.merge(
        [ToolRegistry([existing_tool]), ToolRegistry([incoming_tool])], on_collision="replace"
    )
    assert out.get("x") is incoming_tool
    with pytest.raises(E_TOOL_ALREADY_REGISTERED):
        ToolRegistry.merge([ToolRegistry([existing_tool]), ToolRegistry([incoming_tool])])


def test_merge_hidden_state_propagates_by_name() -> None:
    r1 = ToolRegistry([mk("a"), mk("b")])
    r1.hide("a", "ghost")
    r2 = ToolRegistry([mk("b", on_collision="replace"), mk("c")])
    r2.hide("b")
    r3 = ToolRegistry([mk("ghost")])
    out = ToolRegistry.merge([r1, r2, r3])
    # 'a' hidden from r1; 'b' hidden by r2 (its tool won); 'ghost' was hidden in r1 before a
    # tool of that name existed in the result, so the later r3 tool is visible
    assert names(out.hidden()) == ["a", "b"]
    assert names(out.visible()) == ["c", "ghost"]
    assert names(r1.hidden()) == ["a"] and names(r2.hidden()) == ["b"]


def test_merge_hidden_applies_to_survivor_from_other_registry() -> None:
    kept = mk("x")
    r1 = ToolRegistry([kept])
    r2 = ToolRegistry([mk("x", on_collision="keep")])
    r2.hide("x")
    out = ToolRegistry.merge([r1, r2])
    assert out.get("x") is kept and out.hidden() == [kept]


def test_merge_ephemeral_travels() -> None:
    out = ToolRegistry.merge([ToolRegistry([mk("e", ephemeral=True), mk("p")])])
    out.prune_ephemeral()
    assert names(out) == ["p"]


def test_merge_bad_arguments() -> None:
    with pytest.raises(E_INVALID_INITIAL_TOOL_VALUE):
        ToolRegistry.merge([ToolRegistry()], on_collision="merge")  # type: ignore[arg-type]
    with pytest.raises(E_INVALID_INITIAL_TOOL_VALUE):
        ToolRegistry.merge([[mk("a")]])  # type: ignore[list-item]
    assert len(ToolRegistry.merge([])) == 0
