"""``ToolRegistry``: the per-turn set of tools (PRIMITIVES.md §12, ``tool_registry.ts``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, Final, Protocol

from adk.errors import E_INVALID_INITIAL_TOOL_VALUE, E_TOOL_ALREADY_REGISTERED
from adk.primitives.tool import OnCollision, Tool

__all__ = ["AckContext", "ToolRegistry"]

_COLLISIONS: Final = ("throw", "replace", "keep")


class AckContext(Protocol):
    """What :meth:`ToolRegistry.bind_context` needs: a dispatch context's ``on_ack``."""

    def on_ack(self, handler: Callable[[], Any], /) -> Callable[[], Any]:
        """Run ``handler`` when the dispatch acks; returns an unsubscribe function."""
        ...


def _check_tool(value: object) -> Tool:
    if isinstance(value, Tool):
        return value
    raise E_INVALID_INITIAL_TOOL_VALUE(
        message=f"a ToolRegistry holds Tool instances, not {type(value).__name__}"
    )


class ToolRegistry:
    """A mutable, insertion-ordered ``name → Tool`` map with a registry-local hidden set.

    Hidden tools stay registered and callable through :meth:`get`; batteries render
    :meth:`visible` only. Ephemeral tools are pruned by :meth:`prune_ephemeral`, which
    :meth:`bind_context` runs when the dispatch acks (never on nack).

    Args:
        tools: Tools to register, in order; ``None`` for an empty registry.

    Raises:
        E_TOOL_ALREADY_REGISTERED: two of ``tools`` share a name.
        E_INVALID_INITIAL_TOOL_VALUE: an item of ``tools`` is not a Tool.
    """

    __slots__ = ("_hidden", "_tools")

    def __init__(self, tools: Iterable[Tool] | None = None) -> None:
        self._tools: dict[str, Tool] = {}
        self._hidden: set[str] = set()
        for t in tools or ():
            self.register(t)

    def register(self, tool: Tool, overwrite: bool = False) -> None:
        """Add ``tool`` under its name.

        Args:
            tool: The Tool.
            overwrite: Replace a tool of the same name; it keeps the original position.

        Raises:
            E_TOOL_ALREADY_REGISTERED: the name is taken and ``overwrite`` is false.
            E_INVALID_INITIAL_TOOL_VALUE: ``tool`` is not a Tool.
        """
        tool = _check_tool(tool)
        if tool.name in self._tools and not overwrite:
            raise E_TOOL_ALREADY_REGISTERED(repr(tool.name))
        self._tools[tool.name] = tool

    def unregister(self, name: str) -> None:
        """Remove the tool called ``name`` and its hidden mark; a no-op if absent."""
        self._tools.pop(name, None)
        self._hidden.discard(name)

    def get(self, name: str) -> Tool | None:
        """The tool called ``name`` (hidden or not), or ``None``."""
        return self._tools.get(name)

    def has(self, name: str) -> bool:
        """Whether a tool called ``name`` is registered (hidden or not)."""
        return name in self._tools

    def all(self) -> list[Tool]:
        """Every tool, hidden ones included, in insertion order (a new list)."""
        return list(self._tools.values())

    def visible(self) -> list[Tool]:
        """The tools that are not hidden, in insertion order."""
        hidden = self._hidden
        return [t for n, t in self._tools.items() if n not in hidden]

    def hidden(self) -> list[Tool]:
        """The registered tools that are hidden, in insertion order."""
        hidden = self._hidden
        return [t for n, t in self._tools.items() if n in hidden]

    def hide(self, *names: str) -> None:
        """Hide ``names``; names not (yet) registered are remembered too."""
        self._hidden.update(names)

    def unhide(self, *names: str) -> None:
        """Unhide ``names``."""
        self._hidden.difference_update(names)

    def set_hidden(self, *names: str) -> None:
        """Make ``names`` exactly the hidden set."""
        self._hidden = set(names)

    def clear_hidden(self) -> None:
        """Unhide everything."""
        self._hidden.clear()

    def prune_ephemeral(self) -> None:
        """Remove every ephemeral tool and its hidden mark; idempotent."""
        for name in [n for n, t in self._tools.items() if t.ephemeral]:
            del self._tools[name]
            self._hidden.discard(name)

    def bind_context(self, ctx: AckContext) -> Callable[[], Any]:
        """Prune ephemeral tools when ``ctx`` acks (not on nack).

        Args:
            ctx: A context with ``on_ack(handler) -> unsubscribe``.

        Returns:
            The unsubscribe function ``ctx.on_ack`` returned.
        """
        return ctx.on_ack(self.prune_ephemeral)

    @staticmethod
    def merge(
        registries: Iterable[ToolRegistry], on_collision: OnCollision = "throw"
    ) -> ToolRegistry:
        """A new registry combining ``registries`` left to right; the inputs are untouched.

        Tools are visited in insertion order. A new name is registered. On a name
        collision the **incoming** tool's own ``on_collision`` decides first:
        ``"replace"`` overwrites in place, ``"keep"`` keeps the existing tool; ``"throw"``
        defers to the ``on_collision`` argument (``"replace"``/``"keep"`` as above,
        ``"throw"`` raises). After each source, each name hidden in that source is hidden
        in the result if the result has a tool of that name (whichever source it came
        from). Event subscriptions are not copied; ``ephemeral`` travels with the Tool.

        Args:
            registries: The registries to merge, in precedence order.
            on_collision: The fallback policy, ``"throw"``, ``"replace"`` or ``"keep"``.

        Returns:
            The merged registry.

        Raises:
            E_TOOL_ALREADY_REGISTERED: a collision resolved to ``"throw"``.
            E_INVALID_INITIAL_TOOL_VALUE: ``on_collision`` is not a policy, or an item of
                ``registries`` is not a ToolRegistry.
        """
        if on_collision not in _COLLISIONS:
            raise E_INVALID_INITIAL_TOOL_VALUE(
                message="on_collision must be one of 'throw', 'replace', 'keep', "
                f"not {on_collision!r}"
            )
        out = ToolRegistry()
        tools = out._tools
        for source in registries:
            if not isinstance(source, ToolRegistry):  # pyright: ignore[reportUnnecessaryIsInstance]
                raise E_INVALID_INITIAL_TOOL_VALUE(
                    message=f"merge expects ToolRegistry instances, not {type(source).__name__}"
                )
            for name, incoming in source._tools.items():
                if name in tools:
                    policy = incoming.on_collision
                    if policy == "throw":
                        policy = on_collision
                    if policy == "keep":
                        continue
                    if policy == "throw":
                        raise E_TOOL_ALREADY_REGISTERED(repr(name))
                tools[name] = incoming
            out._hidden.update(n for n in source._hidden if n in tools)
        return out

    def __len__(self) -> int:
        return len(self._tools)

    def __iter__(self) -> Iterator[Tool]:
        """Iterate over every tool (hidden included) in insertion order."""
        return iter(list(self._tools.values()))

    def __contains__(self, item: object) -> bool:
        """``name in registry`` or ``tool in registry`` (the very Tool registered)."""
        if isinstance(item, str):
            return item in self._tools
        if isinstance(item, Tool):
            return self._tools.get(item.name) is item
        return False

    def __repr__(self) -> str:
        return f"ToolRegistry({list(self._tools)!r}, hidden={sorted(self._hidden)!r})"

    @staticmethod
    def is_tool_registry(value: object) -> bool:
        """Whether ``value`` is a ToolRegistry; by class name as fallback."""
        return isinstance(value, ToolRegistry) or type(value).__name__ == "ToolRegistry"
