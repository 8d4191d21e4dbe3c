import math

import pytest

from adk.errors import E_INVALID_INITIAL_IDENTITY_VALUE, AdkError
from adk.primitives._base import Errors
from adk.primitives.identity import Identity, coerce_identity, role_identity
from adk.primitives.tokenizable import Tokenizable


def test_happy_path_wraps_representation():
    ident = Identity(identifier="u-1", representation="Alice")
    assert ident.identifier == "u-1"
    assert isinstance(ident.representation, Tokenizable)
    assert str(ident.representation) == "Alice"


def test_tokenizable_representation_kept_by_identity():
    rep = Tokenizable("Bob")
    assert Identity(identifier=7, representation=rep).representation is rep


@pytest.mark.parametrize("identifier", [0, -3, 1.5, 10**400, "x"])
def test_identifier_accepts_non_empty_str_and_finite_numbers(identifier: object):
    assert Identity(identifier=identifier, representation="r").identifier == identifier  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "identifier", ["", math.nan, math.inf, -math.inf, True, None, [], {}, b"x", object()]
)
def test_identifier_rejects(identifier: object):
    with pytest.raises(E_INVALID_INITIAL_IDENTITY_VALUE) as info:
        Identity(identifier=identifier, representation="r")  # type: ignore[arg-type]
    assert info.value.fields == ("identifier",)


@pytest.mark.parametrize("rep", ["", None, 3, b"x", ["a"]])
def test_representation_rejects(rep: object):
    with pytest.raises(E_INVALID_INITIAL_IDENTITY_VALUE) as info:
        Identity(identifier="i", representation=rep)  # type: ignore[arg-type]
    assert info.value.fields == ("representation",)


def test_missing_and_unknown_fields_are_all_named():
    with pytest.raises(E_INVALID_INITIAL_IDENTITY_VALUE) as info:
        Identity(bogus=1)  # type: ignore[call-arg]
    assert set(info.value.fields) == {"bogus", "identifier", "representation"}
    assert isinstance(info.value, AdkError)
    assert info.value.code == "E_INVALID_INITIAL_IDENTITY_VALUE"
    assert str(info.value).startswith("E_INVALID_INITIAL_IDENTITY_VALUE: ")


def test_positional_arguments_rejected():
    with pytest.raises(E_INVALID_INITIAL_IDENTITY_VALUE) as info:
        Identity("a", "b")  # type: ignore[misc]
    assert "*" in info.value.fields


def test_immutable_and_identity_equality():
    a = Identity(identifier="i", representation="r")
    b = Identity(identifier="i", representation="r")
    with pytest.raises(AttributeError):
        a.identifier = "j"  # type: ignore[misc]
    assert a != b
    assert a == a
    assert len({a, b}) == 2


def test_from_raw():
    ident = Identity.from_raw({"identifier": "i", "representation": "r"})
    assert ident.identifier == "i"
    assert str(ident.representation) == "r"
    with pytest.raises(E_INVALID_INITIAL_IDENTITY_VALUE) as info:
        Identity.from_raw({"identifier": "i", "representation": "r", "extra": 1})
    assert info.value.fields == ("extra",)


def test_from_raw_rejects_non_mapping():
    with pytest.raises(E_INVALID_INITIAL_IDENTITY_VALUE):
        Identity.from_raw(5)  # type: ignore[arg-type]


def test_coerce_identity_forms():
    errors = Errors(Identity)
    given = Identity(identifier="i", representation="r")
    assert coerce_identity(given, "identity", errors) is given
    from_str = coerce_identity("bob", "identity", errors)
    assert isinstance(from_str, Identity)
    assert from_str.identifier == "bob"
    assert str(from_str.representation) == "bob"
    from_map = coerce_identity({"identifier": 1, "representation": "one"}, "identity", errors)
    assert isinstance(from_map, Identity)
    assert from_map.identifier == 1
    assert errors.items == []


def test_coerce_identity_nests_error_paths():
    errors = Errors(Identity)
    coerce_identity({"identifier": ""}, "identity", errors)
    coerce_identity("", "who", errors)
    assert [e.path for e in errors.items] == [
        "identity.identifier",
        "identity.representation",
        "who",
    ]


def test_role_identity_is_fresh():
    a = role_identity("assistant")
    b = role_identity("assistant")
    assert a is not b
    assert a.identifier == "assistant"
    assert str(a.representation) == "assistant"
    assert a.representation is not b.representation
