"""``Thought``: an internal reasoning trace (PRIMITIVES.md §6, ``src/lib/classes/thought.ts``)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from adk.errors import E_INVALID_INITIAL_THOUGHT_VALUE, AdkError
from adk.primitives._base import (
    MISSING,
    Errors,
    Primitive,
    check_datetime,
    check_str,
    force_setattr,
)
from adk.primitives._raw import snake_keys
from adk.primitives._text import check_text_emptyable
from adk.primitives.identity import Identity, coerce_identity, role_identity
from adk.primitives.tokenizable import Tokenizable

__all__ = ["Thought", "check_replay"]


def check_replay(payload: Any, replay_compatibility: Any, errors: Errors) -> Any:
    """Validate ``replay_compatibility`` against ``payload`` (shared with ``ToolCall``).

    ``payload`` is vendor-opaque and accepts anything; ``None`` means "no payload". When a
    payload is present, ``replay_compatibility`` is required and must be a non-empty
    ``str``; without one it is optional (``None`` is absent).

    Args:
        payload: The record's payload (any value, ``None`` = absent).
        replay_compatibility: The adapter wire-shape tag, ``None``/:data:`MISSING` = absent.
        errors: The collector the problems are recorded in.

    Returns:
        The tag, or ``None`` when absent.
    """
    if replay_compatibility is None or replay_compatibility is MISSING:
        if payload is not None:
            errors.add("replay_compatibility", "is required when payload is set")
        return None
    return check_str(replay_compatibility, "replay_compatibility", errors)


class Thought(Primitive, frozen=True, kw_only=True, eq=False):
    """An internal reasoning trace of the assistant (never shown to end users).

    A thought is either *plain text* (no payload: ``content`` carries the prose) or
    *opaque* (a vendor ``payload`` such as a thinking signature or encrypted reasoning,
    tagged with ``replay_compatibility`` so that only a matching adapter replays it).
    Construction validates every field and raises one error naming all bad fields.
    Instances are immutable and compare by identity.

    Null rule (PRIMITIVES.md §1.2, our decision): an explicit ``None`` for ``content``,
    ``identity`` or ``replay_compatibility`` counts as absent (the ADK rejects ``null``
    there); ``payload=None`` means "no payload", as in the ADK.

    Attributes:
        id: Caller-supplied non-empty id.
        content: The prose, always a Tokenizable. A ``str`` is wrapped; ``""`` is allowed
            only with a payload; omitted in opaque mode it is an empty Tokenizable. Any
            Tokenizable instance, even an empty one, counts as present (a dynamic one
            cannot be measured without evaluating it).
        identity: The thinker; defaults to an Identity of ``"assistant"``. A ``str`` or a
            mapping is converted.
        payload: Vendor-opaque replay blob (any value), or ``None``.
        replay_compatibility: Non-empty adapter wire-shape tag (e.g. ``"plain-text"``);
            required when ``payload`` is not ``None``, else ``None`` when not given.
        created_at: Creation time (aware UTC ``datetime``; an ISO-8601 string or epoch
            milliseconds is converted; naive values are taken as UTC).
        updated_at: Last update time (same forms).

    Raises:
        E_INVALID_INITIAL_THOUGHT_VALUE: a bad, missing or unknown field; a payload
            without ``replay_compatibility``; or no payload and no non-empty content.
    """

    __adk_error__: ClassVar[type[AdkError]] = E_INVALID_INITIAL_THOUGHT_VALUE

    id: str
    content: Tokenizable = MISSING
    identity: Identity = MISSING
    payload: Any = None
    replay_compatibility: str | None = None
    created_at: datetime
    updated_at: datetime

    if TYPE_CHECKING:

        def __init__(
            self,
            *,
            id: str,
            content: str | Tokenizable | None = None,
            identity: str | Identity | Mapping[str, Any] | None = None,
            payload: Any = None,
            replay_compatibility: str | None = None,
            created_at: datetime | str | float,
            updated_at: datetime | str | float,
        ) -> None: ...

    def __post_init__(self) -> None:
        errors = Errors(type(self))
        check_str(self.id, "id", errors)
        payload: Any = self.payload
        content: Any = self.content
        if content is MISSING or content is None:
            content = None
            if payload is None:
                errors.add("content", "is required when there is no payload")
        elif type(content) is str and not content and payload is None:
            errors.add("content", "must not be empty when there is no payload")
        else:
            content = check_text_emptyable(content, "content", errors)
        replay = check_replay(payload, self.replay_compatibility, errors)
        identity: Any = self.identity
        if identity is MISSING or identity is None:
            identity = role_identity("assistant")
        else:
            identity = coerce_identity(identity, "identity", errors)
        created = check_datetime(self.created_at, "created_at", errors)
        updated = check_datetime(self.updated_at, "updated_at", errors)
        errors.raise_if_any()
        if content is None:
            force_setattr(self, "content", Tokenizable(""))
        elif content is not self.content:
            force_setattr(self, "content", content)
        if replay is not self.replay_compatibility:
            force_setattr(self, "replay_compatibility", replay)
        force_setattr(self, "identity", identity)
        if created is not self.created_at:
            force_setattr(self, "created_at", created)
        if updated is not self.updated_at:
            force_setattr(self, "updated_at", updated)

    @classmethod
    def from_raw(cls, raw: Mapping[str, Any]) -> Thought:
        """Build from a snapshot mapping in camelCase (ADK) or snake_case keys.

        Args:
            raw: ``{"id", "content", "identity", "payload", "replayCompatibility",
                "createdAt", "updatedAt"}`` (snake_case keys work too).

        Raises:
            E_INVALID_INITIAL_THOUGHT_VALUE: ``raw`` is not a mapping with string keys, or
                as the constructor.
        """
        return cls(**snake_keys(raw, cls))

    def to_raw(self) -> dict[str, Any]:
        """The snapshot (snake_case keys) with live nested values.

        ``payload`` and ``replay_compatibility`` are omitted when ``None`` (PRIMITIVES.md
        §1.7: absent optional values are left out).
        """
        raw: dict[str, Any] = {
            "id": self.id,
            "content": self.content,
            "identity": self.identity,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }
        if self.payload is not None:
            raw["payload"] = self.payload
        if self.replay_compatibility is not None:
            raw["replay_compatibility"] = self.replay_compatibility
        return raw
