from __future__ import annotations

import msgspec
import pytest
from openai.types.chat import ChatCompletionFunctionToolParam

import adk
from adk.batteries.schemas import render_tool, render_tools


class Point(msgspec.Struct, forbid_unknown_fields=True):
    x: int
    y: int = 0


def handler(args: object, ctx: object, meta: object) -> str:
    return "ok"


POINT = adk.Tool(name="plot", description="Plot a point.", input_schema=Point, handler=handler)


@adk.tool
def greet(name: str, times: int = 1) -> str:
    """Greet someone.

    Args:
        name: Who.
        times: How often.
    """
    return "hi " * times + name


def test_openai_shape() -> None:
    (d,) = render_tools([POINT], "openai")
    assert d["type"] == "function"
    fn = d["function"]
    assert fn["name"] == "plot" and fn["description"] == "Plot a point."
    params = fn["parameters"]
    assert params == POINT.describe()["input_schema"]
    assert params["type"] == "object" and set(params["properties"]) == {"x", "y"}
    assert params["required"] == ["x"]
    import pydantic

    pydantic.TypeAdapter(ChatCompletionFunctionToolParam).validate_python(d)


def test_anthropic_and_mcp_shapes() -> None:
    described = greet.describe()
    (a,) = render_tools([greet], "anthropic")
    assert a == {
        "name": "greet",
        "description": described["description"],
        "input_schema": described["input_schema"],
    }
    (m,) = render_tools([greet], "mcp")
    assert m == {
        "name": "greet",
        "description": described["description"],
        "inputSchema": described["input_schema"],
    }


def test_registry_renders_visible_tools_only_and_copies() -> None:
    registry = adk.ToolRegistry()
    registry.register(POINT)
    registry.register(greet)
    registry.hide("plot")
    out = render_tools(registry, "openai")
    assert [d["function"]["name"] for d in out] == ["greet"]
    out[0]["function"]["parameters"]["properties"].clear()  # callers may mutate
    assert render_tool(greet, "openai")["function"]["parameters"]["properties"]


def test_unknown_format() -> None:
    with pytest.raises(adk.AdkError) as info:
        render_tools([], "gemini")  # type: ignore[arg-type]
    assert info.value.code == "E_INVALID_PROVIDER_OPTIONS"
