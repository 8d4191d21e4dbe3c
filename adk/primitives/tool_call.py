"""``ToolCall``: a completed tool invocation (PRIMITIVES.md §9, ``tool_call.ts``)."""

from __future__ import annotations

import copy
import functools
from collections.abc import Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, TypeAlias, cast

import msgspec

from adk.errors import E_INVALID_INITIAL_TOOL_CALL_VALUE, AdkError
from adk.primitives._base import (
    MISSING,
    Errors,
    Primitive,
    check_bool,
    check_datetime,
    check_str,
    force_setattr,
)
from adk.primitives._raw import snake_keys
from adk.primitives.thought import check_replay
from adk.primitives.tokenizable import Tokenizable

__all__ = ["ToolCall", "ToolCallResults"]


ToolCallResults: TypeAlias = "Tokenizable | tuple[Any, ...] | Any"
"""What a ToolCall's ``results`` holds: exactly one of

* a :class:`Tokenizable` (an ArtifactTool answer or error text, always rendered inline);
* a ``SpooledArtifact`` (text output spooled to storage; handle or body per ``inline``);
* a non-empty tuple of only ``SpooledArtifact``;
* a ``Media`` (binary modality output rendered as provider content blocks);
* a non-empty tuple of only ``Media``.

``Any`` stands for ``SpooledArtifact`` and ``Media`` until those classes exist. Until
then a spooled artifact is recognised by its class having callable ``head``, ``tail``,
``grep``, ``cat``, ``byte_length``, ``line_count`` and ``estimate_tokens``, and a Media by
its class name.
"""

_ARTIFACT_METHODS = ("head", "tail", "grep", "cat", "byte_length", "line_count")


@functools.lru_cache(maxsize=128)
def _is_artifact_class(cls: type) -> bool:
    return all(callable(getattr(cls, m, None)) for m in (*_ARTIFACT_METHODS, "estimate_tokens"))


def _is_artifact(value: object) -> bool:
    return _is_artifact_class(type(value))


def _is_media(value: object) -> bool:
    # Cross-copy guard by class name (PRIMITIVES.md §1.4); Media arrives with the conduits.
    return type(value).__name__ == "Media"


def _check_results(value: object, errors: Errors) -> object:
    if isinstance(value, Tokenizable) or _is_media(value) or _is_artifact(value):
        return value
    kind: type[object] = type(value)
    if kind is list or kind is tuple:
        items = tuple(cast("list[Any]", value))
        if not items:
            errors.add("results", "must not be an empty list")
        elif all(_is_artifact(v) for v in items) or all(_is_media(v) for v in items):
            return items
        else:
            errors.add("results", "must be a list of only SpooledArtifacts or only Media")
    elif kind is str:
        errors.add("results", "must not be a bare string (wrap text in a Tokenizable)")
    elif value is MISSING:
        errors.add("results", "is required")
    else:
        errors.add(
            "results",
            "must be a Tokenizable, a SpooledArtifact, a Media or a non-empty list of "
            f"SpooledArtifacts or of Media, not {kind.__name__}",
        )
    return value


_ATOMS: frozenset[type] = frozenset({str, int, float, bool, type(None)})


def _deep_copy(value: object) -> Any:
    """Copy JSON-like containers recursively, share immutable atoms, deep-copy the rest."""
    t: type[object] = type(value)
    if t in _ATOMS:
        return value
    if t is dict or isinstance(value, Mapping):
        m: Mapping[Any, Any] = value  # pyright: ignore[reportAssignmentType, reportUnknownVariableType]
        return {k: v if type(v) in _ATOMS else _deep_copy(v) for k, v in m.items()}
    if t is list or t is tuple:
        items: list[Any] = value  # type: ignore[assignment]
        seq = [v if type(v) in _ATOMS else _deep_copy(v) for v in items]
        return seq if t is list else tuple(seq)
    return copy.deepcopy(value)


def _check_args(value: Any, errors: Errors) -> Any:
    if type(value) is str:
        try:
            parsed: object = msgspec.json.decode(value)
        except (ValueError, RecursionError) as exc:  # DecodeError, lone surrogates, depth
            errors.add("args", f"must be a JSON object string ({exc})")
            return value
        if type(parsed) is not dict:
            errors.add("args", f"must be a JSON object, not {type(parsed).__name__}")
            return value
        # Freshly parsed: nothing to copy.
        return MappingProxyType(cast("dict[str, Any]", parsed))
    given: object = value  # returned unchanged on failure
    if type(value) is dict or isinstance(value, Mapping):
        out: dict[object, object] = {}
        try:
            out.update(value)  # pyright: ignore[reportUnknownArgumentType]
            for k, v in out.items():
                if type(k) is not str:
                    errors.add("args", "must have string keys")
                    return given
                if type(v) not in _ATOMS:  # atoms are shared; everything else is copied
                    out[k] = _deep_copy(v)  # same key: the dict does not resize
        except Exception as exc:  # a broken mapping, an uncopyable value, or a cycle
            errors.add("args", f"must be a copyable mapping ({type(exc).__name__}: {exc})")
            return given
        return MappingProxyType(out)
    if value is MISSING:
        errors.add("args", "is required")
    else:
        errors.add("args", f"must be a mapping or a JSON object string, not {type(value).__name__}")
    return value


def _opt_bool(value: Any, path: str, errors: Errors) -> Any:
    if value is False or value is True:
        return value
    return False if value is None else check_bool(value, path, errors)


class ToolCall(Primitive, frozen=True, kw_only=True, eq=False):
    """The immutable record of a completed tool invocation.

    Construction validates every field and raises one error naming all bad fields.
    Instances are immutable and compare by identity.

    Null rule (PRIMITIVES.md §1.2, our decision): an explicit ``None`` for
    ``replay_compatibility``, ``from_artifact_tool`` or ``inline`` counts as absent (the
    ADK rejects ``null`` there); ``payload=None`` means "no payload", as in the ADK.

    Attributes:
        id: Caller-supplied non-empty id; correlates request and result and is the
            ``callId`` of the artifact-query tools.
        tool: The non-empty tool name.
        args: The arguments: given as a mapping with string keys or as a JSON string that
            parses to an object (not an array, scalar or ``null``). Stored as a read-only
            ``MappingProxyType`` over a private deep copy (containers are copied, other
            values ``copy.deepcopy``'d), so neither the caller nor a reader can change
            the record; nested containers are private copies, not frozen, and must not
            be mutated.
        checksum: Non-empty producer checksum (``tool_call_checksum(tool, args)``), stored
            verbatim: never recomputed or checked.
        is_complete: Whether the call finished. ``"true"``/``"false"`` are converted.
        is_error: Whether ``results`` describes a failure (same conversion).
        results: A :data:`ToolCallResults`; a list is stored as a tuple. A bare ``str``,
            an empty list or a list mixing kinds is rejected.
        payload: Vendor-opaque replay blob (any value), or ``None``.
        replay_compatibility: Non-empty adapter wire-shape tag; required when ``payload``
            is not ``None``, else ``None`` when not given.
        from_artifact_tool: Set when produced by an ArtifactTool (default ``False``).
        inline: ``False`` (default) renders a spooled result as a handle; ``True`` inlines
            its body.
        created_at: Creation time (aware UTC ``datetime``; an ISO-8601 string or epoch
            milliseconds is converted; naive values are taken as UTC).
        updated_at: Last update time (same forms).
        completed_at: Completion time (same forms).

    Raises:
        E_INVALID_INITIAL_TOOL_CALL_VALUE: a bad, missing or unknown field (all named), or
            a payload without ``replay_compatibility``.
    """

    __adk_error__: ClassVar[type[AdkError]] = E_INVALID_INITIAL_TOOL_CALL_VALUE

    id: str
    tool: str
    args: Mapping[str, Any]
    checksum: str
    is_complete: bool
    is_error: bool
    results: ToolCallResults
    payload: Any = None
    replay_compatibility: str | None = None
    from_artifact_tool: bool = False
    inline: bool = False
    created_at: datetime
    updated_at: datetime
    completed_at: datetime

    if TYPE_CHECKING:

        def __init__(
            self,
            *,
            id: str,
            tool: str,
            args: Mapping[str, Any] | str,
            checksum: str,
            is_complete: bool,
            is_error: bool,
            results: ToolCallResults | list[Any],
            payload: Any = None,
            replay_compatibility: str | None = None,
            from_artifact_tool: bool | None = False,
            inline: bool | None = False,
            created_at: datetime | str | float,
            updated_at: datetime | str | float,
            completed_at: datetime | str | float,
        ) -> None: ...

    def __post_init__(self) -> None:
        # Hot path: each field is tested inline for its common valid form first and only
        # goes through the collecting check when that fails.
        errors = Errors(type(self))
        v: Any = self.id
        if type(v) is not str or not v:
            check_str(v, "id", errors)
        v = self.tool
        if type(v) is not str or not v:
            check_str(v, "tool", errors)
        args = _check_args(self.args, errors)
        v = self.checksum
        if type(v) is not str or not v:
            check_str(v, "checksum", errors)
        is_complete: Any = self.is_complete
        if is_complete is not True and is_complete is not False:
            is_complete = check_bool(is_complete, "is_complete", errors)
        is_error: Any = self.is_error
        if is_error is not True and is_error is not False:
            is_error = check_bool(is_error, "is_error", errors)
        results: Any = self.results
        if not isinstance(results, Tokenizable):
            results = _check_results(results, errors)
        replay: Any = self.replay_compatibility
        if self.payload is not None or replay is not None:
            replay = check_replay(self.payload, replay, errors)
        from_artifact: Any = self.from_artifact_tool
        if from_artifact is not False and from_artifact is not True:
            from_artifact = _opt_bool(from_artifact, "from_artifact_tool", errors)
        inline: Any = self.inline
        if inline is not False and inline is not True:
            inline = _opt_bool(inline, "inline", errors)
        created: Any = self.created_at
        if type(created) is not datetime or created.tzinfo is not UTC:
            created = check_datetime(created, "created_at", errors)
        updated: Any = self.updated_at
        if type(updated) is not datetime or updated.tzinfo is not UTC:
            updated = check_datetime(updated, "updated_at", errors)
        completed: Any = self.completed_at
        if type(completed) is not datetime or completed.tzinfo is not UTC:
            completed = check_datetime(completed, "completed_at", errors)
        if errors.items:
            errors.raise_if_any()
        force_setattr(self, "args", args)
        if is_complete is not self.is_complete:
            force_setattr(self, "is_complete", is_complete)
        if is_error is not self.is_error:
            force_setattr(self, "is_error", is_error)
        if results is not self.results:
            force_setattr(self, "results", results)
        if replay is not self.replay_compatibility:
            force_setattr(self, "replay_compatibility", replay)
        if from_artifact is not self.from_artifact_tool:
            force_setattr(self, "from_artifact_tool", from_artifact)
        if inline is not self.inline:
            force_setattr(self, "inline", inline)
        if created is not self.created_at:
            force_setattr(self, "created_at", created)
        if updated is not self.updated_at:
            force_setattr(self, "updated_at", updated)
        if completed is not self.completed_at:
            force_setattr(self, "completed_at", completed)

    @classmethod
    def from_raw(cls, raw: Mapping[str, Any]) -> ToolCall:
        """Build from a snapshot mapping in camelCase (ADK) or snake_case keys.

        Args:
            raw: ``{"id", "tool", "args", "checksum", "isComplete", "isError", "results",
                "payload", "replayCompatibility", "fromArtifactTool", "inline",
                "createdAt", "updatedAt", "completedAt"}`` (snake_case keys work too).

        Raises:
            E_INVALID_INITIAL_TOOL_CALL_VALUE: ``raw`` is not a mapping with string keys,
                or as the constructor.
        """
        return cls(**snake_keys(raw, cls))

    def to_raw(self) -> dict[str, Any]:
        """The snapshot (snake_case keys).

        ``args`` is a fresh deep-copied ``dict`` (the caller may change it), a tuple of
        results becomes a ``list``; other nested values are live. ``payload`` and
        ``replay_compatibility`` are omitted when ``None`` (PRIMITIVES.md §1.7).
        """
        return self._snapshot(copy_args=True)

    def _snapshot(self, *, copy_args: bool) -> dict[str, Any]:
        # ``copy_args=False`` (the codec, which encodes the snapshot at once) shares the
        # read-only ``args`` mapping instead of deep-copying it.
        results: Any = self.results
        raw: dict[str, Any] = {
            "id": self.id,
            "tool": self.tool,
            "args": _deep_copy(self.args) if copy_args else self.args,
            "checksum": self.checksum,
            "is_complete": self.is_complete,
            "is_error": self.is_error,
            "results": list(results) if type(results) is tuple else results,  # pyright: ignore[reportUnknownArgumentType]
            "from_artifact_tool": self.from_artifact_tool,
            "inline": self.inline,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "completed_at": self.completed_at,
        }
        if self.payload is not None:
            raw["payload"] = self.payload
        if self.replay_compatibility is not None:
            raw["replay_compatibility"] = self.replay_compatibility
        return raw
