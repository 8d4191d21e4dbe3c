"""The flat public API: every name in ``adk.__all__`` exists and is documented."""

import inspect

import adk
import adk.errors


def test_all_names_exist_and_are_unique() -> None:
    assert len(adk.__all__) == len(set(adk.__all__))
    for name in adk.__all__:
        assert hasattr(adk, name), name


def test_public_callables_and_classes_have_docstrings() -> None:
    for name in adk.__all__:
        obj = getattr(adk, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert inspect.getdoc(obj), f"adk.{name} has no docstring"


def test_every_error_code_is_a_class_named_as_its_code() -> None:
    for code, cls in adk.errors.CODES.items():
        assert cls.__name__ == code
        assert issubclass(cls, adk.AdkError)
        assert cls.code == code
