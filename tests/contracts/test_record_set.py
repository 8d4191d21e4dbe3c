from adk.contracts.record_set import RecordSet


def test_record_set_is_insertion_ordered_and_identity_keyed() -> None:
    a, b = object(), object()
    s: RecordSet[object] = RecordSet([a, b, a])
    assert list(s) == [a, b]
    assert len(s) == 2 and a in s and object() not in s and [] not in s
    s.discard(a)
    assert list(s) == [b]
    s.add(a)
    assert list(s) == [b, a]
    s.clear()
    assert not s


def test_copy_is_independent_and_keeps_order() -> None:
    a, b, c = object(), object(), object()
    s: RecordSet[object] = RecordSet([a, b])
    clone = s.copy()
    clone.add(c)
    s.discard(a)
    assert list(clone) == [a, b, c]
    assert list(s) == [b]
