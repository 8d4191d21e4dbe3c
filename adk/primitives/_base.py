"""Shared machinery of the validated, immutable primitives.

Every data primitive is a frozen msgspec ``Struct`` (``kw_only``, identity equality) whose
``__post_init__`` validates and normalises its fields and raises the class's
``E_INVALID_INITIAL_<X>_VALUE`` naming every bad field. The metaclass turns msgspec's own
``TypeError`` for a missing or unknown keyword into that same error (PORT.md §9.1): it
rebuilds the call with :data:`MISSING` for absent required fields, drops unknown ones, and
lets ``__post_init__`` collect every problem at once.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Final, NoReturn, cast

import msgspec
from msgspec.structs import force_setattr

from adk.errors import AdkError, FieldError

__all__ = [
    "MISSING",
    "Errors",
    "Primitive",
    "PrimitiveMeta",
    "force_setattr",
]


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Final[Any] = _Missing()
"""Stands for a required field the caller did not pass (only seen inside validation)."""

_struct_call = msgspec.StructMeta.__call__


class PrimitiveMeta(msgspec.StructMeta):
    """Metaclass turning msgspec's keyword ``TypeError`` into the class's AdkError."""

    def __call__(cls, /, *args: Any, **kwargs: Any) -> Any:
        try:
            return _struct_call(cls, *args, **kwargs)
        except TypeError as exc:
            original = exc
        errors = Errors(cls)  # type: ignore[arg-type]
        if args:
            errors.add("*", f"{cls.__name__} takes keyword arguments only")
        infos = msgspec.structs.fields(cls)  # type: ignore[arg-type]
        names = {f.name for f in infos}
        for k in kwargs:
            if k not in names:
                errors.add(k, "is not a known field")
        known = {k: v for k, v in kwargs.items() if k in names}
        for f in infos:
            if f.required and f.name not in known:
                known[f.name] = MISSING
        try:
            _struct_call(cls, **known)
        except AdkError as err:
            errors.extend(err.details)
        except TypeError:
            pass
        if not errors.items:
            raise original
        errors.raise_if_any()
        raise original  # pragma: no cover


class Primitive(msgspec.Struct, metaclass=PrimitiveMeta, frozen=True, kw_only=True, eq=False):
    """Base of the validated primitives (frozen, keyword-only, identity equality)."""

    __adk_error__: ClassVar[type[AdkError]] = AdkError

    @classmethod
    def _fail(cls, errors: list[FieldError]) -> NoReturn:
        err_cls = cls.__adk_error__
        raise err_cls(
            message=f"{err_cls.template}: " + "; ".join(map(str, errors)),
            details=errors,
        )


class Errors:
    """Collects the bad fields of one validation and raises them together."""

    __slots__ = ("cls", "items")

    def __init__(self, cls: type[Primitive]) -> None:
        self.cls = cls
        self.items: list[FieldError] = []

    def add(self, path: str, message: str) -> None:
        """Record one bad field."""
        self.items.append(FieldError(path, message))

    def extend(self, items: tuple[FieldError, ...]) -> None:
        """Record several bad fields."""
        self.items.extend(items)

    def raise_if_any(self) -> None:
        """Raise the class's error if anything was recorded."""
        if self.items:
            self.cls._fail(self.items)


# --- field checks ----------------------------------------------------------------------
# Each check returns the normalised value, or records an error and returns the input.


def check_str(value: Any, path: str, errors: Errors) -> Any:
    """A required non-empty ``str`` (PRIMITIVES.md §1.2: empty strings are rejected)."""
    if type(value) is str and value:
        return value
    if value is MISSING:
        errors.add(path, "is required")
    elif isinstance(value, str):
        errors.add(path, "must not be empty")
    else:
        errors.add(path, f"must be a string, not {type(value).__name__}")
    return value


def check_opt_str(value: Any, path: str, errors: Errors) -> Any:
    """An optional non-empty ``str``; ``None`` means absent."""
    if value is None:
        return None
    return check_str(value, path, errors)


def check_bool(value: Any, path: str, errors: Errors) -> Any:
    """A ``bool``; the strings ``"true"``/``"false"`` are converted (constructors convert)."""
    if value is True or value is False:
        return value
    if value == "true":
        return True
    if value == "false":
        return False
    if value is MISSING:
        errors.add(path, "is required")
    else:
        errors.add(path, f"must be a boolean, not {type(value).__name__}")
    return value


def check_unit(value: Any, path: str, errors: Errors) -> Any:
    """A finite number in ``[0, 1]``; numeric strings are converted (``"0.5"`` → 0.5)."""
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            errors.add(path, "must be a number between 0 and 1")
            return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        if value is MISSING:
            errors.add(path, "is required")
        else:
            errors.add(path, f"must be a number, not {type(value).__name__}")
        return value
    if isinstance(value, float) and not math.isfinite(value):  # ints are finite
        errors.add(path, "must be a finite number")
    elif not 0 <= value <= 1:
        errors.add(path, "must be between 0 and 1 inclusive")
    return value


def check_choice(value: Any, path: str, choices: tuple[str, ...], errors: Errors) -> Any:
    """One of a closed set of strings."""
    if type(value) is str and value in choices:
        return value
    if value is MISSING:
        errors.add(path, "is required")
    else:
        errors.add(path, "must be one of " + ", ".join(repr(c) for c in choices))
    return value


def check_datetime(value: Any, path: str, errors: Errors) -> Any:
    """A timestamp: aware ``datetime``, ISO-8601 ``str`` or epoch milliseconds.

    Naive datetimes (and ISO strings without an offset) are taken as UTC; other offsets
    are converted. The result is an aware UTC ``datetime`` (PORT.md §3, §5).
    """
    if isinstance(value, datetime):
        tz = value.tzinfo
        if tz is UTC:
            return value
        if tz is None:
            return value.replace(tzinfo=UTC)
        return _to_utc(value, path, errors)
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            errors.add(path, "must be an ISO-8601 timestamp")
            return value
        if parsed.tzinfo is None:
            return parsed.replace(tzinfo=UTC)
        return _to_utc(parsed, path, errors)
    if isinstance(value, int | float) and not isinstance(value, bool):
        if isinstance(value, float) and not math.isfinite(value):
            errors.add(path, "must be a finite number of epoch milliseconds")
            return value
        try:
            return datetime.fromtimestamp(value / 1000, tz=UTC)
        except (OverflowError, OSError, ValueError):
            errors.add(path, "is out of range")
            return value
    if value is MISSING:
        errors.add(path, "is required")
    else:
        errors.add(path, "must be a datetime, an ISO-8601 string or epoch milliseconds")
    return value


_ZERO: Final = timedelta(0)


def _to_utc(value: datetime, path: str, errors: Errors) -> Any:
    offset = value.utcoffset()
    if offset is None or offset == _ZERO:  # an offset-less tzinfo counts as naive
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except (OverflowError, ValueError):
        errors.add(path, "is out of range")
        return value


def check_json_object(value: Any, path: str, errors: Errors) -> Any:
    """A mapping with string keys (copied into a plain ``dict``)."""
    if isinstance(value, Mapping):
        mapping = cast("Mapping[Any, Any]", value)
        if all(type(k) is str for k in mapping):
            return dict(mapping)
        errors.add(path, "must have string keys")
        return mapping
    if value is MISSING:
        errors.add(path, "is required")
    else:
        errors.add(path, f"must be an object, not {type(value).__name__}")
    return value


def utcnow() -> datetime:
    """The current time as an aware UTC ``datetime``."""
    return datetime.now(UTC)
