"""``TurnGate``: a cooperative suspension point settled from outside (``ctx.wait_for``).

A port of the ADK's ``src/lib/classes/turn_gate.ts`` (RUNNERS.md §6). Middleware opens a
gate with ``await ctx.wait_for(id=..., reason=..., payload=...)``; the runner emits
``turn_gate_open(gate)`` synchronously, a listener (an approval UI, a webhook…) later calls
``gate.resolve(value)``, ``gate.reject(error)`` or ``gate.abort()``, and the awaiting
middleware resumes with that outcome. The runner's side is :func:`open_gate`.

Differences from the ADK, all deliberate:

* The timeout runs inside :meth:`TurnGate.wait` (an anyio cancel scope with an absolute
  deadline), not in a background timer: no task per gate. The deadline is taken from the
  gate's construction (``anyio.current_time()``), as the ADK's ``setTimeout`` starts at
  construction, so the moment the gate times out is the same; but the gate only notices
  while someone awaits it. :func:`open_gate` always awaits at once, so through the runner
  nothing changes.
* A gate whose awaiting task is cancelled while it is open settles as ``"aborted"`` (PORT.md
  §9.12), so ``turn_gate_closed`` fires exactly once per opened gate.
* ``reject(value)`` with something that is not an exception makes the awaiter raise
  :class:`TurnGateRejection` carrying the value (Python can only raise exceptions).
* A ``turn_gate_open`` listener (``on_open``) that raises rejects the gate with its error
  (``turn_gate_closed`` with ``"rejected"``) before the error propagates out of
  :func:`open_gate`; the ADK leaves such a gate open.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime
from typing import Any, Final, Generic, Literal, NoReturn, cast

import anyio
import msgspec
from typing_extensions import TypeVar

from adk.contracts.events import TurnGateClosed
from adk.errors import (
    E_INVALID_INITIAL_TURN_GATE_VALUE,
    E_INVALID_TURN_GATE_RESOLUTION,
    E_TURN_GATE_ABORTED,
    E_TURN_GATE_TIMEOUT,
    FieldError,
)
from adk.primitives._base import MISSING, Errors, check_datetime, check_str, utcnow
from adk.runners.abort import AbortSignal

__all__ = [
    "GateResult",
    "TurnGate",
    "TurnGateRejection",
    "open_gate",
]

T = TypeVar("T", default=Any)

GateResult = Literal["resolved", "rejected", "aborted", "timeout"]
"""How a gate settled (``TurnGate.result``, ``TurnGateClosed.result``)."""

_NO_SCHEMA: Final = 0
_MSGSPEC_SCHEMA: Final = 1
_VALIDATE_SCHEMA: Final = 2


class TurnGateRejection(Exception):
    """Raised by :meth:`TurnGate.wait` when the gate was rejected with a non-exception.

    The ADK accepts any value in ``gate.reject(value)``; Python can only raise exceptions,
    so such a value travels in this wrapper.

    Args:
        value: The value given to ``reject``.

    Attributes:
        value: The value given to ``reject``.
    """

    def __init__(self, value: object) -> None:
        super().__init__(f"turn gate rejected with {value!r}")
        self.value = value


class TurnGate(Generic[T]):
    """A gate a turn awaits until it is resolved, rejected, aborted or timed out.

    Usually built by :func:`open_gate` (through ``ctx.wait_for``), which validates the
    arguments, emits ``turn_gate_open`` and awaits :meth:`wait`. Constructing one directly
    works the same way (validation included).

    Settlement rules (RUNNERS.md §6): the first settlement wins and every later call is a
    no-op; :meth:`resolve` with a value failing the schema is the only call that raises,
    and it leaves the gate open.

    Args:
        id: The gate's id: a non-empty ``str`` chosen by the caller.
        turn_id: The id of the turn (or standalone context) opening it: a non-empty ``str``.
        reason: Why the gate is open, e.g. ``"tool_approval"``: a non-empty ``str``.
        payload: Anything (``None`` included) describing what the gate waits for; required.
        schema: ``None`` (resolution values are taken as given), any type ``msgspec.convert``
            accepts (``int``, ``bool``, ``list[str]``, a ``Struct``, ``Literal[...]``…; the
            conversion is strict: ``"1"`` does not become ``1``), or an object with a
            ``validate(value)`` method returning the validated value (a class whose
            ``validate`` is a class/static method works too when msgspec would only treat
            the class as an opaque type). PORT.md §9.11.
        timeout_ms: ``None`` (no timeout) or a finite number of milliseconds > 0 after which
            the gate rejects with ``E_TURN_GATE_TIMEOUT``. Counted from construction, enforced
            while the gate is awaited (see the module docstring).
        signal: The turn's :class:`~adk.runners.abort.AbortSignal`, or ``None``. When it
            fires while the gate is open the gate rejects with ``E_TURN_GATE_ABORTED``. If it
            had already fired at construction, the rejection is deferred until the gate is
            first awaited, so a synchronous ``resolve()`` from a ``turn_gate_open`` listener
            wins (the ADK defers it by one microtask).
        created_at: When the gate was opened: ``None`` (now), an aware or naive (taken as
            UTC) ``datetime``, an ISO-8601 ``str`` or epoch milliseconds. Metadata only: the
            timeout counts from construction.
        on_closed: ``None`` or a sync callable receiving a
            :class:`~adk.contracts.events.TurnGateClosed` once, synchronously, from inside
            the settling call (``resolve``/``reject``/``abort``/the signal's ``abort()``/the
            timeout/the cancellation of the awaiter), before any awaiter resumes. An
            exception it raises propagates to that caller; the runner passes a callable that
            isolates its listeners.
        **unknown: Not accepted; every unknown keyword is reported as a bad field.

    Raises:
        E_INVALID_INITIAL_TURN_GATE_VALUE: Any argument is missing or invalid; the error's
            ``details`` name every bad field.

    ADK source: ``src/lib/classes/turn_gate.ts``.
    """

    __slots__ = (
        "__weakref__",
        "_created_at",
        "_deadline",
        "_deferred_abort",
        "_error",
        "_event",
        "_id",
        "_listener",
        "_on_closed",
        "_payload",
        "_reason",
        "_result",
        "_schema",
        "_schema_kind",
        "_signal",
        "_timeout_ms",
        "_turn_id",
        "_value",
    )

    _event: anyio.Event | None
    _listener: Callable[[AbortSignal], None] | None

    def __init__(
        self,
        *,
        id: str = MISSING,
        turn_id: str = MISSING,
        reason: str = MISSING,
        payload: object = MISSING,
        schema: object = None,
        timeout_ms: float | None = None,
        signal: AbortSignal | None = None,
        created_at: datetime | str | float | None = None,
        on_closed: Callable[[TurnGateClosed], object] | None = None,
        **unknown: object,
    ) -> None:
        errors = Errors(cast(Any, None))
        gate_id = check_str(id, "id", errors)
        gate_turn_id = check_str(turn_id, "turn_id", errors)
        gate_reason = check_str(reason, "reason", errors)
        if payload is MISSING:
            errors.add("payload", "is required")
        schema_kind = _schema_kind(schema, errors)
        timeout = _check_timeout(timeout_ms, errors)
        if signal is not None and not isinstance(signal, AbortSignal):  # pyright: ignore[reportUnnecessaryIsInstance]
            errors.add("signal", f"must be an AbortSignal or None, not {type(signal).__name__}")
        stamp = utcnow() if created_at is None else check_datetime(created_at, "created_at", errors)
        if on_closed is not None and not callable(on_closed):
            errors.add("on_closed", "must be callable or None")
        for key in unknown:
            errors.add(key, "is not a known field")
        if errors.items:
            _fail(errors.items)

        self._id: str = gate_id
        self._turn_id: str = gate_turn_id
        self._reason: str = gate_reason
        self._payload: object = payload
        self._created_at: datetime = stamp
        self._schema: object = schema
        self._schema_kind: int = schema_kind
        self._timeout_ms: float | None = timeout
        self._on_closed = on_closed
        self._result: GateResult | None = None
        self._value: Any = None
        self._error: BaseException | None = None
        self._event = None
        self._signal = signal
        self._listener = None
        self._deferred_abort = False
        self._deadline: float | None = None
        if timeout is not None:
            start = _now()
            # Outside an event loop the clock is read on the first wait() instead.
            self._deadline = math.nan if start is None else start + timeout / 1000
        if signal is not None:
            if signal.aborted:
                self._deferred_abort = True
            else:
                listener = self._on_signal_abort
                self._listener = listener
                signal.add_listener(listener, once=True)

    # --- properties --------------------------------------------------------------------

    @property
    def id(self) -> str:
        """The gate's id (chosen by the caller)."""
        return self._id

    @property
    def turn_id(self) -> str:
        """The id of the turn (or standalone context) that opened the gate."""
        return self._turn_id

    @property
    def reason(self) -> str:
        """Why the gate was opened, e.g. ``"tool_approval"``."""
        return self._reason

    @property
    def payload(self) -> object:
        """What the gate waits for, as given by the opener (may be ``None``)."""
        return self._payload

    @property
    def created_at(self) -> datetime:
        """When the gate was opened (timezone-aware)."""
        return self._created_at

    @property
    def timeout_ms(self) -> float | None:
        """The timeout in milliseconds, or ``None`` for none."""
        return self._timeout_ms

    @property
    def is_settled(self) -> bool:
        """Whether the gate has settled (it no longer blocks its awaiter)."""
        return self._result is not None

    @property
    def result(self) -> GateResult | None:
        """``None`` while open, then ``"resolved"``, ``"rejected"``, ``"aborted"`` or ``"timeout"``.

        A ``reject`` with an ``E_TURN_GATE_ABORTED`` / ``E_TURN_GATE_TIMEOUT`` instance
        counts as ``"aborted"`` / ``"timeout"``, as the ADK classifies by error class.
        """
        return self._result

    @staticmethod
    def is_turn_gate(value: object) -> bool:
        """Whether ``value`` is a :class:`TurnGate` (the ADK's ``TurnGate.isTurnGate``)."""
        return isinstance(value, TurnGate)

    # --- settlement --------------------------------------------------------------------

    def resolve(self, value: object) -> None:
        """Resolve the gate with ``value``; the awaiter receives it (converted by the schema).

        A no-op when the gate has already settled (the value is then not validated).

        Args:
            value: The resolution value; it must pass the schema when there is one.

        Raises:
            E_INVALID_TURN_GATE_RESOLUTION: ``value`` fails the schema (the original error is
                ``__cause__``); the gate stays open.
        """
        if self._result is not None:
            return
        kind = self._schema_kind
        if kind:
            try:
                if kind == _MSGSPEC_SCHEMA:
                    value = msgspec.convert(value, self._schema, strict=True)
                else:
                    value = cast(Any, self._schema).validate(value)
            except Exception as err:
                raise E_INVALID_TURN_GATE_RESOLUTION(cause=err) from err
            if self._result is not None:  # settled by the validator itself
                return
        self._settle("resolved", value, None)

    def reject(self, error: object) -> None:
        """Reject the gate; the awaiter raises ``error``.

        A no-op when the gate has already settled.

        Args:
            error: Any value. An exception is raised as is in the awaiter; anything else is
                wrapped in :class:`TurnGateRejection`. An ``E_TURN_GATE_ABORTED`` or
                ``E_TURN_GATE_TIMEOUT`` instance settles the gate as ``"aborted"`` or
                ``"timeout"``; anything else as ``"rejected"``.
        """
        if self._result is not None:
            return
        exc = error if isinstance(error, BaseException) else TurnGateRejection(error)
        if isinstance(exc, E_TURN_GATE_ABORTED):
            result: GateResult = "aborted"
        elif isinstance(exc, E_TURN_GATE_TIMEOUT):
            result = "timeout"
        else:
            result = "rejected"
        self._settle(result, None, exc)

    def abort(self) -> None:
        """Abort this gate only (not the turn): the awaiter raises ``E_TURN_GATE_ABORTED``.

        A no-op when the gate has already settled.
        """
        if self._result is None:
            self._settle("aborted", None, E_TURN_GATE_ABORTED())

    def _on_signal_abort(self, signal: AbortSignal) -> None:
        if self._result is None:
            reason = signal.reason
            err = E_TURN_GATE_ABORTED(cause=reason if isinstance(reason, BaseException) else None)
            self._settle("aborted", None, err)

    def _settle(self, result: GateResult, value: object, error: BaseException | None) -> None:
        self._result = result
        self._value = value
        self._error = error
        listener = self._listener
        if listener is not None:
            self._listener = None
            signal = self._signal
            if signal is not None:
                signal.remove_listener(listener)
        event = self._event
        if event is not None:
            event.set()  # wakes awaiters on a later scheduler tick, after on_closed below
        on_closed = self._on_closed
        if on_closed is not None:
            self._on_closed = None
            on_closed(
                TurnGateClosed(
                    gate_id=self._id, turn_id=self._turn_id, result=result, settled_at=utcnow()
                )
            )

    # --- awaiting ----------------------------------------------------------------------

    async def wait(self) -> T:
        """Wait until the gate settles; return the resolution value or raise the rejection.

        Returns at once, without a checkpoint, when the gate has already settled (so a gate
        resolved synchronously by a ``turn_gate_open`` listener is returned even inside a
        cancelled scope). A pending deferred abort (signal already aborted at construction)
        and an elapsed timeout are applied here.

        Cancellation (anyio) propagates; if the gate is still open when the awaiting task is
        cancelled, the gate settles as ``"aborted"`` first (PORT.md §9.12). Cancelling one of
        several awaiters therefore settles the gate for all of them.

        Returns:
            The resolution value (converted/validated by the schema).

        Raises:
            E_TURN_GATE_ABORTED: ``abort()`` or the turn signal (or the awaiter's
                cancellation, which is re-raised as the cancellation itself).
            E_TURN_GATE_TIMEOUT: ``timeout_ms`` elapsed first.
            BaseException: Whatever ``reject(error)`` was given (non-exceptions wrapped in
                :class:`TurnGateRejection`).
        """
        if self._result is None:
            if self._deferred_abort:
                self._deferred_abort = False
                self._on_signal_abort(cast(AbortSignal, self._signal))
            else:
                await self._wait_open()
        error = self._error
        if error is not None:
            raise error
        return cast(T, self._value)

    async def _wait_open(self) -> None:
        event = self._event
        if event is None:
            event = self._event = anyio.Event()
        try:
            deadline = self._deadline
            if deadline is None:
                await event.wait()
                return
            if math.isnan(deadline):
                deadline = anyio.current_time() + cast(float, self._timeout_ms) / 1000
                self._deadline = deadline
            if anyio.current_time() < deadline:
                with anyio.CancelScope(deadline=deadline):
                    await event.wait()
            if self._result is None:
                self._settle("timeout", None, E_TURN_GATE_TIMEOUT())
        except BaseException:
            if self._result is None:
                self._settle("aborted", None, E_TURN_GATE_ABORTED())
            raise

    def __repr__(self) -> str:
        state = self._result or "open"
        return f"<TurnGate id={self._id!r} turn_id={self._turn_id!r} {state}>"


async def open_gate(
    *,
    turn_id: str,
    signal: AbortSignal | None,
    on_open: Callable[[TurnGate[Any]], object] | None,
    on_closed: Callable[[TurnGateClosed], object] | None,
    id: str = MISSING,
    reason: str = MISSING,
    payload: object = MISSING,
    schema: object = None,
    timeout_ms: float | None = None,
    created_at: datetime | str | float | None = None,
    **unknown: object,
) -> Any:
    """Open a gate, announce it, and wait for it: the runner's side of ``ctx.wait_for``.

    Steps: validate every argument and build the :class:`TurnGate`; call ``on_open(gate)``
    synchronously (the runner emits ``turn_gate_open``); await :meth:`TurnGate.wait`. When
    the gate settles, ``on_closed(TurnGateClosed(gate_id=, turn_id=, result=, settled_at=))``
    is called exactly once, synchronously from the settling call, before this coroutine
    resumes.

    Args:
        turn_id: The opening turn's (or standalone context's) id; injected by the runner.
        signal: The turn's abort signal (or ``None``); injected by the runner.
        on_open: ``None`` or a sync callable given the new gate. If it raises, the gate is
            rejected with that error (``on_closed`` sees ``"rejected"``) and the error
            propagates.
        on_closed: ``None`` or a sync callable given the ``TurnGateClosed`` payload.
        id: The gate id (non-empty ``str``), from the ``wait_for`` caller.
        reason: Why the gate opens (non-empty ``str``).
        payload: Anything, ``None`` included; required.
        schema: See :class:`TurnGate` (``None``, a msgspec-convertible type, or an object
            with ``validate(value)``).
        timeout_ms: ``None`` or a finite number of milliseconds > 0.
        created_at: ``None`` (now), a ``datetime``, an ISO-8601 ``str`` or epoch ms.
        **unknown: Not accepted; each is reported as a bad field.

    Returns:
        The resolution value.

    Raises:
        E_INVALID_INITIAL_TURN_GATE_VALUE: Bad or missing arguments (every bad field named in
            ``details``), raised when awaited and before ``on_open`` is called.
        E_TURN_GATE_ABORTED: The gate was aborted (``gate.abort()`` or the signal).
        E_TURN_GATE_TIMEOUT: ``timeout_ms`` elapsed.
        BaseException: The error given to ``gate.reject``, or anyio cancellation.

    ADK source: ``src/lib/classes/turn_gate.ts`` and ``TurnRunner``'s ``openGate``.
    """
    gate: TurnGate[Any] = TurnGate(
        id=id,
        turn_id=turn_id,
        reason=reason,
        payload=payload,
        schema=schema,
        timeout_ms=timeout_ms,
        signal=signal,
        created_at=created_at,
        on_closed=on_closed,
        **unknown,
    )
    if on_open is not None:
        try:
            on_open(gate)
        except BaseException as err:
            gate.reject(err)
            raise
    return await gate.wait()


# --- validation helpers ----------------------------------------------------------------


def _fail(items: list[FieldError]) -> NoReturn:
    cls = E_INVALID_INITIAL_TURN_GATE_VALUE
    raise cls(message=f"{cls.template}: " + "; ".join(map(str, items)), details=items)


def _now() -> float | None:
    try:
        return anyio.current_time()
    except Exception:  # no running event loop
        return None


def _schema_kind(schema: object, errors: Errors) -> int:
    if schema is None:
        return _NO_SCHEMA
    has_validate = callable(getattr(schema, "validate", None))
    if has_validate and not isinstance(schema, type):
        return _VALIDATE_SCHEMA
    try:
        info = msgspec.inspect.type_info(cast(Any, schema))
    except Exception:
        info = None
    if info is None:
        if has_validate:
            return _VALIDATE_SCHEMA
        errors.add(
            "schema",
            "must be None, a type msgspec.convert accepts, or an object with validate(value)",
        )
        return _NO_SCHEMA
    if has_validate and isinstance(info, msgspec.inspect.CustomType):
        return _VALIDATE_SCHEMA
    return _MSGSPEC_SCHEMA


def _check_timeout(value: object, errors: Errors) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        errors.add("timeout_ms", f"must be a number of milliseconds, not {type(value).__name__}")
        return None
    if not math.isfinite(value) or value <= 0:
        errors.add("timeout_ms", "must be a finite number of milliseconds greater than 0")
        return None
    return value
