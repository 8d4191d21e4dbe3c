"""``Message``: a user or assistant message (PRIMITIVES.md §5, ``message.ts``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Literal, cast

from adk.errors import E_INVALID_INITIAL_MESSAGE_VALUE, AdkError
from adk.primitives._base import (
    MISSING,
    Errors,
    Primitive,
    check_choice,
    check_datetime,
    check_str,
    force_setattr,
)
from adk.primitives._raw import snake_keys
from adk.primitives._text import check_text
from adk.primitives.identity import Identity, coerce_identity, role_identity
from adk.primitives.tokenizable import Tokenizable

__all__ = ["Message", "MessageRole"]

MessageRole = Literal["user", "assistant"]
_ROLES = ("user", "assistant")


def _is_media(value: object) -> bool:
    # Cross-copy guard by class name (PRIMITIVES.md §1.4); Media arrives with the conduits.
    return type(value).__name__ == "Media"


class Message(Primitive, frozen=True, kw_only=True, eq=False):
    """A user or assistant message. System and tool text never live in a Message.

    Construction validates every field and raises one error naming all bad fields.
    Instances are immutable and compare by identity.

    Attributes:
        id: Caller-supplied non-empty id.
        role: ``"user"`` or ``"assistant"``.
        content: The text (a ``str`` is wrapped in a Tokenizable), or ``None`` for an
            attachments-only message.
        attachments: Media attachments (a tuple; any sequence is accepted).
        identity: The speaker; defaults to an Identity of the role string. A ``str`` or a
            mapping is converted.
        created_at: Creation time (aware UTC ``datetime``; an ISO-8601 string or epoch
            milliseconds is converted).
        updated_at: Last update time (same forms).

    Raises:
        E_INVALID_INITIAL_MESSAGE_VALUE: a bad, missing or unknown field, or neither
            ``content`` nor a non-empty ``attachments``.
    """

    __adk_error__: ClassVar[type[AdkError]] = E_INVALID_INITIAL_MESSAGE_VALUE

    id: str
    role: MessageRole
    content: Tokenizable | None = None
    attachments: tuple[Any, ...] = ()
    identity: Identity = MISSING
    created_at: datetime
    updated_at: datetime

    if TYPE_CHECKING:

        def __init__(
            self,
            *,
            id: str,
            role: MessageRole,
            content: str | Tokenizable | None = None,
            attachments: Sequence[Any] = (),
            identity: str | Identity | Mapping[str, Any] | None = None,
            created_at: datetime | str | float,
            updated_at: datetime | str | float,
        ) -> None: ...

    def __post_init__(self) -> None:
        errors = Errors(type(self))
        check_str(self.id, "id", errors)
        role = check_choice(self.role, "role", _ROLES, errors)
        content: Any = self.content
        if content is not None:
            content = check_text(content, "content", errors)
        attachments: Any = self.attachments
        if type(attachments) is not tuple:
            if attachments is None:  # an explicit None is "absent" (PRIMITIVES.md §1.2)
                attachments = ()
            elif isinstance(attachments, Sequence) and not isinstance(attachments, str | bytes):
                attachments = tuple(cast("Sequence[Any]", attachments))
            else:
                errors.add("attachments", "must be a list of Media")
                attachments = ()
        if attachments:
            items: tuple[Any, ...] = attachments  # pyright: ignore[reportUnknownVariableType]
            for i, item in enumerate(items):
                if not _is_media(item):
                    errors.add(f"attachments[{i}]", "must be a Media")
        if content is None and not attachments:
            errors.add("content", "is required when there are no attachments")
        identity: Any = self.identity
        if identity is MISSING or identity is None:
            identity = role_identity(role) if role in _ROLES else identity
        else:
            identity = coerce_identity(identity, "identity", errors)
        created = check_datetime(self.created_at, "created_at", errors)
        updated = check_datetime(self.updated_at, "updated_at", errors)
        errors.raise_if_any()
        if content is not self.content:
            force_setattr(self, "content", content)
        if attachments is not self.attachments:
            force_setattr(self, "attachments", attachments)
        force_setattr(self, "identity", identity)
        if created is not self.created_at:
            force_setattr(self, "created_at", created)
        if updated is not self.updated_at:
            force_setattr(self, "updated_at", updated)

    @classmethod
    def from_raw(cls, raw: Mapping[str, Any]) -> Message:
        """Build from a snapshot mapping in camelCase (ADK) or snake_case keys.

        Raises:
            E_INVALID_INITIAL_MESSAGE_VALUE: as the constructor.
        """
        return cls(**snake_keys(raw, cls))

    def to_raw(self) -> dict[str, Any]:
        """The snapshot (snake_case) with live nested values.

        ``attachments`` is omitted when empty, as in the ADK.
        """
        raw: dict[str, Any] = {
            "id": self.id,
            "role": self.role,
            "content": self.content,
            "identity": self.identity,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }
        if self.attachments:
            raw["attachments"] = list(self.attachments)
        return raw
