"""``Registry``: a key/value store with dotted paths and copy-in/copy-out isolation.

Source: ``src/lib/classes/registry.ts`` of @nhtio/adk (PRIMITIVES.md §13, RUNNERS.md §7).
Used for ``Tool.meta``, ``Media.stash`` and the dispatch/turn ``stash``.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from typing import Any, Final, cast

from adk.errors import E_INVALID_INITIAL_REGISTRY_VALUE

__all__ = ["Registry"]

_UNDEFINED: Final[Any] = object()
_FORBIDDEN: Final[frozenset[str]] = frozenset({"__proto__", "constructor", "prototype"})

JsonDict = dict[str, Any]
JsonList = list[Any]


def _copy(value: Any) -> Any:
    t = value.__class__  # (no typing.cast here: it is a runtime call on a hot path)
    if t is str or t is int or t is float or t is bool or value is None:
        return value
    if t is dict:
        return {k: _copy(v) for k, v in value.items()}
    if t is list:
        return [_copy(v) for v in value]
    return copy.deepcopy(value)


class Registry:
    """A mutable store of JSON-like values addressed by dotted paths (``"a.b.c"``).

    Values are deep-copied on ``set`` and on every read, so neither side can change the
    other's data (the ADK promises this; its code only copies on read — we copy on
    ``set`` too, PORT.md §5). ``delete`` is ours.

    Args:
        initial: ``None`` or a mapping with string keys; deep-copied.

    Raises:
        E_INVALID_INITIAL_REGISTRY_VALUE: ``initial`` is not ``None`` or a mapping.
    """

    __slots__ = ("_data",)

    def __init__(self, initial: Mapping[str, Any] | None = None) -> None:
        source = cast(object, initial)
        if source is None:
            self._data: JsonDict = {}
        elif isinstance(source, Mapping):
            items = cast(Mapping[Any, Any], source).items()
            self._data = {str(k): _copy(v) for k, v in items}
        else:
            raise E_INVALID_INITIAL_REGISTRY_VALUE(
                message="the registry's initial value must be a mapping or None, "
                f"not {type(source).__name__}"
            )

    def _resolve(self, key: str) -> Any:
        if "." not in key:
            return self._data.get(key, _UNDEFINED)
        node: Any = self._data
        for part in key.split("."):
            if type(node) is dict:
                node = cast(JsonDict, node).get(part, _UNDEFINED)
            elif type(node) is list and part.isdigit():
                lst = cast(JsonList, node)
                idx = int(part)
                node = lst[idx] if idx < len(lst) else _UNDEFINED
            else:
                return _UNDEFINED
            if node is _UNDEFINED:
                return _UNDEFINED
        return node

    def get(self, key: str, default: Any = None) -> Any:
        """A deep copy of the value at ``key``, or ``default`` if the path is missing.

        A stored ``None`` is returned as ``None``, not ``default``.
        """
        value = self._resolve(key)
        return default if value is _UNDEFINED else _copy(value)

    def set(self, key: str, value: Any) -> None:
        """Store a deep copy of ``value`` at ``key``, creating intermediate objects.

        Path segments ``__proto__``, ``constructor`` and ``prototype`` are ignored
        (writing through them is a no-op), as in the ADK. Numeric segments index lists
        (padding with ``None``); a missing container is created as a list when the next
        segment is numeric, else as a dict, and a scalar in the way is replaced. A
        non-numeric segment addressing a list is a no-op (Python lists have no named
        properties).

        Args:
            key: A dotted path such as ``"a.b"`` or ``"items.0.name"``.
            value: Any value; a deep copy is stored.
        """
        parts = key.split(".")
        if any(p in _FORBIDDEN for p in parts):
            return
        node: Any = self._data
        for i, part in enumerate(parts[:-1]):
            fresh: JsonDict | JsonList = [] if parts[i + 1].isdigit() else {}
            nxt: Any
            if type(node) is list:
                if not part.isdigit():
                    return
                lst = cast(JsonList, node)
                idx = int(part)
                _pad(lst, idx)
                nxt = lst[idx]
                if type(nxt) is not dict and type(nxt) is not list:
                    lst[idx] = nxt = fresh
            else:
                mapping = cast(JsonDict, node)
                nxt = mapping.get(part)
                if type(nxt) is not dict and type(nxt) is not list:
                    mapping[part] = nxt = fresh
            node = cast(Any, nxt)
        last = parts[-1]
        if type(node) is list:
            if not last.isdigit():
                return
            lst = cast(JsonList, node)
            idx = int(last)
            _pad(lst, idx)
            lst[idx] = _copy(value)
        else:
            cast(JsonDict, node)[last] = _copy(value)

    def has(self, key: str) -> bool:
        """Whether ``key`` resolves to a value (a stored ``None`` counts)."""
        return self._resolve(key) is not _UNDEFINED

    def delete(self, key: str) -> bool:
        """Remove the value at ``key``; returns whether something was removed (ours)."""
        head, _, last = key.rpartition(".")
        parent: Any = self._resolve(head) if head else self._data
        if type(parent) is dict and last in parent:
            del cast(JsonDict, parent)[last]
            return True
        return False

    def keys(self) -> list[str]:
        """Every leaf dotted path; only dicts are descended (lists and objects are leaves)."""
        return list(_leaves(self._data, ""))

    def all(self) -> dict[str, Any]:
        """A deep copy of the whole store."""
        return _copy(self._data)

    def copy(self) -> Registry:
        """An independent Registry with a deep copy of this one's values (ours)."""
        clone = Registry.__new__(Registry)
        clone._data = _copy(self._data)
        return clone

    def __repr__(self) -> str:
        return f"Registry({self._data!r})"

    @staticmethod
    def is_registry(value: object) -> bool:
        """Whether ``value`` is a Registry."""
        return isinstance(value, Registry) or type(value).__name__ == "Registry"


def _pad(lst: JsonList, idx: int) -> None:
    while len(lst) <= idx:
        lst.append(None)


def _leaves(node: JsonDict, prefix: str) -> Iterator[str]:
    for k, v in node.items():
        path = f"{prefix}{k}"
        if type(v) is dict and v:
            yield from _leaves(cast(JsonDict, v), path + ".")
        else:
            yield path
