"""adk.errors (PORT.md §4, PRIMITIVES.md §2, RUNNERS.md §8)."""

from __future__ import annotations

import pickle

import pytest

import adk.errors as errors_mod
from adk.errors import (
    CODES,
    E_EXTRA_MISSING,
    E_INVALID_INITIAL_MESSAGE_VALUE,
    E_PIPELINE_SHORT_CIRCUITED,
    E_TOKENIZABLE_EVALUATOR_INVALID,
    E_TOOL_ALREADY_REGISTERED,
    AbortError,
    AdkError,
    FieldError,
    extra_missing,
    is_abort_error,
)

# (code, status, fatal) from PRIMITIVES.md §2.4 and RUNNERS.md §8.
SPEC: list[tuple[str, int, bool]] = [
    ("E_INVALID_INITIAL_REGISTRY_VALUE", 500, True),
    ("E_INVALID_INITIAL_MEMORY_VALUE", 500, True),
    ("E_INVALID_INITIAL_RETRIEVABLE_VALUE", 500, True),
    ("E_INVALID_INITIAL_MESSAGE_VALUE", 500, True),
    ("E_INVALID_INITIAL_IDENTITY_VALUE", 500, True),
    ("E_INVALID_INITIAL_THOUGHT_VALUE", 500, True),
    ("E_INVALID_INITIAL_TOOL_CALL_VALUE", 500, True),
    ("E_INVALID_INITIAL_TOOL_VALUE", 500, True),
    ("E_INVALID_INITIAL_MEDIA_VALUE", 500, True),
    ("E_NOT_A_MEDIA_READER", 500, True),
    ("E_NOT_A_SPOOL_READER", 500, True),
    ("E_INVALID_TOOL_ARGS", 422, False),
    ("E_TOOL_DOWNSTREAM_ERROR", 500, False),
    ("E_TOOL_ALREADY_REGISTERED", 409, True),
    ("E_READER_NOT_DESCRIBABLE", 422, False),
    ("E_NO_READER_RESOLVER", 422, False),
    ("E_TOKENIZABLE_EVALUATOR_INVALID", 500, True),
    ("E_TOKEN_ESTIMATOR_SHADOWS_BUILTIN", 409, True),
    ("E_INVALID_LLM_EXECUTION_CONTEXT", 529, True),
    ("E_LLM_EXECUTION_GATE_NOT_SUPPORTED", 501, False),
    ("E_LLM_EXECUTION_ALREADY_SIGNALLED", 500, True),
    ("E_INVALID_TURN_RUNNER_CONFIG", 529, True),
    ("E_INVALID_TURN_CONTEXT", 529, True),
    ("E_INPUT_PIPELINE_ERROR", 500, False),
    ("E_OUTPUT_PIPELINE_ERROR", 500, False),
    ("E_PIPELINE_SHORT_CIRCUITED", 500, False),
    ("E_INVALID_INITIAL_TURN_GATE_VALUE", 500, True),
    ("E_INVALID_TURN_GATE_RESOLUTION", 500, True),
    ("E_TURN_GATE_TIMEOUT", 408, False),
    ("E_TURN_GATE_ABORTED", 499, False),
    ("E_INVALID_LLM_DISPATCH_INPUT", 529, True),
    ("E_DISPATCH_PIPELINE_ERROR", 500, False),
    ("E_LLM_EXECUTION_EXECUTOR_ERROR", 500, False),
]

# Codes of ours (PORT.md §4) and the one the spec leaves unverified.
OURS = [
    "E_ARTIFACT_ID_COLLISION",
    "E_EXTRA_MISSING",
    "E_STORE_ERROR",
    "E_PROVIDER_ERROR",
    "E_TRACE_FORMAT",
    "E_CODEC_ERROR",
]


def _cls(code: str) -> type[AdkError]:
    cls = getattr(errors_mod, code)
    assert isinstance(cls, type)
    assert issubclass(cls, AdkError)
    return cls


@pytest.mark.parametrize(("code", "status", "fatal"), SPEC)
def test_spec_codes(code: str, status: int, fatal: bool) -> None:
    cls = _cls(code)
    assert cls.__name__ == code
    assert cls.code == code
    assert CODES[code] is cls
    err = cls()
    assert err.code == code
    assert err.status == status
    assert err.fatal is fatal
    assert err.help is None
    assert str(err) == f"{code}: {err.message}"
    assert err.message
    assert isinstance(err, Exception)


@pytest.mark.parametrize("code", OURS)
def test_our_codes(code: str) -> None:
    cls = _cls(code)
    assert cls.__name__ == code
    assert CODES[code] is cls
    err = cls()
    assert str(err) == f"{code}: {err.message}"
    assert 400 <= err.status < 600
    assert isinstance(err.fatal, bool)


def test_codes_table_is_complete() -> None:
    assert {c for c, _, _ in SPEC} | set(OURS) <= set(CODES)
    for code, cls in CODES.items():  # codes added later follow the same conventions
        assert code.startswith("E_")
        assert cls.__name__ == code == cls.code
        assert cls.__module__ == "adk.errors"
        assert cls.__qualname__ == code
        assert cls.__doc__


def test_base_error() -> None:
    err = AdkError(message="boom")
    assert str(err) == "E_ADK_ERROR: boom"
    assert err.status == 500
    assert err.fatal is False
    assert repr(err) == "AdkError('boom')"
    assert AdkError().message  # template fallback


def test_template_params_and_overrides() -> None:
    err = E_TOOL_ALREADY_REGISTERED("search")
    assert err.message == "a tool named search is already registered"
    assert err.params == ("search",)
    assert str(err) == "E_TOOL_ALREADY_REGISTERED: a tool named search is already registered"
    over = E_TOOL_ALREADY_REGISTERED("x", status=418, fatal=False, message="custom")
    assert (over.status, over.fatal, over.message) == (418, False, "custom")
    # A template without slots keeps the given values in the message.
    extra = E_INVALID_INITIAL_MESSAGE_VALUE("a", "b")
    assert "a" in extra.message and "b" in extra.message


def test_cause_is_kept() -> None:
    original = ValueError("inner")
    err = E_TOKENIZABLE_EVALUATOR_INVALID("the evaluator threw", cause=original)
    assert err.__cause__ is original
    assert "the evaluator threw" in str(err)
    try:
        raise err
    except AdkError as caught:
        assert caught.__cause__ is original


def test_pipeline_short_circuited() -> None:
    err = E_PIPELINE_SHORT_CIRCUITED("turn-input")
    assert err.pipeline == "turn-input"
    assert err.status == 500
    assert err.fatal is False
    assert "turn-input" in str(err)
    assert str(err).startswith("E_PIPELINE_SHORT_CIRCUITED: ")
    for label in ("turn-output", "dispatch-input", "dispatch-output"):
        assert E_PIPELINE_SHORT_CIRCUITED(label).pipeline == label
    assert CODES["E_PIPELINE_SHORT_CIRCUITED"] is E_PIPELINE_SHORT_CIRCUITED


def test_extra_missing_help_line() -> None:
    err = extra_missing("tokens", "tiktoken")
    assert isinstance(err, E_EXTRA_MISSING)
    assert err.help == "pip install 'adk[tokens]'"
    assert "pip install 'adk[tokens]'" in str(err)
    assert "tiktoken" in err.message
    assert err.params == ("tokens",)


def test_field_errors_and_fields() -> None:
    details = [FieldError("id", "is required"), FieldError("created_at", "bad")]
    err = E_INVALID_INITIAL_MESSAGE_VALUE(message="invalid Message", details=details)
    assert err.fields == ("id", "created_at")
    assert err.details[0].path == "id"
    assert err.details[0].message == "is required"
    assert str(err.details[1]) == "created_at: bad"
    assert AdkError().details == ()
    assert AdkError().fields == ()


@pytest.mark.parametrize("code", sorted(CODES))
def test_pickle_round_trip(code: str) -> None:
    cls = CODES[code]
    err = cls("p1", message="a message")
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is cls
    assert str(back) == str(err)
    assert (back.code, back.status, back.fatal, back.params) == (
        err.code,
        err.status,
        err.fatal,
        err.params,
    )


def test_pickle_keeps_help_details_and_overrides() -> None:
    err = extra_missing("postgres", "asyncpg")
    back = pickle.loads(pickle.dumps(err))
    assert back.help == err.help
    assert str(back) == str(err)
    val = E_INVALID_INITIAL_MESSAGE_VALUE(
        message="m", details=[FieldError("id", "x")], status=400, fatal=False
    )
    back2 = pickle.loads(pickle.dumps(val))
    assert back2.details == val.details
    assert isinstance(back2.details[0], FieldError)
    assert (back2.status, back2.fatal) == (400, False)
    short = pickle.loads(pickle.dumps(E_PIPELINE_SHORT_CIRCUITED("dispatch-output")))
    assert short.pipeline == "dispatch-output"


def test_abort_error() -> None:
    assert str(AbortError()) == "aborted"
    err = AbortError("user stop")
    assert err.reason == "user stop"
    assert "user stop" in str(err)
    assert not isinstance(err, AdkError)
    assert is_abort_error(err)
    assert not is_abort_error(ValueError())
    assert not is_abort_error(AdkError())


@pytest.mark.anyio
async def test_cancellation_is_an_abort() -> None:
    import anyio

    cancelled: list[BaseException] = []
    async with anyio.create_task_group() as tg:

        async def sleeper() -> None:
            try:
                await anyio.sleep(10)
            except anyio.get_cancelled_exc_class() as exc:
                cancelled.append(exc)
                raise

        tg.start_soon(sleeper)
        await anyio.sleep(0)
        tg.cancel_scope.cancel()
    assert len(cancelled) == 1
    assert is_abort_error(cancelled[0])
