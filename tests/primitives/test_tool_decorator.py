"""The ``@tool`` decorator (PORT.md §5)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
import pytest

from adk.contracts.events import ToolExecutionEnd, ToolExecutionStart
from adk.errors import E_INVALID_INITIAL_TOOL_VALUE, E_INVALID_TOOL_ARGS
from adk.primitives.registry import Registry
from adk.primitives.tool import Tool, tool


class FakeCtx:
    id = "turn-9"

    def __init__(self) -> None:
        self.events: list[Any] = []

    def emit_tool_execution_start(self, payload: ToolExecutionStart) -> None:
        self.events.append(payload)

    def emit_tool_execution_end(self, payload: ToolExecutionEnd) -> None:
        self.events.append(payload)


@tool
def get_weather(city: str, units: Literal["metric", "imperial"] = "metric") -> str:
    """Get the current weather for a city.

    Uses a fake backend.

    Args:
        city: The city name, e.g. Paris. Long descriptions
            continue on the next line.
        units (str): Unit system.

    Returns:
        A sentence.
    """
    return f"{city}:{units}"


def test_bare_decorator_builds_a_tool() -> None:
    assert isinstance(get_weather, Tool)
    assert get_weather.name == "get_weather"
    assert get_weather.description == "Get the current weather for a city.\n\nUses a fake backend."


def test_schema_from_annotations_defaults_and_docstring() -> None:
    js = get_weather.describe()["input_schema"]
    assert "title" not in js
    assert js["type"] == "object" and js["additionalProperties"] is False
    assert js["required"] == ["city"]
    assert js["properties"]["city"] == {
        "type": "string",
        "description": "The city name, e.g. Paris. Long descriptions continue on the next line.",
    }
    assert js["properties"]["units"] == {
        "enum": ["imperial", "metric"],
        "default": "metric",
        "description": "Unit system.",
    }


def test_validate_is_strict() -> None:
    args = get_weather.validate({"city": "Paris"})
    assert args.city == "Paris" and args.units == "metric"  # pyright: ignore[reportAttributeAccessIssue]
    for bad in ({}, {"city": 1}, {"city": "P", "units": "kelvin"}, {"city": "P", "x": 1}):
        with pytest.raises(E_INVALID_TOOL_ARGS):
            get_weather.validate(bad)


@pytest.mark.anyio
async def test_executes_sync_function_with_keywords() -> None:
    ctx = FakeCtx()
    assert await get_weather.executor(ctx)({"city": "Oslo", "units": "imperial"}) == "Oslo:imperial"
    assert [type(e) for e in ctx.events] == [ToolExecutionStart, ToolExecutionEnd]


@pytest.mark.anyio
async def test_async_function_with_options_and_injection() -> None:
    seen: dict[str, Any] = {}

    @tool(
        name="lookup", description="Look a thing up.", ephemeral=True, trusted=True, meta={"k": 1}
    )
    async def _impl(ctx: Any, key: str, meta: Registry, limit: int = 3) -> dict[str, Any]:
        seen.update(ctx=ctx, meta=meta)
        return {"key": key, "limit": limit}

    assert isinstance(_impl, Tool)
    assert (_impl.name, _impl.description, _impl.ephemeral, _impl.trusted) == (
        "lookup",
        "Look a thing up.",
        True,
        True,
    )
    props = _impl.describe()["input_schema"]["properties"]
    assert set(props) == {"key", "limit"}  # ctx and meta are not arguments
    ctx = FakeCtx()
    assert await _impl.executor(ctx)({"key": "a"}) == {"key": "a", "limit": 3}
    assert seen["ctx"] is ctx and seen["meta"] is _impl.meta and _impl.meta.get("k") == 1


def test_description_required() -> None:
    with pytest.raises(E_INVALID_INITIAL_TOOL_VALUE) as info:

        @tool
        def nodoc(x: int) -> int:
            return x

    assert info.value.fields == ("description",)

    @tool(description="Explicit.")
    def nodoc2(x: int) -> int:
        return x

    assert nodoc2.description == "Explicit."


def test_explicit_meta_description_wins() -> None:
    @tool
    def f(x: Annotated[int, msgspec.Meta(description="mine", ge=0)]) -> int:
        """Do f.

        Args:
            x: from the docstring.
        """
        return x

    assert f.describe()["input_schema"]["properties"]["x"] == {
        "type": "integer",
        "minimum": 0,
        "description": "mine",
    }
    with pytest.raises(E_INVALID_TOOL_ARGS):
        f.validate({"x": -1})


def test_docstring_sections_other_than_args_ignored() -> None:
    @tool
    def g(a: int, b: list[str] | None = None) -> None:
        """Summary line.

        Raises:
            ValueError: never.

        Arguments:
            a: first.
            b: second,
                continued.
        """

    assert g.description == "Summary line."
    props = g.describe()["input_schema"]["properties"]
    assert props["a"]["description"] == "first."
    assert props["b"]["description"] == "second, continued."
    assert props["b"]["default"] is None


def test_mutable_default_copied_per_call() -> None:
    @tool
    def h(items: list[int] = [1]) -> None:  # noqa: B006
        """H."""

    first = h.validate({})
    first.items.append(2)  # pyright: ignore[reportAttributeAccessIssue]
    assert h.validate({}).items == [1]  # pyright: ignore[reportAttributeAccessIssue]


def test_unannotated_parameter_accepts_any_json() -> None:
    @tool  # pyright: ignore[reportUnknownArgumentType]
    def u(x) -> None:  # type: ignore[no-untyped-def]  # pyright: ignore[reportMissingParameterType, reportUnknownParameterType]
        """U."""

    assert u.validate({"x": [1, {"a": None}]}).x == [1, {"a": None}]  # pyright: ignore[reportAttributeAccessIssue]


@pytest.mark.parametrize("kind", ["varargs", "kwargs", "posonly"])
def test_unusable_parameters_rejected(kind: str) -> None:
    def varargs(*a: int) -> None:
        """V."""

    def kwargs(**k: int) -> None:
        """K."""

    def posonly(a: int, /) -> None:
        """P."""

    fn = {"varargs": varargs, "kwargs": kwargs, "posonly": posonly}[kind]
    with pytest.raises(E_INVALID_INITIAL_TOOL_VALUE) as info:
        tool(fn)
    assert info.value.fields[0].startswith("input_schema.")


def test_bad_options_and_targets() -> None:
    with pytest.raises(E_INVALID_INITIAL_TOOL_VALUE) as info:
        tool(name="")(lambda: None)
    assert "name" in info.value.fields
    with pytest.raises(E_INVALID_INITIAL_TOOL_VALUE) as info:
        tool(on_collision="nope")(get_weather.validate)  # type: ignore[arg-type]
    assert "on_collision" in info.value.fields
    with pytest.raises(E_INVALID_INITIAL_TOOL_VALUE):
        tool(3)  # type: ignore[call-overload]  # pyright: ignore[reportCallIssue, reportArgumentType]
    with pytest.raises(E_INVALID_INITIAL_TOOL_VALUE) as info:
        tool(input_schema={"type": "object"})(lambda: None)  # pyright: ignore[reportCallIssue]
    assert "input_schema" in info.value.fields


def test_unresolvable_annotation_rejected() -> None:
    def bad(x: Undefined) -> None:  # type: ignore[name-defined]  # noqa: F821  # pyright: ignore[reportUndefinedVariable]
        """B."""

    with pytest.raises(E_INVALID_INITIAL_TOOL_VALUE) as info:
        tool(bad)  # pyright: ignore[reportUnknownArgumentType]
    assert info.value.fields == ("input_schema",)


class Point(msgspec.Struct):
    x: float
    y: float


def test_struct_parameters_are_validated_and_passed_as_structs() -> None:
    @tool
    def dist(p: Point, q: Point) -> float:
        """Distance."""
        return ((p.x - q.x) ** 2 + (p.y - q.y) ** 2) ** 0.5

    args = dist.validate({"p": {"x": 0, "y": 0}, "q": {"x": 3, "y": 4}})
    assert isinstance(args.p, Point)  # pyright: ignore[reportAttributeAccessIssue]
    with pytest.raises(E_INVALID_TOOL_ARGS) as info:
        dist.validate({"p": {"x": 0, "y": 0, "z": 1}, "q": {"x": 3, "y": 4}})
    assert info.value.fields == ("p.z",)
    js = dist.describe()["input_schema"]
    assert js["properties"]["p"]["additionalProperties"] is False and "$defs" not in js


@pytest.mark.anyio
async def test_struct_parameters_executed() -> None:
    @tool
    def dist(p: Point, q: Point) -> float:
        """Distance."""
        return ((p.x - q.x) ** 2 + (p.y - q.y) ** 2) ** 0.5

    assert await dist.executor(FakeCtx())({"p": {"x": 0, "y": 0}, "q": {"x": 3, "y": 4}}) == 5.0
