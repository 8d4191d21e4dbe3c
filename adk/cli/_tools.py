"""The demo tools of ``adk chat``: a calculator, the current UTC time, a unit converter.

Their argument schemas carry no per-property descriptions: with them, the 0.5B local
model copies schema keys (``"type": "string"``) into its arguments, which strict
validation then rejects. Everything the model needs is in each tool's description.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Final

from adk.primitives import Tool

__all__ = ["DEMO_TOOLS", "calculate", "convert", "demo_tools"]

_BINARY: Final[dict[type[ast.operator], Callable[[Any, Any], Any]]] = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
    ast.FloorDiv: lambda a, b: a // b,
    ast.Mod: lambda a, b: a % b,
    ast.Pow: lambda a, b: a**b,
}
_UNARY: Final[dict[type[ast.unaryop], Callable[[Any], Any]]] = {
    ast.UAdd: operator.pos,
    ast.USub: operator.neg,
}


def _eval(node: ast.AST) -> float | int:
    if isinstance(node, ast.Expression):
        return _eval(node.body)
    if isinstance(node, ast.Constant):
        value = node.value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return value
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _eval(node.left), _eval(node.right)
        if isinstance(node.op, ast.Pow) and (abs(right) > 1000 or abs(left) > 1e12):
            raise ValueError("exponent or base too large")
        return _BINARY[type(node.op)](left, right)
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_eval(node.operand))
    raise ValueError(f"unsupported element {type(node).__name__!r} in the expression")


def calculate(expression: str) -> str:
    """Evaluate an arithmetic expression safely (no names, calls or attributes).

    Args:
        expression: Numbers, ``+ - * / // % **``, parentheses; ``^``, ``x``, ``×`` and
            ``÷`` are read as ``**``, ``*``, ``*`` and ``/``.

    Returns:
        The value: an integer without a decimal point when it is whole, else up to 12
        significant digits.

    Raises:
        ValueError: the expression is empty, malformed, divides by zero or is too large.
    """
    text = expression.strip().replace("^", "**").replace("×", "*").replace("÷", "/")
    text = text.replace("x", "*").replace("X", "*").replace(",", "")
    if not text:
        raise ValueError("empty expression")
    try:
        value = _eval(ast.parse(text, mode="eval"))
    except SyntaxError as exc:
        raise ValueError(f"cannot parse {expression!r}") from exc
    except ZeroDivisionError as exc:
        raise ValueError("division by zero") from exc
    except OverflowError as exc:
        raise ValueError("the result is too large") from exc
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("the result is not a finite number")
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return f"{value:.12g}"
    return str(value)


# unit -> (dimension, factor to the base unit); temperatures are handled apart.
_UNITS: Final[dict[str, tuple[str, float]]] = {
    "m": ("length", 1.0),
    "km": ("length", 1000.0),
    "cm": ("length", 0.01),
    "mm": ("length", 0.001),
    "mi": ("length", 1609.344),
    "yd": ("length", 0.9144),
    "ft": ("length", 0.3048),
    "in": ("length", 0.0254),
    "kg": ("mass", 1.0),
    "g": ("mass", 0.001),
    "lb": ("mass", 0.45359237),
    "oz": ("mass", 0.028349523125),
    "l": ("volume", 1.0),
    "ml": ("volume", 0.001),
    "gal": ("volume", 3.785411784),
}
_ALIASES: Final[dict[str, str]] = {
    "meter": "m",
    "metre": "m",
    "kilometer": "km",
    "kilometre": "km",
    "centimeter": "cm",
    "centimetre": "cm",
    "millimeter": "mm",
    "millimetre": "mm",
    "mile": "mi",
    "yard": "yd",
    "foot": "ft",
    "feet": "ft",
    "inch": "in",
    "inches": "in",
    "kilogram": "kg",
    "gram": "g",
    "pound": "lb",
    "lbs": "lb",
    "ounce": "oz",
    "liter": "l",
    "litre": "l",
    "milliliter": "ml",
    "millilitre": "ml",
    "gallon": "gal",
    "celsius": "c",
    "°c": "c",
    "fahrenheit": "f",
    "°f": "f",
    "kelvin": "k",
}
_TEMPERATURE: Final[dict[str, tuple[Callable[[float], float], Callable[[float], float]]]] = {
    # unit -> (to kelvin, from kelvin)
    "c": (lambda v: v + 273.15, lambda k: k - 273.15),
    "f": (lambda v: (v - 32) * 5 / 9 + 273.15, lambda k: (k - 273.15) * 9 / 5 + 32),
    "k": (lambda v: v, lambda k: k),
}


def _unit(name: str) -> str:
    key = name.strip().lower()
    if key in _UNITS or key in _TEMPERATURE:
        return key
    if key in _ALIASES:
        return _ALIASES[key]
    if key.endswith("s") and key[:-1] in _ALIASES:
        return _ALIASES[key[:-1]]
    raise ValueError(f"unknown unit {name!r}")


def convert(value: float, from_unit: str, to_unit: str) -> str:
    """Convert a quantity between units of length, mass, volume or temperature.

    Args:
        value: The quantity.
        from_unit: Its unit (symbols such as ``km``, ``lb``, ``C`` or names such as
            ``miles``).
        to_unit: The unit wanted.

    Returns:
        ``"<value> <to_unit>"`` with up to 6 significant digits.

    Raises:
        ValueError: an unknown unit, or units of different dimensions.
    """
    src, dst = _unit(from_unit), _unit(to_unit)
    if src in _TEMPERATURE or dst in _TEMPERATURE:
        if src not in _TEMPERATURE or dst not in _TEMPERATURE:
            raise ValueError(f"cannot convert {from_unit} to {to_unit}")
        result = _TEMPERATURE[dst][1](_TEMPERATURE[src][0](value))
    else:
        (dim_a, fa), (dim_b, fb) = _UNITS[src], _UNITS[dst]
        if dim_a != dim_b:
            raise ValueError(f"cannot convert {dim_a} ({from_unit}) to {dim_b} ({to_unit})")
        result = value * fa / fb
    return f"{result:.6g} {to_unit}"


def _calculator(args: Mapping[str, Any], ctx: object, meta: object) -> str:
    return calculate(str(args["expression"]))


def _now(args: Mapping[str, Any], ctx: object, meta: object) -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ (%A)")


def _convert(args: Mapping[str, Any], ctx: object, meta: object) -> str:
    return convert(float(args["value"]), str(args["from_unit"]), str(args["to_unit"]))


def demo_tools() -> dict[str, Tool]:
    """Build the demo tools (new objects on each call).

    Returns:
        ``{"calculator", "current_utc_time", "convert_units"}`` → :class:`~adk.Tool`.
    """
    return {
        "calculator": Tool(
            name="calculator",
            description="Evaluate an arithmetic expression, for example '2 * (3 + 4)', with "
            "numbers, + - * / ** and parentheses, and return the result.",
            input_schema={
                "type": "object",
                "properties": {"expression": {"type": "string"}},
                "required": ["expression"],
            },
            handler=_calculator,
        ),
        "current_utc_time": Tool(
            name="current_utc_time",
            description="Return the current date and time in UTC (ISO 8601).",
            input_schema={"type": "object", "properties": {}},
            handler=_now,
        ),
        "convert_units": Tool(
            name="convert_units",
            description="Convert a value between units of length (m, km, cm, mm, mi, yd, "
            "ft, in), mass (kg, g, lb, oz), volume (l, ml, gal) or temperature (C, F, K).",
            input_schema={
                "type": "object",
                "properties": {
                    "value": {"type": "number"},
                    "from_unit": {"type": "string"},
                    "to_unit": {"type": "string"},
                },
                "required": ["value", "from_unit", "to_unit"],
            },
            handler=_convert,
        ),
    }


DEMO_TOOLS: Final = ("calculator", "current_utc_time", "convert_units")
"""The demo tools' names, in the order they are offered."""
