"""InMemoryStore: the default ContextStore (PORT.md §6, §7.4, §7.6; PRIMITIVES.md §14)."""

from __future__ import annotations

import types
from collections.abc import AsyncIterator
from typing import Any

import pytest

from adk import ContextStore, InMemoryStore, Registry, Tokenizable
from adk.contracts.store import STORE_METHODS
from adk.stores.memory import MemoryMediaReader, MemorySpoolReader
from tests.runners.doubles import RECORD_FACTORIES

KINDS = list(RECORD_FACTORIES)
FETCH = {
    "memory": "fetch_memories",
    "retrievable": "fetch_retrievables",
    "message": "fetch_messages",
    "thought": "fetch_thoughts",
    "tool_call": "fetch_tool_calls",
}


def ctx(conversation: str | None = None) -> Any:
    stash = Registry({} if conversation is None else {"conversation_id": conversation})
    return types.SimpleNamespace(stash=stash)


def test_in_memory_store_is_a_context_store() -> None:
    store = InMemoryStore()
    assert isinstance(store, ContextStore)
    for name in STORE_METHODS:
        assert callable(getattr(store, name))
    assert len(STORE_METHODS) == 27


@pytest.mark.parametrize("kind", KINDS)
def test_store_and_fetch_in_order_without_dedup(kind: str) -> None:
    make = RECORD_FACTORIES[kind][0]
    store = InMemoryStore()
    c = ctx("c")
    a, b, a2 = make("a"), make("b"), make("a")
    for v in (a, b, a2):
        assert getattr(store, f"store_{kind}")(c, v) is None
    assert getattr(store, FETCH[kind])(c) == [a, b, a2]


@pytest.mark.parametrize("kind", KINDS)
def test_fetch_returns_a_copy(kind: str) -> None:
    make = RECORD_FACTORIES[kind][0]
    store = InMemoryStore()
    c = ctx("c")
    getattr(store, f"store_{kind}")(c, make("a"))
    got = getattr(store, FETCH[kind])(c)
    got.clear()
    assert len(getattr(store, FETCH[kind])(c)) == 1


@pytest.mark.parametrize("kind", KINDS)
def test_mutate_replaces_every_same_id_at_first_position(kind: str) -> None:
    make = RECORD_FACTORIES[kind][0]
    store = InMemoryStore()
    c = ctx("c")
    a1, b, a2, d = make("a"), make("b"), make("a"), make("d")
    for v in (a1, b, a2, d):
        getattr(store, f"store_{kind}")(c, v)
    new = make("a")
    getattr(store, f"mutate_{kind}")(c, new)
    assert getattr(store, FETCH[kind])(c) == [new, b, d]


@pytest.mark.parametrize("kind", KINDS)
def test_mutate_unknown_id_appends(kind: str) -> None:
    make = RECORD_FACTORIES[kind][0]
    store = InMemoryStore()
    c = ctx("c")
    b = make("b")
    getattr(store, f"store_{kind}")(c, b)
    new = make("z")
    getattr(store, f"mutate_{kind}")(c, new)
    assert getattr(store, FETCH[kind])(c) == [b, new]


@pytest.mark.parametrize("kind", KINDS)
def test_delete_removes_first_match_only(kind: str) -> None:
    make = RECORD_FACTORIES[kind][0]
    store = InMemoryStore()
    c = ctx("c")
    a1, b, a2 = make("a"), make("b"), make("a")
    for v in (a1, b, a2):
        getattr(store, f"store_{kind}")(c, v)
    getattr(store, f"delete_{kind}")(c, "a")
    assert getattr(store, FETCH[kind])(c) == [b, a2]
    getattr(store, f"delete_{kind}")(c, "missing")
    assert getattr(store, FETCH[kind])(c) == [b, a2]


def test_standing_instructions_by_text() -> None:
    store = InMemoryStore()
    c = ctx("c")
    tok = Tokenizable("be brief")
    store.store_standing_instruction(c, tok)
    store.store_standing_instruction(c, "cite sources")
    assert store.refresh_standing_instructions(c) == [tok, "cite sources"]
    store.mutate_standing_instruction(c, "be brief")  # same text: not appended
    assert len(store.refresh_standing_instructions(c)) == 2
    store.mutate_standing_instruction(c, Tokenizable("new rule"))
    assert [str(v) for v in store.refresh_standing_instructions(c)] == [
        "be brief",
        "cite sources",
        "new rule",
    ]
    store.delete_standing_instruction(c, "be brief")  # by text, removes the Tokenizable
    assert [str(v) for v in store.refresh_standing_instructions(c)] == ["cite sources", "new rule"]
    store.delete_standing_instruction(c, Tokenizable("cite sources"))
    store.delete_standing_instruction(c, "absent")
    assert [str(v) for v in store.refresh_standing_instructions(c)] == ["new rule"]


def test_fetch_tools_is_empty() -> None:
    assert InMemoryStore().fetch_tools(ctx()) == []


def test_conversations_are_partitioned_by_stash_conversation_id() -> None:
    store = InMemoryStore()
    make = RECORD_FACTORIES["message"][0]
    one, two, default = ctx("one"), ctx("two"), ctx(None)
    m1, m2, m3 = make("1"), make("2"), make("3")
    store.store_message(one, m1)
    store.store_message(two, m2)
    store.store_message(default, m3)
    store.store_standing_instruction(one, "only in one")
    assert store.fetch_messages(ctx("one")) == [m1]
    assert store.fetch_messages(ctx("two")) == [m2]
    assert store.fetch_messages(ctx(None)) == [m3]
    assert store.fetch_messages(ctx("default")) == [m3], "no conversation id means 'default'"
    assert store.refresh_standing_instructions(two) == []
    store.delete_message(two, "1")
    assert store.fetch_messages(one) == [m1]


def test_context_without_stash_uses_default_conversation() -> None:
    store = InMemoryStore()
    m = RECORD_FACTORIES["message"][0]("m")
    store.store_message(object(), m)
    assert store.fetch_messages(ctx(None)) == [m]


def test_non_string_conversation_id_uses_default() -> None:
    store = InMemoryStore()
    m = RECORD_FACTORIES["message"][0]("m")
    weird = types.SimpleNamespace(stash=Registry({"conversation_id": 42}))
    store.store_message(weird, m)
    assert store.fetch_messages(ctx(None)) == [m]


def test_custom_conversation_key() -> None:
    store = InMemoryStore(conversation_key=lambda c: c.tenant)
    m = RECORD_FACTORIES["message"][0]("m")
    store.store_message(types.SimpleNamespace(tenant="acme"), m)
    assert store.fetch_messages(types.SimpleNamespace(tenant="acme")) == [m]
    assert store.fetch_messages(types.SimpleNamespace(tenant="other")) == []


def test_separate_stores_do_not_share_records() -> None:
    a, b = InMemoryStore(), InMemoryStore()
    a.store_message(ctx("c"), RECORD_FACTORIES["message"][0]("m"))
    assert b.fetch_messages(ctx("c")) == []


# --- byte conduits -----------------------------------------------------------------------------


async def _stream(*chunks: bytes) -> AsyncIterator[bytes]:
    for c in chunks:
        yield c


@pytest.mark.anyio
async def test_store_media_bytes_returns_a_replayable_reader() -> None:
    store = InMemoryStore()
    reader = await store.store_media_bytes(ctx("c"), "img", b"\x00\xffabc")
    assert isinstance(reader, MemoryMediaReader)
    assert reader.byte_length() == 5
    first = b"".join([c async for c in reader.stream()])
    second = b"".join([c async for c in reader.stream()])
    assert first == second == b"\x00\xffabc"


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("héllo", "héllo".encode()),
        (b"raw\x00bytes", b"raw\x00bytes"),
        (bytearray(b"ba"), b"ba"),
    ],
)
async def test_store_media_bytes_accepts_str_and_bytes(data: Any, expected: bytes) -> None:
    reader = await InMemoryStore().store_media_bytes(ctx(), "id", data)
    assert b"".join([c async for c in reader.stream()]) == expected
    assert reader.byte_length() == len(expected)


@pytest.mark.anyio
async def test_store_media_bytes_accepts_an_async_stream() -> None:
    reader = await InMemoryStore().store_media_bytes(ctx(), "id", _stream(b"ab", b"", b"cd"))
    assert b"".join([c async for c in reader.stream()]) == b"abcd"
    assert reader.byte_length() == 4


@pytest.mark.anyio
async def test_store_media_bytes_rejects_other_types() -> None:
    with pytest.raises(TypeError):
        await InMemoryStore().store_media_bytes(ctx(), "id", 42)  # type: ignore[arg-type]


@pytest.mark.anyio
async def test_store_retrievable_bytes_returns_a_line_reader() -> None:
    store = InMemoryStore()
    text = "first\r\nsecond\n\nfourth\n"
    reader = await store.store_retrievable_bytes(ctx("c"), "doc", text)
    assert isinstance(reader, MemorySpoolReader)
    assert reader.line_count() == 4
    assert [reader.line(i) for i in range(4)] == ["first", "second", "", "fourth"]
    assert reader.line(4) is None
    assert reader.line(-1) is None
    assert reader.line(10_000) is None
    assert reader.read_all() == text, "byte faithful: \\r\\n and the trailing newline kept"
    assert reader.byte_length() == len(text.encode())


@pytest.mark.anyio
async def test_spool_reader_without_trailing_newline_and_empty() -> None:
    store = InMemoryStore()
    r = await store.store_retrievable_bytes(ctx(), "a", "one\ntwo")
    assert r.line_count() == 2
    assert r.line(1) == "two"
    assert r.read_all() == "one\ntwo"
    empty = await store.store_retrievable_bytes(ctx(), "b", "")
    assert empty.line_count() == 0
    assert empty.line(0) is None
    assert empty.read_all() == ""
    assert empty.byte_length() == 0


@pytest.mark.anyio
async def test_spool_reader_splits_lines_on_newlines_only() -> None:
    """Lines end at ``\\n`` (or ``\\r\\n``) only: form feeds, vertical tabs and Unicode line
    separators inside a line are content, so line indices agree with ``read_all``."""
    text = "a\x0cb\x0bc\u2028d\x85e\nnext\n"
    r = await InMemoryStore().store_retrievable_bytes(ctx(), "s", text)
    assert r.line_count() == 2
    assert r.line(0) == "a\x0cb\x0bc\u2028d\x85e"
    assert r.line(1) == "next"


@pytest.mark.anyio
async def test_spool_reader_from_bytes_and_stream_is_utf8() -> None:
    store = InMemoryStore()
    data = "ünïcode\nline 2\n".encode()
    r = await store.store_retrievable_bytes(ctx(), "a", data)
    assert r.line(0) == "ünïcode"
    assert r.byte_length() == len(data)
    r2 = await store.store_retrievable_bytes(ctx(), "b", _stream(data[:2], data[2:]))
    assert r2.read_all() == data.decode()


@pytest.mark.anyio
async def test_conduits_replace_by_id_and_do_not_touch_records() -> None:
    store = InMemoryStore()
    c = ctx("c")
    await store.store_media_bytes(c, "x", b"old")
    r = await store.store_media_bytes(c, "x", b"new")
    assert b"".join([b async for b in r.stream()]) == b"new"
    await store.store_retrievable_bytes(c, "x", "text")
    for name in FETCH.values():
        assert getattr(store, name)(c) == []
    assert store.refresh_standing_instructions(c) == []
