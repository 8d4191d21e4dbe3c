"""JSON Schema → msgspec types, for tool input schemas given as dicts.

A JSON Schema dict is compiled once, at ``Tool`` construction, into msgspec types
(``defstruct`` with ``forbid_unknown_fields``, ``Annotated[..., Meta(...)]`` constraints,
``Literal`` for ``enum``/``const``, unions for ``anyOf``/``oneOf``/type lists). Supported
keywords: ``type`` (string or list), ``properties``, ``required``, ``additionalProperties``
(``false``, the default; or ``true``/a schema on an object without ``properties``),
``items``, ``minItems``, ``maxItems``, ``minLength``, ``maxLength``, ``pattern`` (Python
``re.search`` semantics, unanchored like JSON Schema), ``minimum``, ``maximum``,
``exclusiveMinimum``, ``exclusiveMaximum`` (numeric form), ``multipleOf``, ``enum`` and
``const`` (strings, integers, booleans, null), ``anyOf``, ``oneOf`` (only when its branches
accept disjoint JSON types, so that it means the same as ``anyOf``), local ``$ref`` into
``$defs``/``definitions`` (not recursive), and the annotations ``title``, ``description``,
``default``, ``examples``, ``format`` (an annotation, as JSON Schema specifies by default),
``deprecated``, ``readOnly``, ``writeOnly``, ``$comment`` (plus ``$schema``/``$id`` at the
root). Every other keyword raises ``E_INVALID_INITIAL_TOOL_VALUE`` naming it; so does a
keyword that applies to none of the node's types. An absent ``additionalProperties`` means
``false`` (strict, as in the ADK), and ``describe()`` says so explicitly.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Mapping
from functools import partial
from typing import Annotated, Any, Final, Literal, Union, cast

import msgspec
from msgspec import inspect as mi

from adk.errors import FieldError

__all__ = ["compile_json_schema"]

_ANNOTATIONS: Final = frozenset(
    {
        "title",
        "description",
        "default",
        "examples",
        "format",
        "deprecated",
        "readOnly",
        "writeOnly",
        "$comment",
    }
)
_ROOT_ONLY: Final = frozenset({"$schema", "$id", "$defs", "definitions"})
_KEYWORDS: Final[dict[str, frozenset[str]]] = {
    "string": frozenset({"minLength", "maxLength", "pattern"}),
    "integer": frozenset(
        {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"}
    ),
    "array": frozenset({"items", "minItems", "maxItems"}),
    "object": frozenset({"properties", "required", "additionalProperties"}),
    "boolean": frozenset(),
    "null": frozenset(),
}
_KEYWORDS["number"] = _KEYWORDS["integer"]

_LITERAL_TYPES: Final = (str, int, bool, type(None))


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    return "string"


def compile_json_schema(root: Mapping[str, Any]) -> tuple[Any, dict[str, Any], list[FieldError]]:
    """Compile a JSON Schema object schema into a msgspec type.

    Args:
        root: The schema; it must say ``"type": "object"``.

    Returns:
        ``(type, normalised_schema, errors)``: the msgspec type to ``convert`` into (a
        Struct, or ``dict[str, T]`` for a map schema), the self-contained schema that
        ``describe()`` shows (``$ref`` inlined, ``additionalProperties: false`` explicit),
        and every problem found (paths under ``input_schema``); the first two are
        meaningless when ``errors`` is not empty.
    """
    return _JsonCompiler(root).compile()


class _JsonCompiler:
    """Compiles one JSON Schema dict; collects every problem before raising."""

    def __init__(self, root: Mapping[str, Any]) -> None:
        self.root = root
        self.errors: list[FieldError] = []
        self.refs: list[str] = []
        self.count = 0

    def bad(self, path: str, message: str) -> tuple[Any, Any]:
        self.errors.append(FieldError(f"input_schema{path}", message))
        return Any, {}

    def compile(self) -> tuple[Any, dict[str, Any], list[FieldError]]:
        root = self.root
        if root.get("type") != "object":
            self.bad("", 'must be an object schema ({"type": "object", ...})')
            return Any, {}, self.errors
        tp, norm = self.node(root, "", top=True)
        if not self.errors:
            try:
                mi.type_info(tp)
            except (TypeError, ValueError) as exc:
                self.bad("", f"msgspec cannot validate this schema: {exc}")
        for key in ("$schema", "$id"):
            if key in root:
                norm = {key: root[key], **norm}
        return tp, norm, self.errors

    def resolve(self, ref: Any, path: str) -> Any:
        if not isinstance(ref, str) or not ref.startswith("#/"):
            return self.bad(f"{path}.$ref", "only local references ('#/...') are supported")[1]
        node: Any = self.root
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(node, Mapping) or part not in node:
                self.bad(f"{path}.$ref", f"cannot resolve {ref!r}")
                return None
            node = cast("Mapping[str, Any]", node)[part]
        return node

    def node(self, schema: Any, path: str, top: bool = False) -> tuple[Any, Any]:
        if schema is True:
            return Any, True
        if not isinstance(schema, Mapping):
            return self.bad(path, "must be a JSON Schema object")
        sch = cast("Mapping[str, Any]", schema)
        if not all(isinstance(k, str) for k in cast("Mapping[object, Any]", sch)):
            return self.bad(path, "keys must be strings")
        norm: dict[str, Any] = {k: copy.deepcopy(sch[k]) for k in sch if k in _ANNOTATIONS}
        allowed: set[str] = set(_ANNOTATIONS) | (set(_ROOT_ONLY) if top else set())
        if "$ref" in sch:
            for k in sch:
                if k not in allowed and k != "$ref":
                    self.bad(f"{path}.{k}", f"keyword {k!r} next to $ref is not supported")
            ref = sch["$ref"]
            if ref in self.refs:
                return self.bad(f"{path}.$ref", f"recursive reference {ref!r} is not supported")
            target = self.resolve(ref, path)
            if target is None:
                return Any, {}
            self.refs.append(ref)
            tp, inner = self.node(target, f"{path}.$ref")
            self.refs.pop()
            if isinstance(inner, dict):
                return tp, {**cast("dict[str, Any]", inner), **norm}
            return tp, inner
        if "enum" in sch or "const" in sch:
            return self.literal(sch, path, allowed, norm)
        for key in ("anyOf", "oneOf"):
            if key in sch:
                return self.union(sch, key, path, allowed, norm)
        types: Any = sch.get("type")
        if types is None:
            if any(k in sch for k in _KEYWORDS["object"]):
                types = "object"
            elif any(k in sch for k in _KEYWORDS["array"]):
                types = "array"
            else:
                for k in sch:
                    if k not in allowed:
                        self.bad(f"{path}.{k}", f"keyword {k!r} needs a 'type'")
                return Any, norm
        names: Any = [types] if isinstance(types, str) else types
        if (
            not isinstance(names, list)
            or not names
            or any(n not in _KEYWORDS for n in cast("list[Any]", names))
        ):
            return self.bad(f"{path}.type", f"unsupported type {types!r}")
        names = cast("list[str]", names)
        norm["type"] = copy.deepcopy(types)
        if "integer" in names and "number" in names:
            names = [n for n in names if n != "integer"]
        branches: list[Any] = []
        for name in names:
            allowed |= _KEYWORDS[name]
            branches.append(self.typed(name, sch, path, norm))
        for k in sch:
            if k not in allowed and k != "type":
                self.bad(f"{path}.{k}", f"unsupported JSON Schema keyword {k!r} for type {types!r}")
            elif k not in norm and k not in _ROOT_ONLY:
                norm[k] = copy.deepcopy(sch[k])
        ordered = {k: norm.pop(k) for k in sch if k in norm}
        ordered.update(norm)
        return (branches[0] if len(branches) == 1 else Union[tuple(branches)]), ordered  # noqa: UP007

    def literal(
        self, sch: Mapping[str, Any], path: str, allowed: set[str], norm: dict[str, Any]
    ) -> tuple[Any, Any]:
        if "enum" in sch:
            values: Any = sch["enum"]
            if not isinstance(values, list) or not values:
                return self.bad(f"{path}.enum", "must be a non-empty list")
        else:
            values = [sch["const"]]
        vals = cast("list[Any]", values)
        for v in vals:
            if type(v) not in _LITERAL_TYPES:
                return self.bad(
                    path, "enum/const values must be strings, integers, booleans or null"
                )
        types: Any = sch.get("type")
        if types is not None:
            names = [types] if isinstance(types, str) else types
            for v in vals:
                kind = _json_kind(v)
                if kind not in names and not (kind == "integer" and "number" in names):
                    self.bad(path, f"enum value {v!r} does not match type {types!r}")
        for k in sch:
            if k not in allowed and k not in ("enum", "const", "type"):
                self.bad(f"{path}.{k}", f"keyword {k!r} next to enum/const is not supported")
        norm.update({k: copy.deepcopy(sch[k]) for k in ("enum", "const", "type") if k in sch})
        return Literal[tuple(vals)], norm  # pyright: ignore[reportInvalidTypeForm]

    def union(
        self,
        sch: Mapping[str, Any],
        key: str,
        path: str,
        allowed: set[str],
        norm: dict[str, Any],
    ) -> tuple[Any, Any]:
        items: Any = sch[key]
        if not isinstance(items, list) or not items:
            return self.bad(f"{path}.{key}", "must be a non-empty list")
        for k in sch:
            if k not in allowed and k != key:
                self.bad(f"{path}.{k}", f"keyword {k!r} next to {key} is not supported")
        types: list[Any] = []
        subs: list[Any] = []
        for i, sub in enumerate(items):  # pyright: ignore[reportUnknownArgumentType, reportUnknownVariableType]
            tp, js = self.node(sub, f"{path}.{key}[{i}]")
            types.append(tp)
            subs.append(js)
        if key == "oneOf":
            seen: set[str] = set()
            for sub in items:  # pyright: ignore[reportUnknownVariableType]
                kinds = _kinds(sub)
                if kinds is None or kinds & seen:
                    self.bad(f"{path}.oneOf", "oneOf branches must accept disjoint JSON types")
                    break
                seen |= kinds
        norm[key] = subs
        tp: Any = Union[tuple(types)]  # noqa: UP007
        try:
            mi.type_info(tp)
        except (TypeError, ValueError) as exc:
            return self.bad(f"{path}.{key}", f"msgspec cannot validate this union: {exc}")
        return tp, norm

    def typed(self, name: str, sch: Mapping[str, Any], path: str, norm: dict[str, Any]) -> Any:
        if name == "string":
            meta = self.meta(
                sch,
                path,
                {"minLength": "min_length", "maxLength": "max_length", "pattern": "pattern"},
            )
            return _annotate(str, meta)
        if name in ("integer", "number"):
            meta = self.meta(
                sch,
                path,
                {
                    "minimum": "ge",
                    "maximum": "le",
                    "exclusiveMinimum": "gt",
                    "exclusiveMaximum": "lt",
                    "multipleOf": "multiple_of",
                },
            )
            int_meta = _int_bounds(meta)
            if name == "integer":
                if int_meta is None:
                    self.bad(f"{path}.multipleOf", "must be an integer for type 'integer'")
                    return int
                return _annotate(int, int_meta)
            if int_meta is None:  # a fractional multipleOf: ints are checked as floats
                return _annotate(float, meta)
            return Union[_annotate(int, int_meta), _annotate(float, meta)]  # noqa: UP007
        if name == "boolean":
            return bool
        if name == "null":
            return None
        if name == "array":
            meta = self.meta(sch, path, {"minItems": "min_length", "maxItems": "max_length"})
            item: Any = Any
            if "items" in sch:
                item, norm["items"] = self.node(sch["items"], f"{path}.items")
            return _annotate(list[item], meta)
        return self.obj(sch, path, norm)

    def meta(self, sch: Mapping[str, Any], path: str, keys: dict[str, str]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, arg in keys.items():
            if key not in sch:
                continue
            v = sch[key]
            if key == "pattern":
                try:
                    re.compile(v)
                except (TypeError, re.error) as exc:
                    self.bad(f"{path}.pattern", f"not a valid regular expression: {exc}")
                    continue
            elif arg in ("min_length", "max_length"):
                if type(v) is not int or v < 0:
                    self.bad(f"{path}.{key}", "must be a non-negative integer")
                    continue
            elif isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
                self.bad(f"{path}.{key}", "must be a finite number")
                continue
            elif arg == "multiple_of" and v <= 0:
                self.bad(f"{path}.{key}", "must be greater than 0")
                continue
            out[arg] = v
        return out

    def obj(self, sch: Mapping[str, Any], path: str, norm: dict[str, Any]) -> Any:
        props: Any = sch.get("properties", {})
        required: Any = sch.get("required", [])
        addl: Any = sch.get("additionalProperties", False)
        if not isinstance(props, Mapping):
            return self.bad(f"{path}.properties", "must be an object")[0]
        if not isinstance(required, list) or any(
            not isinstance(r, str) or r not in props
            for r in required  # pyright: ignore[reportUnknownVariableType]
        ):
            return self.bad(f"{path}.required", "must list names declared in 'properties'")[0]
        if addl is not False:
            if props or required:
                return self.bad(
                    f"{path}.additionalProperties",
                    "only false is supported next to 'properties'",
                )[0]
            value_tp, norm["additionalProperties"] = (
                (Any, True) if addl is True else self.node(addl, f"{path}.additionalProperties")
            )
            return dict[str, value_tp]
        fields: list[Any] = []
        rename: dict[str, str] = {}
        out_props: dict[str, Any] = {}
        req: set[str] = set(required)  # pyright: ignore[reportUnknownArgumentType]
        for i, (pname, psch) in enumerate(props.items()):  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]
            ppath = f"{path}.properties.{pname}"
            tp, out_props[pname] = self.node(psch, ppath)
            fname = f"f{i}"
            rename[fname] = pname
            if pname in req:
                fields.append((fname, tp))
            elif isinstance(psch, Mapping) and "default" in psch:
                default: Any = cast("Mapping[str, Any]", psch)["default"]
                try:
                    msgspec.convert(default, tp, strict=True)
                except (msgspec.ValidationError, TypeError) as exc:
                    self.bad(f"{ppath}.default", f"does not match the schema: {exc}")
                if isinstance(default, dict | list):
                    fields.append(
                        (fname, tp, msgspec.field(default_factory=partial(copy.deepcopy, default)))
                    )
                else:
                    fields.append((fname, tp, default))
            else:
                fields.append((fname, Union[tp, msgspec.UnsetType], msgspec.UNSET))  # noqa: UP007
        norm["properties"] = out_props
        if required:
            norm["required"] = list(required)  # pyright: ignore[reportUnknownArgumentType]
        norm["additionalProperties"] = False
        self.count += 1
        try:
            return msgspec.defstruct(
                f"Object{self.count}",
                fields,
                rename=rename,
                kw_only=True,
                forbid_unknown_fields=True,
            )
        except (TypeError, ValueError) as exc:
            return self.bad(path, f"msgspec cannot validate this object: {exc}")[0]


def _int_bounds(meta: dict[str, Any]) -> dict[str, Any] | None:
    """Integer versions of numeric bounds (msgspec wants ints on ``int``).

    Returns ``None`` when ``multiple_of`` is fractional.
    """
    out: dict[str, Any] = {}
    for key, v in meta.items():
        if type(v) is int:
            out[key] = v
        elif key == "multiple_of":
            if not float(v).is_integer():
                return None
            out[key] = int(v)
        else:  # an int is > x iff > floor(x), < x iff < ceil(x), >= x iff >= ceil(x), ...
            out[key] = math.floor(v) if key in ("gt", "le") else math.ceil(v)
    return out


def _annotate(tp: Any, meta: dict[str, Any]) -> Any:
    return Annotated[tp, msgspec.Meta(**meta)] if meta else tp


def _kinds(schema: Any) -> set[str] | None:
    """The JSON types a ``oneOf`` branch accepts (integer counts as number)."""
    if not isinstance(schema, Mapping):
        return None
    sch = cast("Mapping[str, Any]", schema)
    if "enum" in sch or "const" in sch:
        raw: Any = sch.get("enum", [sch.get("const")])
        names: Any = (
            [_json_kind(v) for v in cast("list[Any]", raw)] if isinstance(raw, list) else None
        )
    else:
        t: Any = sch.get("type")
        names = [t] if isinstance(t, str) else t
    if not isinstance(names, list) or not names:
        return None
    return {"number" if n == "integer" else str(n) for n in cast("list[Any]", names)}
