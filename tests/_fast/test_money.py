"""Money kernel: rates in parts per million, rounding policies, exact proportional allocation."""

from array import array
from types import ModuleType

import pytest

from citadel._fast.common import (
    MAX_AMOUNT,
    MAX_RATE_PPM,
    MAX_WEIGHT_SUM,
    ROUND_DOWN,
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    ROUND_UP,
    AmountOverflow,
)


@pytest.mark.parametrize(
    ("amount", "rate", "policy", "expected"),
    [
        (1999, 88_750, ROUND_HALF_UP, 177),  # 177.41 -> 177
        (1000, 88_750, ROUND_HALF_UP, 89),  # 88.75 -> 89
        (1000, 88_750, ROUND_DOWN, 88),
        (1000, 88_750, ROUND_UP, 89),
        (10, 50_000, ROUND_HALF_UP, 1),  # 0.5 -> 1
        (10, 50_000, ROUND_HALF_EVEN, 0),  # 0.5 -> 0 (even)
        (30, 50_000, ROUND_HALF_EVEN, 2),  # 1.5 -> 2 (even)
        (-10, 50_000, ROUND_HALF_UP, -1),  # symmetric around zero
        (-1000, 88_750, ROUND_DOWN, -88),
        (-1000, 88_750, ROUND_UP, -89),
        (0, 88_750, ROUND_HALF_UP, 0),
        (MAX_AMOUNT, MAX_RATE_PPM, ROUND_HALF_UP, MAX_AMOUNT * 9),
        (-MAX_AMOUNT, MAX_RATE_PPM, ROUND_HALF_UP, -MAX_AMOUNT * 9),
        (12345, 1_000_000, ROUND_HALF_UP, 12345),
    ],
)
def test_apply_rate(money: ModuleType, amount: int, rate: int, policy: int, expected: int) -> None:
    assert money.apply_rate(amount, rate, policy) == expected


def test_apply_rate_batch_matches_single_calls(money: ModuleType) -> None:
    amounts = array("q", [0, 1, 5, 1999, -1999, 10**9, -(10**9)])
    out = money.apply_rate_batch(amounts, 190_000, ROUND_HALF_UP)
    assert isinstance(out, array) and out.typecode == "q"
    assert list(out) == [money.apply_rate(a, 190_000, ROUND_HALF_UP) for a in amounts]
    assert list(money.apply_rate_batch(array("q"), 190_000)) == []


@pytest.mark.parametrize(
    ("amount", "rate"),
    [(MAX_AMOUNT + 1, 1), (-MAX_AMOUNT - 1, 1), (1, -1), (1, MAX_RATE_PPM + 1), (2**63, 1), (1, 2**70)],
)
def test_past_the_bounds_both_raise_the_same_error(money: ModuleType, amount: int, rate: int) -> None:
    with pytest.raises(AmountOverflow):
        money.apply_rate(amount, rate)


def test_batch_bounds(money: ModuleType) -> None:
    with pytest.raises(AmountOverflow):
        money.apply_rate_batch(array("q", [1, MAX_AMOUNT + 1]), 1000)
    with pytest.raises(AmountOverflow):
        money.apply_rate_batch(array("q", [1]), MAX_RATE_PPM + 1)


def test_unknown_rounding_policy(money: ModuleType) -> None:
    with pytest.raises(ValueError, match="unknown rounding policy"):
        money.apply_rate(1001, 500_000, 9)


@pytest.mark.parametrize(
    ("total", "weights", "expected"),
    [
        (100, [1, 1, 1], [34, 33, 33]),  # ties go to the earlier line
        (1000, [500, 300, 200], [500, 300, 200]),
        (10, [1, 2, 3, 4], [1, 2, 3, 4]),
        (7, [3, 3, 1], [3, 3, 1]),
        (5, [0, 1, 0, 1], [0, 3, 0, 2]),
        (0, [0, 0], [0, 0]),
        (0, [5, 7], [0, 0]),
        (1, [1, 1, 1, 1], [1, 0, 0, 0]),
        (999, [1999, 2999, 4999], [200, 300, 499]),  # floors 199/299/499, remainders .76/.69/.55
        (MAX_AMOUNT, [MAX_AMOUNT, 1], [MAX_AMOUNT - 1, 1]),
    ],
)
def test_allocate(money: ModuleType, total: int, weights: list[int], expected: list[int]) -> None:
    parts = money.allocate(total, array("q", weights))
    assert list(parts) == expected
    assert sum(parts) == total


def test_allocate_refuses_what_it_cannot_split(money: ModuleType) -> None:
    with pytest.raises(ValueError, match="all zero"):
        money.allocate(5, array("q", [0, 0]))
    for total, weights in [(-1, [1]), (MAX_AMOUNT + 1, [1]), (5, [-1, 2]), (5, [MAX_AMOUNT + 1])]:
        with pytest.raises(AmountOverflow):
            money.allocate(total, array("q", weights))
    with pytest.raises(AmountOverflow):
        money.allocate(5, array("q", [MAX_AMOUNT] * (MAX_WEIGHT_SUM // MAX_AMOUNT + 1)))


def test_allocate_many_lines(money: ModuleType) -> None:
    weights = array("q", [(n * 7919) % 1000 + 1 for n in range(10_000)])
    parts = money.allocate(123_456_789, weights)
    assert sum(parts) == 123_456_789
    total_weight = sum(weights)
    for part, weight in zip(parts, weights, strict=True):
        assert abs(part * total_weight - 123_456_789 * weight) < total_weight
