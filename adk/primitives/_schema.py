"""The tool-argument validation engine: msgspec Struct types and JSON Schema dicts.

The ADK validates tool arguments with its Joi-style library (PRIMITIVES.md §1.2, §10.2);
we use msgspec with the same observable rules for ``Tool.validate``:

* unknown keys are rejected (also for user Structs that do not set
  ``forbid_unknown_fields``, at every nesting level);
* no coercion (``"5"`` for an integer is rejected; an integral float such as ``5.0`` for an
  integer is rejected too, as msgspec does; an ``int`` is accepted for a number);
* defaults are filled in;
* non-finite numbers (NaN, ±Infinity) are rejected anywhere in the arguments.

A JSON Schema dict is compiled once, at ``Tool`` construction, into msgspec types
(see :mod:`adk.primitives._schema_json` for the supported keywords).

msgspec stops at the first type error, so ``E_INVALID_TOOL_ARGS`` reports one field,
except for unknown keys of Struct schemas, which are all reported together.
"""

from __future__ import annotations

import copy
import inspect
import math
import re
import typing
from collections.abc import Callable, Mapping
from functools import partial
from typing import Annotated, Any, Final, Literal, NamedTuple, NoReturn, cast

import msgspec
from msgspec import inspect as mi

from adk.errors import E_INVALID_INITIAL_TOOL_VALUE, E_INVALID_TOOL_ARGS, FieldError
from adk.primitives._schema_json import compile_json_schema

__all__ = ["ArgsSchema", "FunctionArgs", "compile_schema", "function_args"]

_AT: Final = re.compile(r" - at `(\$[^`]*)`$")
_NAMED: Final = re.compile(r"(?:unknown|missing required) field `([^`]*)`")


# --- argument checks shared by both kinds ----------------------------------------------


_SCALARS: Final = frozenset({str, int, bool, type(None)})


def _bad_number(value: Any) -> str | None:
    """The path suffix of the first non-finite float inside ``value``, or ``None``."""
    t = value.__class__
    if t in _SCALARS:
        return None
    if t is float or isinstance(value, float):
        return None if math.isfinite(value) else ""
    if t is dict:
        for k, v in value.items():
            if type(v) in _SCALARS:
                continue
            found = _bad_number(v)
            if found is not None:
                return f".{k}{found}"
    elif t is list or t is tuple:
        for i, v in enumerate(value):
            if type(v) in _SCALARS:
                continue
            found = _bad_number(v)
            if found is not None:
                return f"[{i}]{found}"
    return None


def _field_path(message: str) -> str:
    """``a.b[0]`` from a msgspec message ending in ``- at `$.a.b[0]```."""
    m = _AT.search(message)
    path = m.group(1) if m else "$"
    named = _NAMED.search(message)
    if named:
        path = f"{path}.{named.group(1)}"
    return path[2:] if path.startswith("$.") else path


def _args_error(label: str, path: str, message: str, cause: BaseException | None = None) -> Any:
    return E_INVALID_TOOL_ARGS(
        message=f"invalid arguments for tool {label!r}: {message}",
        details=(FieldError(path, message),),
        cause=cause,
    )


# --- unknown-key checks for user Structs -----------------------------------------------

_Checker = Callable[[Any, str, list[FieldError]], None]


class _ObjectCheck:
    """Rejects keys a dict-like type (Struct, dataclass, TypedDict) does not declare."""

    __slots__ = ("allowed", "children", "forbid")

    def __init__(self, allowed: frozenset[str], forbid: bool) -> None:
        self.allowed = allowed
        self.forbid = forbid
        self.children: list[tuple[str, _Checker]] = []

    def __call__(self, value: Any, path: str, out: list[FieldError]) -> None:
        if type(value) is not dict:
            return  # msgspec reports the type error
        if not self.forbid:
            for k in value:  # pyright: ignore[reportUnknownVariableType]
                if k not in self.allowed:
                    out.append(FieldError(f"{path}{k}", "is not a known field"))
        for name, check in self.children:
            if name in value:
                check(value[name], f"{path}{name}.", out)


def _seq_check(item: _Checker, value: Any, path: str, out: list[FieldError]) -> None:
    if type(value) is list or type(value) is tuple:
        base = path[:-1]
        for i, v in enumerate(value):  # pyright: ignore[reportUnknownArgumentType, reportUnknownVariableType]
            item(v, f"{base}[{i}].", out)


def _dict_check(item: _Checker, value: Any, path: str, out: list[FieldError]) -> None:
    if type(value) is dict:
        for k, v in value.items():  # pyright: ignore[reportUnknownVariableType]
            item(v, f"{path}{k}.", out)


def _tagged_check(
    tag_field: str, by_tag: dict[Any, _Checker], value: Any, path: str, out: list[FieldError]
) -> None:
    if type(value) is dict:
        check = by_tag.get(value.get(tag_field))  # pyright: ignore[reportUnknownMemberType, reportUnknownArgumentType]
        if check is not None:
            check(value, path, out)


def _checker(info: mi.Type, memo: dict[type, _ObjectCheck]) -> _Checker | None:
    """A recursive unknown-key check for ``info``, or ``None`` if nothing needs checking."""
    if isinstance(info, mi.Metadata):
        return _checker(info.type, memo)
    if isinstance(info, mi.StructType | mi.DataclassType | mi.TypedDictType):
        if isinstance(info, mi.StructType) and info.array_like:
            return None
        cls: type = info.cls
        if cls in memo:
            return memo[cls]
        allowed = {f.encode_name for f in info.fields}
        forbid = False
        if isinstance(info, mi.StructType):
            forbid = info.forbid_unknown_fields
            if info.tag_field is not None:
                allowed.add(info.tag_field)
        node = _ObjectCheck(frozenset(allowed), forbid)
        memo[cls] = node
        for f in info.fields:
            child = _checker(f.type, memo)
            if child is not None:
                node.children.append((f.encode_name, child))
        return None if forbid and not node.children else node
    if isinstance(info, mi.ListType | mi.SetType | mi.FrozenSetType | mi.VarTupleType):
        item = _checker(info.item_type, memo)
        return None if item is None else partial(_seq_check, item)
    if isinstance(info, mi.DictType):
        item = _checker(info.value_type, memo)
        return None if item is None else partial(_dict_check, item)
    if isinstance(info, mi.UnionType):
        objs = [
            t
            for t in info.types
            if isinstance(t, mi.StructType | mi.DataclassType | mi.TypedDictType)
        ]
        if len(objs) == 1:
            return _checker(objs[0], memo)
        by_tag: dict[Any, _Checker] = {}
        tag_field: str | None = None
        for t in objs:
            if isinstance(t, mi.StructType) and t.tag_field is not None:
                tag_field = t.tag_field
                check = _checker(t, memo)
                if check is not None:
                    by_tag[t.tag] = check
        if tag_field is not None and by_tag:
            return partial(_tagged_check, tag_field, by_tag)
    return None


# --- the compiled schema ---------------------------------------------------------------


class ArgsSchema:
    """A compiled tool input schema (internal; reached through ``Tool``).

    Attributes:
        kind: ``"struct"`` for a msgspec Struct type (``validate`` returns an instance) or
            ``"json"`` for a JSON Schema dict (``validate`` returns a ``dict``).
        label: The tool name used in error messages.
    """

    __slots__ = ("_checker", "_json", "_type", "kind", "label")

    def __init__(
        self,
        kind: Literal["struct", "json"],
        tp: Any,
        json_schema: dict[str, Any],
        checker: _Checker | None,
        label: str,
    ) -> None:
        self.kind = kind
        self.label = label
        self._type = tp
        self._json = json_schema
        self._checker = checker

    def validate(self, args: Any) -> Any:
        """Validate raw arguments strictly (no coercion, unknown keys rejected, defaults).

        Args:
            args: The raw arguments, a mapping with string keys.

        Returns:
            A Struct instance (``kind == "struct"``) or a new ``dict`` (``"json"``).

        Raises:
            E_INVALID_TOOL_ARGS: the arguments do not match; ``details`` names the field
                and ``__cause__`` is msgspec's ``ValidationError`` when it found the problem.
        """
        if type(args) is not dict:
            if not isinstance(args, Mapping):
                raise _args_error(
                    self.label, "$", f"arguments must be an object, not {type(args).__name__}"
                )
            args = dict(cast("Mapping[str, Any]", args))
        bad = _bad_number(args)
        if bad is not None:
            path = bad[1:]
            raise _args_error(self.label, path, f"must be a finite number - at `$.{path}`")
        if self._checker is not None:
            unknown: list[FieldError] = []
            self._checker(args, "", unknown)
            if unknown:
                names = ", ".join(f"`{e.path}`" for e in unknown)
                raise E_INVALID_TOOL_ARGS(
                    message=f"invalid arguments for tool {self.label!r}: unknown field(s) {names}",
                    details=unknown,
                )
        try:
            value = msgspec.convert(args, self._type, strict=True)
        except msgspec.ValidationError as exc:
            msg = str(exc)
            raise _args_error(self.label, _field_path(msg), msg, exc) from exc
        if self.kind == "json":
            return msgspec.to_builtins(value)
        return value

    def describe(self) -> dict[str, Any]:
        """A fresh, self-contained JSON Schema dict of the accepted arguments."""
        return copy.deepcopy(self._json)


def compile_schema(input_schema: object, label: str = "tool") -> ArgsSchema:
    """Compile ``input_schema`` (a msgspec Struct type or a JSON Schema dict) once.

    Args:
        input_schema: A ``msgspec.Struct`` subclass (not ``array_like``) or a JSON Schema
            object schema (``{"type": "object", ...}``).
        label: The tool name, for error messages.

    Returns:
        The compiled schema.

    Raises:
        E_INVALID_INITIAL_TOOL_VALUE: not a Struct type or an object schema, an unsupported
            JSON Schema keyword, or a type msgspec cannot validate; ``details`` holds one
            entry per problem, with paths under ``input_schema``.
    """
    if isinstance(input_schema, type) and issubclass(input_schema, msgspec.Struct):
        return _compile_struct(input_schema, label)
    if isinstance(input_schema, Mapping):
        tp, norm, errors = compile_json_schema(input_schema)  # pyright: ignore[reportUnknownArgumentType]
        if errors:
            _fail(errors)
        return ArgsSchema("json", tp, norm, None, label)
    _fail([FieldError("input_schema", "must be a msgspec Struct type or a JSON Schema dict")])


def _fail(errors: list[FieldError]) -> NoReturn:
    raise E_INVALID_INITIAL_TOOL_VALUE(
        message=f"{E_INVALID_INITIAL_TOOL_VALUE.template}: " + "; ".join(map(str, errors)),
        details=errors,
    )


def _compile_struct(tp: type[msgspec.Struct], label: str) -> ArgsSchema:
    try:
        info = mi.type_info(tp)
        schema: dict[str, Any] = msgspec.json.schema(tp)
    except (TypeError, ValueError) as exc:
        _fail([FieldError("input_schema", f"msgspec cannot validate this type: {exc}")])
    if isinstance(info, mi.StructType) and info.array_like:
        _fail([FieldError("input_schema", "must not be an array_like Struct")])
    checker = _checker(info, {})
    inlined = _inline_refs(schema)
    if getattr(tp, "__adk_tool_args__", False):  # built by @tool, named after the function
        inlined.pop("title", None)
    return ArgsSchema("struct", tp, inlined, checker, label)


def _inline_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """Inline msgspec's ``$ref``/``$defs``; mark Struct objects ``additionalProperties: false``.

    A recursive type keeps its ``$defs`` entry (referenced from inside itself).
    """
    defs: dict[str, Any] = schema.pop("$defs", {})
    for d in defs.values():
        if d.get("type") == "object" and "properties" in d:
            d.setdefault("additionalProperties", False)
    kept: dict[str, Any] = {}
    prefix = "#/$defs/"

    def walk(value: Any, stack: tuple[str, ...]) -> Any:
        if isinstance(value, dict):
            node = cast("dict[str, Any]", value)
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith(prefix) and ref[len(prefix) :] in defs:
                name = ref[len(prefix) :]
                if name in stack:
                    if name not in kept:
                        kept[name] = None
                        kept[name] = walk(defs[name], (name,))
                    return node
                target = walk(defs[name], (*stack, name))
                rest = {k: walk(v, stack) for k, v in node.items() if k != "$ref"}
                return {**target, **rest}
            return {k: walk(v, stack) for k, v in node.items()}
        if isinstance(value, list):
            return [walk(v, stack) for v in cast("list[Any]", value)]
        return value

    out: dict[str, Any] = walk(schema, ())
    if kept:
        out["$defs"] = kept
    return out


# --- argument Structs derived from functions (@tool) -----------------------------------

_ARG_SECTIONS: Final = frozenset(
    {"args", "arguments", "parameters", "params", "keyword args", "keyword arguments"}
)
_SECTIONS: Final = _ARG_SECTIONS | {
    "returns",
    "return",
    "yields",
    "yield",
    "raises",
    "examples",
    "example",
    "note",
    "notes",
    "attributes",
    "warning",
    "warnings",
    "see also",
    "todo",
    "references",
}
_HEADER: Final = re.compile(r"^([A-Za-z][A-Za-z ]*):\s*$")
_ENTRY: Final = re.compile(r"^\*{0,2}(\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")


def _parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """Split a Google-style docstring into its prose and its ``Args:`` descriptions."""
    prose: list[str] = []
    args: dict[str, str] = {}
    section: str | None = None
    entry_indent: int | None = None
    current: str | None = None
    for line in doc.splitlines():
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        header = _HEADER.match(stripped)
        if indent == 0 and header and header.group(1).lower() in _SECTIONS:
            section = header.group(1).lower()
            entry_indent = current = None
            continue
        if section is None:
            prose.append(line)
        elif section in _ARG_SECTIONS and stripped:
            if entry_indent is None:
                entry_indent = indent
            m = _ENTRY.match(stripped)
            if indent <= entry_indent and m:
                current = str(m.group(1))
                args[current] = m.group(2).strip()
            elif current is not None:
                args[current] = f"{args[current]} {stripped}".strip()
    text = "\n".join(prose).strip()
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text, {k: v for k, v in args.items() if v}


def _describe_type(tp: Any, description: str) -> Any:
    if typing.get_origin(tp) is Annotated:
        base, *extras = typing.get_args(tp)
        if any(isinstance(e, msgspec.Meta) and e.description for e in extras):
            return tp
        return Annotated[(base, msgspec.Meta(description=description), *extras)]  # pyright: ignore[reportInvalidTypeArguments]
    return Annotated[tp, msgspec.Meta(description=description)]


class FunctionArgs(NamedTuple):
    """What ``@tool`` derives from a function.

    Attributes:
        struct: The argument Struct (``None`` if ``errors``).
        prose: The docstring's text before its first section (may be empty).
        names: The argument names, in order (``ctx``/``meta`` excluded).
        injected: Which of ``ctx`` and ``meta`` the function takes.
        errors: Problems found, as ``FieldError`` s.
    """

    struct: Any
    prose: str
    names: tuple[str, ...]
    injected: frozenset[str]
    errors: list[FieldError]


def function_args(fn: Callable[..., Any], name: str) -> FunctionArgs:
    """Build the argument Struct of ``fn`` (``defstruct``, unknown fields forbidden).

    Annotations give the types (unannotated means ``Any``), parameter defaults the
    defaults (a mutable default is deep-copied per call), the Google-style ``Args:``
    section the property descriptions. ``ctx`` and ``meta`` are injected, not arguments;
    ``*args``, ``**kwargs`` and positional-only parameters are errors.

    Args:
        fn: The function.
        name: The Struct's name (the tool name).

    Returns:
        The derived pieces; see :class:`FunctionArgs`.
    """
    errors: list[FieldError] = []
    prose, arg_docs = _parse_docstring(inspect.getdoc(fn) or "")
    try:
        hints = typing.get_type_hints(fn, include_extras=True)
        params = list(inspect.signature(fn).parameters.values())
    except (NameError, TypeError, ValueError) as exc:
        errors.append(FieldError("input_schema", f"cannot read the signature: {exc}"))
        hints, params = {}, []
    fields: list[Any] = []
    names: list[str] = []
    injected: set[str] = set()
    for p in params:
        if p.name in ("ctx", "meta"):
            injected.add(p.name)
            continue
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD, p.POSITIONAL_ONLY):
            errors.append(
                FieldError(
                    f"input_schema.{p.name}",
                    "*args, **kwargs and positional-only parameters cannot be tool arguments",
                )
            )
            continue
        tp: Any = hints.get(p.name, Any)
        if p.name in arg_docs:
            tp = _describe_type(tp, arg_docs[p.name])
        names.append(p.name)
        default: Any = p.default
        if default is p.empty:
            fields.append((p.name, tp))
        elif isinstance(default, dict | list | set):
            fields.append(
                (p.name, tp, msgspec.field(default_factory=partial(copy.deepcopy, default)))
            )
        else:
            fields.append((p.name, tp, default))
    struct: Any = None
    if not errors:
        try:
            struct = msgspec.defstruct(
                name,
                fields,
                kw_only=True,
                forbid_unknown_fields=True,
                namespace={"__adk_tool_args__": True},
            )
            mi.type_info(struct)
        except (TypeError, ValueError) as exc:
            errors.append(FieldError("input_schema", f"cannot build the argument type: {exc}"))
    return FunctionArgs(struct, prose, tuple(names), frozenset(injected), errors)
