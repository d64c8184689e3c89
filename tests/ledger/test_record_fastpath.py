"""The exact-type fast path of record encoding must give the general path's answer, errors included."""

from datetime import UTC, datetime
from enum import StrEnum

import pytest

from accord.ledger.record import InvalidRecord, _plain, _plain_general


class Kind(StrEnum):
    CIVIL = "civil"


class Count(int):
    pass


VALUES: list[object] = [
    None,
    True,
    0,
    -(2**70),
    "",
    "naïve ✓",
    Kind.CIVIL,
    Count(3),
    1.5,
    datetime(2026, 11, 27, 1, 2, 3, 456, tzinfo=UTC),
    (1, "a", None),
    [[], {}, ()],
    frozenset({"b", "a"}),
    {"scores": {"x": 0.123456789, "y": 1}, "codes": ("a", "b"), "nested": [{"k": [1.0, {2, 3}]}]},
]


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_fast_path_matches_general_path(value: object) -> None:
    assert _plain(value) == _plain_general(value)


@pytest.mark.parametrize(
    "value",
    [
        {1: "integer key"},
        [{"inner": {2: "deep integer key"}}],
        ({"x": float("nan")},),
        {"x": [float("inf")]},
        [b"bytes"],
        {"x": object()},
    ],
    ids=repr,
)
def test_fast_path_rejects_what_the_general_path_rejects(value: object) -> None:
    with pytest.raises(InvalidRecord):
        _plain_general(value)
    with pytest.raises(InvalidRecord):
        _plain(value)
