"""Tool schemas for providers: one :class:`adk.Tool` as OpenAI, Anthropic or MCP definitions.

Every rendering starts from :meth:`adk.Tool.describe` (``{"name", "description",
"input_schema"}``, a self-contained JSON Schema), as the ADK's adapters do (BATTERIES.md
§3.4: "tool declarations are converted from each tool's describe() input schema"):

* ``"openai"``: ``{"type": "function", "function": {"name", "description", "parameters"}}``
  (chat completions ``tools`` entries; no ``strict`` flag, which OpenAI-compatible servers
  such as llama.cpp, vLLM and Ollama do not all accept);
* ``"anthropic"``: ``{"name", "description", "input_schema"}`` (Messages API ``tools``);
* ``"mcp"``: ``{"name", "description", "inputSchema"}`` (an MCP ``tools/list`` entry).

Each call returns new dicts: callers may mutate them freely.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any, Literal, TypeAlias

from adk.errors import E_INVALID_PROVIDER_OPTIONS
from adk.primitives import Tool, ToolRegistry

__all__ = ["ToolSchemaFormat", "render_tool", "render_tools"]

ToolSchemaFormat: TypeAlias = Literal["openai", "anthropic", "mcp"]
"""The formats :func:`render_tools` knows."""

_FORMATS = ("openai", "anthropic", "mcp")


def render_tool(tool: Tool, format: ToolSchemaFormat) -> dict[str, Any]:
    """Render one tool as a provider tool definition.

    Args:
        tool: The tool (its :meth:`~adk.Tool.describe` is used).
        format: ``"openai"``, ``"anthropic"`` or ``"mcp"``.

    Returns:
        A new JSON-serialisable dict in the requested shape (see the module docstring).

    Raises:
        E_INVALID_PROVIDER_OPTIONS: ``format`` is not one of the three formats.
    """
    described = tool.describe()
    schema: dict[str, Any] = copy.deepcopy(described["input_schema"])
    name: str = described["name"]
    description: str = described["description"]
    if format == "openai":
        return {
            "type": "function",
            "function": {"name": name, "description": description, "parameters": schema},
        }
    if format == "anthropic":
        return {"name": name, "description": description, "input_schema": schema}
    if format == "mcp":
        return {"name": name, "description": description, "inputSchema": schema}
    raise E_INVALID_PROVIDER_OPTIONS(
        message=f"unknown tool schema format {format!r}; expected one of {', '.join(_FORMATS)}"
    )


def render_tools(
    tools: Iterable[Tool] | ToolRegistry, format: ToolSchemaFormat
) -> list[dict[str, Any]]:
    """Render tools as provider tool definitions, in order.

    Args:
        tools: Tools, or a :class:`~adk.ToolRegistry` (its *visible* tools are rendered:
            hidden tools are never offered to a model).
        format: ``"openai"``, ``"anthropic"`` or ``"mcp"``.

    Returns:
        One new dict per tool (see the module docstring for the shapes); ``[]`` for none.

    Raises:
        E_INVALID_PROVIDER_OPTIONS: ``format`` is not one of the three formats (raised even
            when there are no tools).
    """
    if format not in _FORMATS:
        raise E_INVALID_PROVIDER_OPTIONS(
            message=f"unknown tool schema format {format!r}; expected one of {', '.join(_FORMATS)}"
        )
    items = tools.visible() if isinstance(tools, ToolRegistry) else tools
    return [render_tool(t, format) for t in items]
