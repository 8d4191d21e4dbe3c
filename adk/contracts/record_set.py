"""``RecordSet``: the insertion-ordered, identity-keyed set behind ``ctx.turn_*``.

The ADK keeps turn records in JavaScript ``Set`` objects: insertion-ordered and keyed by
object identity (primitives define no value equality). ``RecordSet`` is that, over a
``dict`` (PORT.md §6).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Generic, TypeVar

__all__ = ["RecordSet"]

T = TypeVar("T")


class RecordSet(Generic[T]):
    """An insertion-ordered set of records, keyed by identity.

    Supports ``add``, ``discard``, ``clear``, iteration, ``len`` and ``in``. Adding a
    record that is already present keeps its position.

    Args:
        items: Initial records, in order.
    """

    __slots__ = ("_items",)

    def __init__(self, items: Iterable[T] = ()) -> None:
        self._items: dict[T, None] = dict.fromkeys(items) if items else {}

    def add(self, item: T) -> None:
        """Append ``item`` unless it is already present."""
        self._items[item] = None

    def discard(self, item: T) -> None:
        """Remove ``item`` if present."""
        self._items.pop(item, None)

    def clear(self) -> None:
        """Remove every record."""
        self._items.clear()

    def copy(self) -> RecordSet[T]:
        """A new set with the same records in the same order (records are shared)."""
        clone: RecordSet[T] = RecordSet.__new__(RecordSet)  # pyright: ignore[reportUnknownVariableType]
        clone._items = self._items.copy()
        return clone

    def _replace(self, items: Iterable[T]) -> None:
        self._items = dict.fromkeys(items)

    def __iter__(self) -> Iterator[T]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, item: object) -> bool:
        try:
            return item in self._items
        except TypeError:  # unhashable
            return False

    def __bool__(self) -> bool:
        return bool(self._items)

    def __repr__(self) -> str:
        return f"RecordSet({list(self._items)!r})"
