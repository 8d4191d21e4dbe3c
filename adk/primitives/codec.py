"""``encode``/``decode``: tagged JSON for the primitives (PORT.md §5, PRIMITIVES.md §1.7).

The ADK defines the Encodable hooks (a snapshot out, a re-validating constructor in) but no
wire format; ours is JSON written by msgspec in which every value that is not plain JSON
is an *envelope*::

    {"$adk": "<tag>", "v": <snapshot>}

Tags and snapshots:

================  ==================================================================
tag               ``v``
================  ==================================================================
a class tag       the class's ``to_raw()`` snapshot, walked recursively (nested
                  primitives are envelopes too). Registered: ``Identity``,
                  ``Message``, ``Thought``, ``Memory``, ``Retrievable``, ``ToolCall``,
                  ``Tool``, ``ArtifactTool``, ``ToolRegistry`` and ``Registry`` (those
                  whose modules exist), plus anything given to :func:`register_codec`.
``Tokenizable``   static: the text (``str``); dynamic: ``{"evaluator": <name>}`` where
                  the evaluator was registered with :func:`register_evaluator`.
``datetime``      ISO-8601 text (RFC 3339 ``…Z`` for UTC, else with its offset).
``bytes``         standard base64 with padding.
``dict``          a mapping whose own keys include ``"$adk"`` (escaped so that a user
                  dict is never mistaken for an envelope); its values are walked.
``$reader``       a reader descriptor ``{"tag", "locator"}`` (PRIMITIVES.md §14.4).
================  ==================================================================

Plain ``str``, ``int``, finite ``float``, ``bool``, ``None``, ``list`` and ``dict`` with
``str`` keys are written as themselves; tuples become arrays (decoded as lists; a
primitive's own constructor turns them back into tuples where its fields are tuples).
Anything else is refused with ``E_CODEC_ERROR`` rather than written lossily.

Decoding always goes back through the class's ``from_raw`` — the public constructor — so a
tampered document raises that class's ``E_INVALID_INITIAL_<X>_VALUE``, exactly as the ADK's
decode re-validates. Malformed JSON, an unknown tag, a malformed envelope or an unknown
reference raises ``E_CODEC_ERROR``; nothing else escapes (no bare msgspec, ``KeyError`` or
``TypeError``).

Callables never travel: a dynamic Tokenizable's evaluator and a Tool's handler (and
``artifact_constructor``, and a ``msgspec.Struct`` input-schema type) are written as
*names* that the decoding process must have registered (:func:`register_evaluator`,
:func:`register_handler`). The ADK serialises functions by source text; that cannot round
trip in Python (closures, imports), so we do not try.

Readers (``Media``, ``SpooledArtifact``; future work): a value that quacks like a
``MediaReader`` or ``SpoolReader`` is written as a ``$reader`` envelope from its
``describe()`` (``E_READER_NOT_DESCRIBABLE`` when it has none); decoding one asks the
resolver installed with :func:`set_reader_resolver` (``E_NO_READER_RESOLVER`` without
one). The conduit module will install the resolver and register ``Media`` /
``SpooledArtifact`` with :func:`register_codec`, whose ``to_raw`` may return live readers.
"""

from __future__ import annotations

import base64
import binascii
import importlib
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from functools import partial
from types import MappingProxyType
from typing import Any, Final, NamedTuple, TypeVar, cast

import msgspec

from adk.errors import E_CODEC_ERROR, E_NO_READER_RESOLVER, E_READER_NOT_DESCRIBABLE, AdkError
from adk.primitives.identity import Identity
from adk.primitives.message import Message
from adk.primitives.registry import Registry
from adk.primitives.tokenizable import Evaluator, Tokenizable

__all__ = [
    "TAG_KEY",
    "decode",
    "encode",
    "register_codec",
    "register_evaluator",
    "register_handler",
    "registered_tags",
    "set_reader_resolver",
]

TAG_KEY: Final = "$adk"
"""The key that marks an envelope."""

_VALUE_KEY: Final = "v"
_NO_VALUE: Final[Any] = object()
_RESERVED: Final = frozenset({"Tokenizable", "datetime", "bytes", "dict", "$reader"})

_F = TypeVar("_F", bound=Callable[..., Any])


class _Codec(NamedTuple):
    tag: str
    cls: type
    to_raw: Callable[[Any], Any]
    from_raw: Callable[[Any], Any]
    fast: Callable[[Any], Any] | None = None  # a built-in direct encoder (_codec_fast)


_by_type: dict[type, _Codec] = {}
_by_tag: dict[str, _Codec] = {}
_lock = threading.Lock()
_defaults_loaded = False
_loading = False
_defaults_lock = threading.RLock()


def _error(message: str, cause: BaseException | None = None) -> AdkError:
    return E_CODEC_ERROR(message=message, cause=cause)


def register_codec(
    cls: type,
    tag: str | None = None,
    *,
    to_raw: Callable[[Any], Any] | None = None,
    from_raw: Callable[[Any], Any] | None = None,
) -> None:
    """Make instances of ``cls`` encodable as ``{"$adk": tag, "v": snapshot}``.

    By default the snapshot is ``obj.to_raw()`` and decoding calls
    ``cls.from_raw(snapshot)``; the snapshot may hold any encodable value (nested
    primitives, Tokenizables, datetimes, …), which is walked recursively. ``from_raw``
    should validate and raise the class's own ``AdkError``; any other exception it raises
    is turned into ``E_CODEC_ERROR``. Lookup is by exact type (a subclass needs its own
    registration). Registering the same class and tag again replaces the functions.

    Args:
        cls: The class.
        tag: The envelope tag; defaults to ``cls.__name__``.
        to_raw: ``(obj) -> snapshot``; defaults to ``cls.to_raw``.
        from_raw: ``(snapshot) -> obj``; defaults to ``cls.from_raw``.

    Raises:
        E_CODEC_ERROR: no ``to_raw``/``from_raw`` available, a reserved tag
            (``Tokenizable``, ``datetime``, ``bytes``, ``dict``, ``$reader``), or the tag
            already belongs to another class.
    """
    _load_defaults()  # so that a user tag cannot shadow a built-in one by ordering
    name = cls.__name__ if tag is None else tag
    if not isinstance(name, str) or not name:  # pyright: ignore[reportUnnecessaryIsInstance]
        raise _error("a codec tag must be a non-empty string")
    if name in _RESERVED:
        raise _error(f"the tag {name!r} is reserved by the codec")
    enc = to_raw if to_raw is not None else getattr(cls, "to_raw", None)
    dec = from_raw if from_raw is not None else getattr(cls, "from_raw", None)
    if not callable(enc) or not callable(dec):
        raise _error(f"{cls.__name__} needs to_raw() and from_raw() to be registered")
    with _lock:
        existing = _by_tag.get(name)
        if existing is not None and existing.cls is not cls:
            raise _error(f"the tag {name!r} already belongs to {existing.cls.__qualname__}")
        old = _by_type.get(cls)
        if old is not None and old.tag != name:
            del _by_tag[old.tag]
        codec = _Codec(name, cls, cast(Callable[[Any], Any], enc), cast(Callable[[Any], Any], dec))
        _by_type[cls] = codec
        _by_tag[name] = codec


def registered_tags() -> list[str]:
    """The class tags currently registered, built-in primitives included.

    Returns:
        The tags, sorted (the reserved leaf tags such as ``Tokenizable`` are not listed).
    """
    _load_defaults()
    return sorted(_by_tag)


# --- named callables ----------------------------------------------------------------------

_evaluators: dict[str, Evaluator] = {}
_evaluator_names: dict[Any, str] = {}
_refs: dict[str, Any] = {}
_ref_names: dict[Any, str] = {}


def register_evaluator(name: str, fn: Evaluator) -> Evaluator:
    """Register a dynamic Tokenizable evaluator under ``name`` so it can be encoded.

    A dynamic Tokenizable encodes as ``{"$adk": "Tokenizable", "v": {"evaluator": name}}``
    and decodes to a new dynamic Tokenizable calling the function registered under
    ``name`` in the decoding process. Re-registering a name replaces the function.

    Args:
        name: A non-empty, stable name (it is written into documents).
        fn: The evaluator, ``(ctx or None) -> str``.

    Returns:
        ``fn``, unchanged.

    Raises:
        E_CODEC_ERROR: ``name`` is empty or ``fn`` is not callable.
    """
    if not isinstance(name, str) or not name:  # pyright: ignore[reportUnnecessaryIsInstance]
        raise _error("an evaluator name must be a non-empty string")
    if not callable(fn):
        raise _error("an evaluator must be callable")
    with _lock:
        old = _evaluators.get(name)
        if old is not None and _evaluator_names.get(old) == name:
            del _evaluator_names[old]
        _evaluators[name] = fn
        _evaluator_names[fn] = name
    return fn


def register_handler(fn: _F, name: str | None = None) -> _F:
    """Register a callable that Tools reference, so Tools can be encoded and decoded.

    Register every tool handler (and ``artifact_constructor``, and a ``msgspec.Struct``
    used as ``input_schema``) in both the encoding and the decoding process. A Tool
    encodes the *name*; decoding looks the name up and raises ``E_CODEC_ERROR`` when it is
    unknown. Passing a :class:`~adk.primitives.tool.Tool` (e.g. one made with ``@tool``,
    whose handler is an internal wrapper) registers its handler and, for a Struct schema,
    its schema type, under the tool's name by default. Usable as a decorator
    (``@register_handler``). Re-registering a name replaces the previous callable.

    Args:
        fn: A handler ``(args, ctx, meta)``, a zero-argument artifact constructor, a
            ``msgspec.Struct`` type, or a Tool.
        name: The stable name written into documents; defaults to
            ``"<module>.<qualname>"`` (the tool's ``name`` for a Tool).

    Returns:
        ``fn``, unchanged.

    Raises:
        E_CODEC_ERROR: ``fn`` is not callable, or ``name`` is empty.
    """
    if _is_tool(fn):
        tool: Any = fn
        base = tool.name if name is None else name
        _register_ref(tool._handler, base)  # pyright: ignore[reportUnknownMemberType]
        schema = tool._input_schema  # pyright: ignore[reportUnknownMemberType]
        if _is_struct_type(schema):
            _register_ref(schema, f"{base}:input_schema")
        return fn
    if not callable(fn):
        raise _error("only callables can be registered as handlers")
    if name is None:
        module = getattr(fn, "__module__", None) or "?"
        name = f"{module}.{getattr(fn, '__qualname__', None) or type(fn).__qualname__}"
    _register_ref(fn, name)
    return fn


def _register_ref(obj: Any, name: str) -> None:
    if not isinstance(name, str) or not name:  # pyright: ignore[reportUnnecessaryIsInstance]
        raise _error("a handler name must be a non-empty string")
    with _lock:
        old = _refs.get(name)
        if old is not None and _ref_names.get(old) == name:
            del _ref_names[old]
        _refs[name] = obj
        _ref_names[obj] = name


def _ref_name(obj: Any, what: str) -> str:
    try:
        name = _ref_names.get(obj)
    except TypeError:  # unhashable callable
        name = None
    if name is None:
        raise _error(
            f"the {what} {getattr(obj, '__qualname__', repr(obj))} is not registered; "
            "register it with adk.register_handler(fn, name) in the encoding and the "
            "decoding process"
        )
    return name


def _resolve_ref(name: Any, what: str) -> Any:
    if type(name) is not str:
        raise _error(f"the {what} reference must be a string, not {type(name).__name__}")
    try:
        return _refs[name]
    except KeyError:
        raise _error(f"no {what} is registered under the name {name!r}") from None


# --- readers (hook; PRIMITIVES.md §14.4) -------------------------------------------------

ReaderResolver = Callable[[str, Any], Any]
"""``(tag, locator) -> reader``: rebuilds a reader from its descriptor."""

_reader_resolver: ReaderResolver | None = None


def set_reader_resolver(resolver: ReaderResolver | None) -> ReaderResolver | None:
    """Install the function that turns ``$reader`` descriptors back into readers.

    The conduit module (Media, SpooledArtifact) installs one that dispatches on the tag
    namespace (``media:*`` / ``spool:*``) to its resolver registries. Without one,
    decoding a reader raises ``E_NO_READER_RESOLVER``.

    Args:
        resolver: ``(tag, locator) -> reader``, or ``None`` to remove it. It should raise
            ``E_NO_READER_RESOLVER`` for an unknown tag.

    Returns:
        The previously installed resolver, or ``None``.
    """
    global _reader_resolver
    previous = _reader_resolver
    _reader_resolver = resolver
    return previous


def _is_reader(value: object) -> bool:
    cls = type(value)
    if callable(getattr(cls, "stream", None)) and callable(getattr(cls, "byte_length", None)):
        return True
    return all(
        callable(getattr(cls, m, None)) for m in ("line", "byte_length", "line_count", "read_all")
    )


def _encode_reader(reader: Any) -> dict[str, Any]:
    describe = getattr(reader, "describe", None)
    desc: object = describe() if callable(describe) else None
    if desc is None:
        raise E_READER_NOT_DESCRIBABLE("reader")
    if not isinstance(desc, Mapping):
        raise _error("a reader's describe() must return {'tag': str, 'locator': ...}")
    descriptor = cast(Mapping[str, Any], desc)
    if type(descriptor.get("tag")) is not str:
        raise _error("a reader's describe() must return {'tag': str, 'locator': ...}")
    return {
        TAG_KEY: "$reader",
        _VALUE_KEY: {"tag": descriptor["tag"], "locator": _enc(descriptor.get("locator"))},
    }


def _decode_reader(v: Any) -> Any:
    if type(v) is not dict or type(cast(dict[str, Any], v).get("tag")) is not str:
        raise _error("a $reader envelope needs {'tag': str, 'locator': ...}")
    desc = cast(dict[str, Any], v)
    if set(desc) - {"tag", "locator"}:
        raise _error("a $reader descriptor has only 'tag' and 'locator'")
    tag: str = desc["tag"]
    if _reader_resolver is None:
        raise E_NO_READER_RESOLVER(tag)
    return _reader_resolver(tag, _dec(desc.get("locator")))


# --- encoding -----------------------------------------------------------------------------


def _enc(value: Any) -> Any:
    # Hot path: exact-type checks first, no helper calls for JSON leaves.
    t: type[Any] = type(value)  # pyright: ignore[reportUnknownVariableType]
    if t is str or t is int or t is bool or value is None:
        return value
    if t is float:
        if value - value != 0:  # NaN or ±inf: JSON would write null
            raise _error(f"cannot encode the non-finite number {value!r}")
        return value
    if t is Tokenizable:
        if value._evaluator is None:  # static: the text itself
            return {TAG_KEY: "Tokenizable", _VALUE_KEY: value._value}
        return _enc_tokenizable(value)
    if t is dict:
        return _enc_dict(value)
    codec = _by_type.get(t)
    if codec is not None:
        fast = codec.fast
        if fast is not None:
            return fast(value)
        return {TAG_KEY: codec.tag, _VALUE_KEY: _enc_snapshot(codec.to_raw(value))}
    if t is MappingProxyType:  # ToolCall.args
        return _enc_dict(value)
    if t is datetime:
        # UTC (what every primitive holds) is written by msgspec itself, "…Z": several
        # times faster than isoformat(); other offsets keep isoformat's exact text.
        return {
            TAG_KEY: "datetime",
            _VALUE_KEY: value if value.tzinfo is UTC else value.isoformat(),
        }
    if t is list or t is tuple:
        return [_enc(v) for v in value]
    return _enc_other(value)


def _enc_snapshot(raw: Any) -> Any:
    # A to_raw() snapshot: usually a dict keyed by field names (str, never "$adk").
    if type(raw) is not dict:
        return _enc(raw)
    out: dict[str, Any] = {}
    for k, v in raw.items():  # pyright: ignore[reportUnknownVariableType]
        if type(k) is not str:  # pyright: ignore[reportUnknownArgumentType]
            return _enc_dict(raw)  # pyright: ignore[reportUnknownArgumentType]
        t: type[Any] = type(v)  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]
        if t is str or t is int or t is bool or v is None:
            out[k] = v
        # the timestamps of every record, then static content: no call to _enc
        elif t is datetime and v.tzinfo is UTC:  # pyright: ignore[reportUnknownMemberType]
            out[k] = {TAG_KEY: "datetime", _VALUE_KEY: v}
        elif t is Tokenizable and v._evaluator is None:  # pyright: ignore[reportUnknownMemberType]
            out[k] = {TAG_KEY: "Tokenizable", _VALUE_KEY: v._value}  # pyright: ignore[reportUnknownMemberType]
        else:
            out[k] = _enc(v)
    if TAG_KEY in out:
        return {TAG_KEY: "dict", _VALUE_KEY: out}
    return out


def _enc_dict(d: dict[Any, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if type(k) is not str:
            raise _error(f"cannot encode a dict key of type {type(k).__name__} (keys are str)")
        t: type[Any] = type(v)  # pyright: ignore[reportUnknownVariableType]
        if t is str or t is int or t is bool or v is None:
            out[k] = v
        else:
            out[k] = _enc(v)
    if TAG_KEY in out:
        return {TAG_KEY: "dict", _VALUE_KEY: out}
    return out


def _enc_tokenizable(t: Tokenizable) -> dict[str, Any]:
    evaluator = t.evaluator
    if evaluator is None:
        return {TAG_KEY: "Tokenizable", _VALUE_KEY: t.render(None)}
    try:
        name = _evaluator_names.get(evaluator)
    except TypeError:
        name = None
    if name is None:
        raise _error(
            "cannot encode a dynamic Tokenizable whose evaluator is not registered; "
            "register it with adk.register_evaluator(name, fn)"
        )
    return {TAG_KEY: "Tokenizable", _VALUE_KEY: {"evaluator": name}}


def _enc_other(value: Any) -> Any:
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return _enc(float(value))
    if isinstance(value, str):
        return str(value)
    if isinstance(value, Tokenizable):
        return _enc_tokenizable(value)
    if isinstance(value, datetime):
        return {TAG_KEY: "datetime", _VALUE_KEY: value.isoformat()}
    if isinstance(value, bytes | bytearray | memoryview):
        data = bytes(cast(bytes, value))
        return {TAG_KEY: "bytes", _VALUE_KEY: base64.b64encode(data).decode("ascii")}
    if isinstance(value, Mapping):
        return _enc_dict(dict(cast(Mapping[Any, Any], value)))
    if isinstance(value, Sequence):
        return [_enc(v) for v in cast(Sequence[Any], value)]
    if _is_reader(value):
        return _encode_reader(value)
    raise _error(
        f"cannot encode a value of type {type(value).__qualname__}; "
        "register it with adk.register_codec(cls)"
    )


_encoder = msgspec.json.Encoder()


def encode(obj: object) -> bytes:
    """Encode a primitive (or any encodable value) as tagged JSON bytes.

    Encodable: every registered primitive, :class:`Tokenizable` (a dynamic one only if its
    evaluator was registered with :func:`register_evaluator`), :class:`Registry`, Tools
    whose handler was registered with :func:`register_handler`, ``datetime``, ``bytes``,
    and ``str``/``int``/finite ``float``/``bool``/``None``/``list``/``tuple``/``dict``
    (``str`` keys) holding any of these. See the module docstring for the format.

    Args:
        obj: The value.

    Returns:
        UTF-8 JSON bytes.

    Raises:
        E_CODEC_ERROR: an unencodable value (unknown type, non-``str`` dict key,
            non-finite float, unregistered evaluator or handler).
        E_READER_NOT_DESCRIBABLE: a reader without ``describe()``.
    """
    tree = encode_tree(obj)
    try:
        return _encoder.encode(tree)
    except Exception as exc:  # an int too large for JSON, the nesting limit
        raise _error(f"cannot encode the value: {exc}", exc) from exc


def encode_tree(obj: object) -> Any:
    """What :func:`encode` hands to msgspec: ``obj`` as a tree msgspec encodes to the same JSON.

    For embedding a value in a larger msgspec document (trace lines) without encoding it
    twice. The tree holds plain JSON values, ``datetime`` and msgspec Structs; encode it
    with any msgspec JSON encoder (an ``enc_hook`` is never called for it).

    Raises:
        E_CODEC_ERROR: as :func:`encode`.
        E_READER_NOT_DESCRIBABLE: as :func:`encode`.
    """
    if not _defaults_loaded:
        _load_defaults()
    try:
        return _enc(obj)
    except AdkError:
        raise
    except RecursionError as exc:
        raise _error("the value is nested too deeply to encode", exc) from exc
    except Exception as exc:
        raise _error(f"cannot encode the value: {exc}", exc) from exc


# --- decoding -----------------------------------------------------------------------------


def _dec(value: Any) -> Any:
    t: type[Any] = type(value)  # pyright: ignore[reportUnknownVariableType]
    if t is dict:
        if TAG_KEY in value:
            return _dec_envelope(value)
        return _dec_items(value)
    if t is list:
        return [_dec(v) for v in value]  # pyright: ignore[reportUnknownVariableType]
    return value


def _dec_items(d: dict[str, Any]) -> dict[str, Any]:
    # Hot path: JSON leaves are copied without a call.
    out: dict[str, Any] = {}
    for k, v in d.items():
        t: type[Any] = type(v)  # pyright: ignore[reportUnknownVariableType]
        if t is dict:
            out[k] = _dec_envelope(v) if TAG_KEY in v else _dec_items(v)
        elif t is list:
            out[k] = [_dec(x) for x in v]
        else:
            out[k] = v
    return out


def _dec_envelope(env: dict[str, Any]) -> Any:
    tag = env[TAG_KEY]
    v = env.get(_VALUE_KEY, _NO_VALUE)
    if len(env) != 2 or v is _NO_VALUE:
        raise _error(f"an envelope has exactly the keys {TAG_KEY!r} and 'v', got {sorted(env)}")
    if type(tag) is not str:
        raise _error(f"an envelope tag must be a string, not {type(tag).__name__}")
    if type(v) is str:  # the common leaves, without a table lookup
        if tag == "Tokenizable":
            return Tokenizable(v)
        if tag == "datetime":
            try:
                return datetime.fromisoformat(v)
            except ValueError as exc:
                raise _error(f"bad ISO-8601 datetime {v!r}", exc) from exc
    codec = _by_tag.get(tag)
    if codec is not None:
        raw = _dec(v)
        try:
            return codec.from_raw(raw)
        except AdkError:
            raise
        except Exception as exc:
            raise _error(f"cannot rebuild a {tag}: {exc}", exc) from exc
    leaf = _LEAF_DECODERS.get(tag)
    if leaf is None:
        raise _error(f"unknown tag {tag!r}; register the class with adk.register_codec(cls)")
    return leaf(v)


def _dec_datetime(v: Any) -> datetime:
    if type(v) is not str:
        raise _error("a datetime envelope holds an ISO-8601 string")
    try:
        return datetime.fromisoformat(v)
    except ValueError as exc:
        raise _error(f"bad ISO-8601 datetime {v!r}", exc) from exc


def _dec_dict(v: Any) -> dict[str, Any]:
    if type(v) is not dict:
        raise _error("a dict envelope holds an object")
    return _dec_items(cast(dict[str, Any], v))


def _dec_bytes(v: Any) -> bytes:
    if type(v) is not str:
        raise _error("a bytes envelope holds a base64 string")
    try:
        return base64.b64decode(v, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _error("bad base64 in a bytes envelope", exc) from exc


def _dec_tokenizable(v: Any) -> Tokenizable:
    if type(v) is str:
        return Tokenizable(v)
    if type(v) is dict and set(cast(dict[str, Any], v)) == {"evaluator"}:
        name = cast(dict[str, Any], v)["evaluator"]
        if type(name) is not str:
            raise _error("an evaluator reference must be a string")
        fn = _evaluators.get(name)
        if fn is None:
            raise _error(f"no evaluator is registered under the name {name!r}")
        return Tokenizable(fn)
    raise _error("a Tokenizable envelope holds a string or {'evaluator': name}")


_LEAF_DECODERS: Final[dict[str, Callable[[Any], Any]]] = {
    "Tokenizable": _dec_tokenizable,
    "datetime": _dec_datetime,
    "dict": _dec_dict,
    "bytes": _dec_bytes,
    "$reader": _decode_reader,
}

_decoder = msgspec.json.Decoder()


def decode(data: bytes | bytearray | memoryview | str) -> object:
    """Decode tagged JSON written by :func:`encode`, re-validating every primitive.

    Each envelope is rebuilt through its class's ``from_raw`` (the public constructor), so
    a tampered snapshot raises that class's ``E_INVALID_INITIAL_<X>_VALUE``.

    Args:
        data: The JSON document (``bytes`` or ``str``).

    Returns:
        The rebuilt value: a primitive, or plain JSON values holding primitives; JSON
        arrays decode as ``list``.

    Raises:
        E_CODEC_ERROR: ``data`` is not bytes/str, is not valid JSON, or holds an unknown
            tag, a malformed envelope, or an unregistered evaluator/handler name.
        E_INVALID_INITIAL_<X>_VALUE: a snapshot that the class ``X`` rejects.
        E_NO_READER_RESOLVER: a reader descriptor that no resolver knows.
    """
    if not _defaults_loaded:
        _load_defaults()
    if not isinstance(data, bytes | bytearray | memoryview | str):  # pyright: ignore[reportUnnecessaryIsInstance]
        raise _error(f"decode() takes bytes or str, not {type(data).__name__}")
    try:
        tree = _decoder.decode(data)
    except Exception as exc:  # msgspec.DecodeError, UnicodeDecodeError, RecursionError
        raise _error(f"malformed JSON: {exc}", exc) from exc
    try:
        return _dec(tree)
    except AdkError:
        raise
    except RecursionError as exc:
        raise _error("the document is nested too deeply to decode", exc) from exc
    except Exception as exc:
        raise _error(f"cannot decode the document: {exc}", exc) from exc


# --- built-in registrations ---------------------------------------------------------------


def _is_struct_type(value: object) -> bool:
    return isinstance(value, type) and issubclass(value, msgspec.Struct)


def _is_tool(value: object) -> bool:
    return any(c.__name__ in ("Tool", "ArtifactTool") for c in type(value).__mro__) and hasattr(
        value, "_handler"
    )


def _identity_to_raw(identity: Identity) -> dict[str, Any]:
    return {"identifier": identity.identifier, "representation": identity.representation}


def _registry_from_raw(raw: Any) -> Registry:
    return Registry(raw)


def _tool_to_raw(tool: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "name": tool.name,
        "description": tool.description,
    }
    schema = tool._input_schema
    if _is_struct_type(schema):
        raw["input_schema"] = tool.describe()["input_schema"]
        raw["input_schema_type"] = _ref_name(schema, "input schema type")
    else:
        raw["input_schema"] = tool.input_schema
    raw["handler"] = _ref_name(tool._handler, "tool handler")
    raw["meta"] = tool.meta.all()
    raw["ephemeral"] = tool.ephemeral
    raw["trusted"] = tool.trusted
    raw["on_collision"] = tool.on_collision
    if tool.artifact_constructor is not None:
        raw["artifact_constructor"] = _ref_name(tool.artifact_constructor, "artifact_constructor")
    return raw


def _tool_from_raw(cls: type) -> Callable[[Any], Any]:
    def from_raw(raw: Any) -> Any:
        if type(raw) is not dict:
            raise _error(f"a {cls.__name__} snapshot must be an object")
        kwargs = dict(cast(dict[str, Any], raw))
        if "handler" in kwargs:
            kwargs["handler"] = _resolve_ref(kwargs["handler"], "tool handler")
        if "artifact_constructor" in kwargs:
            kwargs["artifact_constructor"] = _resolve_ref(
                kwargs["artifact_constructor"], "artifact_constructor"
            )
        if "input_schema_type" in kwargs:
            schema_type = _resolve_ref(kwargs.pop("input_schema_type"), "input schema type")
            if not _is_struct_type(schema_type):
                raise _error("the registered input schema type is not a msgspec.Struct type")
            kwargs["input_schema"] = schema_type
        return cls(**kwargs)

    return from_raw


def _load_defaults() -> None:
    """Register the built-in primitives whose modules exist (imported lazily, once).

    The later primitives' modules are imported here rather than at the top so that the
    codec covers every primitive that exists without import cycles; a module that is
    missing (not written yet, or failing to import) is skipped, and encoding one of its
    instances then raises ``E_CODEC_ERROR``.
    """
    global _defaults_loaded, _loading
    with _defaults_lock:
        if _defaults_loaded or _loading:
            return
        _loading = True
        try:
            _register_defaults()
        finally:
            _loading = False
        _defaults_loaded = True


def _register_defaults() -> None:
    for cls, to_raw, from_raw in (
        (Identity, _identity_to_raw, Identity.from_raw),
        (Message, None, None),
        (Registry, Registry.all, _registry_from_raw),
    ):
        if cls not in _by_type:
            register_codec(cls, to_raw=to_raw, from_raw=from_raw)
    for module_name, class_name in (
        ("adk.primitives.thought", "Thought"),
        ("adk.primitives.memory", "Memory"),
        ("adk.primitives.retrievable", "Retrievable"),
        ("adk.primitives.tool_call", "ToolCall"),
    ):
        cls = getattr(_optional_module(module_name), class_name, None)
        if isinstance(cls, type) and cls not in _by_type:
            snapshot = getattr(cls, "_snapshot", None)
            if snapshot is None:
                register_codec(cls)
            else:  # encoded at once: the read-only args need no defensive copy
                register_codec(cls, to_raw=partial(snapshot, copy_args=False))
    tool_module = _optional_module("adk.primitives.tool")
    for class_name in ("Tool", "ArtifactTool"):
        cls = getattr(tool_module, class_name, None)
        if isinstance(cls, type) and cls not in _by_type:
            register_codec(cls, to_raw=_tool_to_raw, from_raw=_tool_from_raw(cls))
    _register_tool_registry(_optional_module("adk.primitives.tool_registry"))
    fast_module = _optional_module("adk.primitives._codec_fast")
    if fast_module is not None:
        for cls, fast in fast_module.fast_encoders(_enc, _enc_dict).items():
            codec = _by_type.get(cls)
            if codec is not None:
                _by_type[cls] = _by_tag[codec.tag] = codec._replace(fast=fast)


def _optional_module(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def _register_tool_registry(module: Any) -> None:
    cls = getattr(module, "ToolRegistry", None)
    if not isinstance(cls, type) or cls in _by_type:
        return
    registry_cls: Any = cls

    def to_raw(registry: Any) -> dict[str, Any]:
        # Every hidden name, including names hidden before their tool is registered.
        hidden: Any = getattr(registry, "_hidden", None)
        if not isinstance(hidden, set):
            hidden = {t.name for t in registry.hidden()}
        return {"tools": list(registry.all()), "hidden": sorted(cast(set[str], hidden))}

    def from_raw(raw: Any) -> Any:
        if type(raw) is not dict or set(cast(dict[str, Any], raw)) - {"tools", "hidden"}:
            raise _error("a ToolRegistry snapshot is {'tools': [...], 'hidden': [...]}")
        snapshot = cast(dict[str, Any], raw)
        tools = snapshot.get("tools", [])
        hidden = snapshot.get("hidden", [])
        if type(tools) is not list or type(hidden) is not list:
            raise _error("a ToolRegistry snapshot's tools and hidden are lists")
        registry = registry_cls(tools)
        hidden_names = cast(list[Any], hidden)
        if hidden_names:
            registry.hide(*hidden_names)
        return registry

    register_codec(cls, to_raw=to_raw, from_raw=from_raw)
