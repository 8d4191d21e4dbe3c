"""``Identity``: who said something (PRIMITIVES.md §4, ``src/lib/classes/identity.ts``)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, cast

from adk.errors import E_INVALID_INITIAL_IDENTITY_VALUE, AdkError
from adk.primitives._base import MISSING, Errors, Primitive, force_setattr
from adk.primitives._raw import snake_keys
from adk.primitives._text import check_text
from adk.primitives.tokenizable import Tokenizable

__all__ = ["Identity", "coerce_identity", "role_identity"]


class Identity(Primitive, frozen=True, kw_only=True, eq=False):
    """The speaker of a message or thought.

    Attributes:
        identifier: System-facing id (non-empty ``str`` or finite number); never sent to
            the model.
        representation: What the model sees (a ``str`` is wrapped in a Tokenizable).

    Raises:
        E_INVALID_INITIAL_IDENTITY_VALUE: any bad, missing or unknown field (all named).
    """

    __adk_error__: ClassVar[type[AdkError]] = E_INVALID_INITIAL_IDENTITY_VALUE

    identifier: str | int | float
    representation: Tokenizable

    if TYPE_CHECKING:

        def __init__(
            self, *, identifier: str | int | float, representation: str | Tokenizable
        ) -> None: ...

    def __post_init__(self) -> None:
        errors = Errors(type(self))
        ident: Any = self.identifier
        if type(ident) is str:
            if not ident:
                errors.add("identifier", "must not be empty")
        elif isinstance(ident, int | float) and not isinstance(ident, bool):
            if isinstance(ident, float) and not math.isfinite(ident):  # ints are finite
                errors.add("identifier", "must be a finite number")
        elif ident is MISSING:
            errors.add("identifier", "is required")
        else:
            errors.add("identifier", "must be a non-empty string or a finite number")
        rep = check_text(self.representation, "representation", errors)
        errors.raise_if_any()
        if rep is not self.representation:
            force_setattr(self, "representation", rep)

    @classmethod
    def from_raw(cls, raw: Mapping[str, Any]) -> Identity:
        """Build from a snapshot mapping (``identifier``, ``representation``).

        Raises:
            E_INVALID_INITIAL_IDENTITY_VALUE: ``raw`` is not a mapping with string keys, or
                as the constructor.
        """
        return cls(**snake_keys(raw, cls))


def coerce_identity(value: Any, path: str, errors: Errors) -> Any:
    """``Identity.schema``: an Identity passes through; a ``str`` or mapping is built.

    A ``str`` ``s`` becomes ``Identity(identifier=s, representation=s)``. Errors of a
    nested mapping are reported under ``path``.
    """
    if isinstance(value, Identity):
        return value
    if type(value) is str and value:
        return Identity(identifier=value, representation=value)
    if isinstance(value, Mapping):
        mapping = cast("Mapping[Any, Any]", value)
        try:
            return Identity(**{str(k): v for k, v in mapping.items()})
        except AdkError as err:
            for d in err.details:
                errors.add(f"{path}.{d.path}", d.message)
            return mapping
    errors.add(path, "must be a non-empty string, a mapping or an Identity")
    return value


_PROTOTYPE = Identity(identifier="user", representation="user")


def role_identity(role: str) -> Identity:
    """A fresh Identity whose identifier and representation are ``role`` (trusted input).

    Skips validation: only for already validated, non-empty strings.
    """
    ident = _PROTOTYPE.__copy__()
    force_setattr(ident, "identifier", role)
    force_setattr(ident, "representation", Tokenizable(role))
    return ident
