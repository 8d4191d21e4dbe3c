"""``Memory``: a remembered fact (PRIMITIVES.md §7, ``src/lib/classes/memory.ts``)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from adk.errors import E_INVALID_INITIAL_MEMORY_VALUE, AdkError
from adk.primitives._base import (
    Errors,
    Primitive,
    check_datetime,
    check_str,
    check_unit,
    force_setattr,
)
from adk.primitives._raw import snake_keys
from adk.primitives._text import check_text
from adk.primitives.tokenizable import Tokenizable

__all__ = ["Memory"]


class Memory(Primitive, frozen=True, kw_only=True, eq=False):
    """A long-term memory with its confidence and importance.

    Construction validates every field and raises one error naming all bad fields.
    Instances are immutable and compare by identity. Every field is required, so the
    null rule of the other records (``None`` = absent) never applies: ``None`` is
    rejected like any other wrong type.

    Attributes:
        id: Caller-supplied non-empty id.
        content: The remembered text (a non-empty ``str`` is wrapped in a Tokenizable).
        confidence: How sure the producer is, a finite number in ``[0, 1]`` (inclusive).
            A numeric string is converted (``"0.5"`` → ``0.5``); ``bool`` is rejected.
        importance: How much it matters, same rules as ``confidence``.
        created_at: Creation time (aware UTC ``datetime``; an ISO-8601 string or epoch
            milliseconds is converted; naive values are taken as UTC).
        updated_at: Last update time (same forms).

    Raises:
        E_INVALID_INITIAL_MEMORY_VALUE: a bad, missing or unknown field (all named).
    """

    __adk_error__: ClassVar[type[AdkError]] = E_INVALID_INITIAL_MEMORY_VALUE

    id: str
    content: Tokenizable
    confidence: float
    importance: float
    created_at: datetime
    updated_at: datetime

    if TYPE_CHECKING:

        def __init__(
            self,
            *,
            id: str,
            content: str | Tokenizable,
            confidence: float | str,
            importance: float | str,
            created_at: datetime | str | float,
            updated_at: datetime | str | float,
        ) -> None: ...

    def __post_init__(self) -> None:
        errors = Errors(type(self))
        check_str(self.id, "id", errors)
        content = check_text(self.content, "content", errors)
        confidence = check_unit(self.confidence, "confidence", errors)
        importance = check_unit(self.importance, "importance", errors)
        created = check_datetime(self.created_at, "created_at", errors)
        updated = check_datetime(self.updated_at, "updated_at", errors)
        errors.raise_if_any()
        if content is not self.content:
            force_setattr(self, "content", content)
        if confidence is not self.confidence:
            force_setattr(self, "confidence", confidence)
        if importance is not self.importance:
            force_setattr(self, "importance", importance)
        if created is not self.created_at:
            force_setattr(self, "created_at", created)
        if updated is not self.updated_at:
            force_setattr(self, "updated_at", updated)

    @classmethod
    def from_raw(cls, raw: Mapping[str, Any]) -> Memory:
        """Build from a snapshot mapping in camelCase (ADK) or snake_case keys.

        Args:
            raw: ``{"id", "content", "confidence", "importance", "createdAt",
                "updatedAt"}`` (snake_case keys work too).

        Raises:
            E_INVALID_INITIAL_MEMORY_VALUE: ``raw`` is not a mapping with string keys, or
                as the constructor.
        """
        return cls(**snake_keys(raw, cls))

    def to_raw(self) -> dict[str, Any]:
        """The snapshot (snake_case keys) with live nested values.

        The ADK version read has no Memory snapshot; this one mirrors its siblings
        (PRIMITIVES.md §7).
        """
        return {
            "id": self.id,
            "content": self.content,
            "confidence": self.confidence,
            "importance": self.importance,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }
