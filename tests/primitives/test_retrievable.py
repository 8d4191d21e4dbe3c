from datetime import UTC, datetime
from typing import Any

import pytest

from adk.errors import E_INVALID_INITIAL_RETRIEVABLE_VALUE
from adk.primitives.retrievable import Retrievable
from adk.primitives.tokenizable import Tokenizable

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def make(**kw: Any) -> Retrievable:
    base: dict[str, Any] = {
        "id": "r-9f2c",
        "content": "The sky is blue.\nGrass is green.",
        "trust_tier": "third-party-public",
        "created_at": T0,
        "updated_at": T0,
    }
    base.update(kw)
    return Retrievable(**base)


def test_happy_path_defaults():
    r = make()
    assert isinstance(r.content, Tokenizable)
    assert r.trust_tier == "third-party-public"
    assert r.source is None
    assert r.kind is None
    assert r.score is None
    assert r.inline is False
    assert r.size_unknown is False


def test_all_fields():
    r = make(source="https://x.test/a", kind="faq", score=0.25, inline=True)
    assert (r.source, r.kind, r.score, r.inline) == ("https://x.test/a", "faq", 0.25, True)


@pytest.mark.parametrize("tier", ["first-party", "third-party-public", "third-party-private"])
def test_trust_tiers(tier: str):
    assert make(trust_tier=tier).trust_tier == tier


@pytest.mark.parametrize("bad", ["", "public", None, 1, "First-Party"])
def test_trust_tier_rejects(bad: object):
    with pytest.raises(E_INVALID_INITIAL_RETRIEVABLE_VALUE) as info:
        make(trust_tier=bad)
    assert info.value.fields == ("trust_tier",)


def test_trust_tier_has_no_default():
    with pytest.raises(E_INVALID_INITIAL_RETRIEVABLE_VALUE) as info:
        Retrievable(id="r", content="c", created_at=T0, updated_at=T0)  # type: ignore[call-arg]
    assert info.value.fields == ("trust_tier",)


def test_none_means_absent_for_optionals():
    r = make(source=None, kind=None, score=None, inline=None)
    assert (r.source, r.kind, r.score, r.inline) == (None, None, None, False)


@pytest.mark.parametrize("field", ["source", "kind"])
@pytest.mark.parametrize("bad", ["", 1, ["x"]])
def test_optional_strings_reject(field: str, bad: object):
    with pytest.raises(E_INVALID_INITIAL_RETRIEVABLE_VALUE) as info:
        make(**{field: bad})
    assert info.value.fields == (field,)


def test_score_rules():
    assert make(score=1.0).score == 1.0
    assert make(score=0).score == 0
    assert make(score="0.5").score == 0.5
    for bad in (1.0000001, -0.1, float("nan"), float("inf"), "x", True, [1]):
        with pytest.raises(E_INVALID_INITIAL_RETRIEVABLE_VALUE) as info:
            make(score=bad)
        assert info.value.fields == ("score",)


def test_inline_rules():
    assert make(inline="true").inline is True
    assert make(inline="false").inline is False
    for bad in (1, 0, "yes", [], "True"):
        with pytest.raises(E_INVALID_INITIAL_RETRIEVABLE_VALUE) as info:
            make(inline=bad)
        assert info.value.fields == ("inline",)


@pytest.mark.parametrize("bad", ["", None, 1, b"bytes", object()])
def test_content_rejects(bad: object):
    with pytest.raises(E_INVALID_INITIAL_RETRIEVABLE_VALUE) as info:
        make(content=bad)
    assert info.value.fields == ("content",)


def test_estimate_tokens_delegates_to_content():
    r = make(content="abcdefg")  # 7 UTF-16 units -> ceil(7 / 3.5) == 2
    assert r.estimate_tokens("claude") == 2
    assert r.estimate_tokens("no-such-encoding") is None


@pytest.mark.anyio
async def test_content_string():
    r = make(content=Tokenizable(lambda ctx: "dynamic" if ctx is None else "ctx"))
    assert await r.content_string() == "dynamic"
    assert await make().content_string() == "The sky is blue.\nGrass is green."


def test_timestamps():
    r = make(created_at="2024-05-01T14:00:00+02:00", updated_at=int(T0.timestamp() * 1000))
    assert r.created_at == T0
    assert r.created_at.tzinfo is UTC
    assert r.updated_at == T0
    with pytest.raises(E_INVALID_INITIAL_RETRIEVABLE_VALUE) as info:
        make(created_at=float("nan"), updated_at="nope")
    assert info.value.fields == ("created_at", "updated_at")


def test_every_bad_field_named():
    with pytest.raises(E_INVALID_INITIAL_RETRIEVABLE_VALUE) as info:
        Retrievable(id="", content="", score=2, extra=True)  # type: ignore[call-arg,arg-type]
    assert set(info.value.fields) == {
        "extra",
        "id",
        "content",
        "trust_tier",
        "score",
        "created_at",
        "updated_at",
    }


def test_immutable_and_identity_equality():
    a, b = make(), make()
    with pytest.raises(AttributeError):
        a.inline = True  # type: ignore[misc]
    with pytest.raises(AttributeError):
        a.size_unknown = True  # type: ignore[misc]
    assert a != b
    assert len({a, b}) == 2


def test_from_raw_camel_case():
    r = Retrievable.from_raw(
        {
            "id": "r",
            "content": "c",
            "trustTier": "first-party",
            "score": "0.9",
            "inline": True,
            "createdAt": "2024-05-01T12:00:00Z",
            "updatedAt": int(T0.timestamp() * 1000),
        }
    )
    assert r.trust_tier == "first-party"
    assert r.score == 0.9
    assert r.inline is True
    assert r.updated_at == T0


def test_from_raw_rejects_derived_size_unknown():
    # As in the ADK: spreading a snapshot with the derived key fails strict validation.
    with pytest.raises(E_INVALID_INITIAL_RETRIEVABLE_VALUE) as info:
        Retrievable.from_raw({**make().to_raw(), "sizeUnknown": False})
    assert info.value.fields == ("size_unknown",)


def test_to_raw():
    r = make(kind="doc")
    raw = r.to_raw()
    assert raw == {
        "id": "r-9f2c",
        "content": r.content,
        "trust_tier": "third-party-public",
        "kind": "doc",
        "inline": False,
        "created_at": T0,
        "updated_at": T0,
    }
    again = Retrievable.from_raw(raw)
    assert again.content is r.content
    assert again.kind == "doc"
