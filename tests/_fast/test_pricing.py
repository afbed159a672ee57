"""Pricing kernel: unit prices from base, variant and price list; discount rules on lines."""

from __future__ import annotations

from array import array
from types import ModuleType

import pytest

from citadel._fast.common import (
    DISCOUNT_BUY_X_GET_Y as BXGY,
)
from citadel._fast.common import (
    DISCOUNT_FIXED as FIXED,
)
from citadel._fast.common import (
    DISCOUNT_PERCENT as PERCENT,
)
from citadel._fast.common import (
    DISCOUNT_TIERED as TIERED,
)
from citadel._fast.common import (
    MAX_AMOUNT,
    ROUND_DOWN,
    TIERS,
    AmountOverflow,
)


def q(*values: int) -> array[int]:
    return array("q", values)


def test_unit_prices(pricing: ModuleType) -> None:
    prices = pricing.unit_prices(
        q(1000, 1000, 1000, 1000, 999),  # base
        q(-1, 1500, -1, -1, -1),  # own price
        q(250, 0, -100, 0, 0),  # adjustment
        q(-1, -1, 700, -1, -1),  # price-list price
        q(0, 0, 0, 100_000, 125_000),  # price-list discount
    )
    assert list(prices) == [1250, 1500, 700, 900, 874]  # 999 × 12.5 % = 124.875 -> 125


@pytest.mark.parametrize(
    "columns",
    [
        (q(MAX_AMOUNT + 1), q(-1), q(0), q(-1), q(0)),
        (q(100), q(-1), q(-200), q(-1), q(0)),  # base + adjustment below zero
        (q(100), q(-1), q(0), q(-1), q(1_000_001)),
    ],
)
def test_unit_price_bounds(pricing: ModuleType, columns: tuple) -> None:
    with pytest.raises(AmountOverflow):
        pricing.unit_prices(*columns)


def _rules(*rules: dict) -> dict:
    """Rule columns from dicts (defaults: no cap, stacking, no minimum, no tiers)."""
    tiers: list[int] = []
    for rule in rules:
        pairs = rule.get("tiers", [])
        for t in range(TIERS):
            tiers += list(pairs[t]) if t < len(pairs) else [-1, -1]
    return {
        "kind": q(*(r["kind"] for r in rules)),
        "value": q(*(r.get("value", 0) for r in rules)),
        "cap": q(*(r.get("cap", -1) for r in rules)),
        "group": q(*(r.get("group", 0) for r in rules)),
        "minimum": q(*(r.get("minimum", 0) for r in rules)),
        "param_x": q(*(r.get("x", 0) for r in rules)),
        "param_y": q(*(r.get("y", 0) for r in rules)),
        "tiers": q(*tiers),
    }


def _apply(pricing: ModuleType, prices: list[int], units: list[int], eligible: list[list[int]], *rules: dict):  # type: ignore[no-untyped-def]
    lines, totals = pricing.apply_discounts(
        q(*prices), q(*units), bytes(flag for row in eligible for flag in row), **_rules(*rules)
    )
    return list(lines), list(totals)


def test_each_rule_applies_to_what_the_earlier_left_split_to_the_cent(pricing: ModuleType) -> None:
    # 10 % off the first two lines (333.3 -> 333 each), then 10.00 off all three, split in
    # proportion to what is left (3000, 3000, 3334): 321.40, 321.40, 357.19 -> the spare cent
    # goes to the largest remainder, the first line on a tie
    lines, totals = _apply(
        pricing, [3333, 3333, 3334], [1, 1, 1], [[1, 1, 0], [1, 1, 1]],
        {"kind": PERCENT, "value": 100_000}, {"kind": FIXED, "value": 1000},
    )  # fmt: skip
    assert totals == [666, 1000]
    assert lines == [333 + 322, 333 + 321, 357]
    assert sum(lines) == sum(totals)


def test_a_fixed_amount_never_passes_what_it_applies_to(pricing: ModuleType) -> None:
    lines, totals = _apply(pricing, [500], [1], [[1]], {"kind": FIXED, "value": 2000})
    assert (lines, totals) == ([500], [500])


def test_buy_two_get_one_makes_the_cheapest_free(pricing: ModuleType) -> None:
    lines, totals = _apply(
        pricing, [1000, 400], [3, 3], [[1, 1]], {"kind": BXGY, "value": 1_000_000, "x": 2, "y": 1}
    )
    assert (lines, totals) == ([0, 800], [800])  # six units: two free, the two cheapest


def test_tiers_caps_minimums_and_groups(pricing: ModuleType) -> None:
    tiered = {"kind": TIERED, "tiers": [(5000, 50_000), (10000, 100_000)]}
    assert _apply(pricing, [4000], [2], [[1]], tiered)[1] == [400]  # 80.00 reaches the 5 % tier
    assert _apply(pricing, [4000], [3], [[1]], tiered)[1] == [1200]  # 120.00 reaches 10 %
    assert _apply(pricing, [4000], [3], [[1]], {**tiered, "cap": 500})[1] == [500]
    assert _apply(pricing, [4000], [1], [[1]], {"kind": PERCENT, "value": 500_000, "minimum": 5000})[1] == [0]
    # one group: only the rule that gives most applies; the stacking rule applies as well
    lines, totals = _apply(
        pricing, [10000], [1], [[1], [1], [1]],
        {"kind": PERCENT, "value": 100_000, "group": 7},
        {"kind": FIXED, "value": 1500, "group": 7},
        {"kind": PERCENT, "value": 10_000},
    )  # fmt: skip
    assert (lines, totals) == ([1585], [0, 1500, 85])  # 1 % of the 85.00 the winner left


def test_discounts_never_take_a_line_below_zero(pricing: ModuleType) -> None:
    lines, totals = _apply(
        pricing,
        [1000],
        [1],
        [[1], [1]],
        {"kind": PERCENT, "value": 800_000},
        {"kind": PERCENT, "value": 500_000},
    )
    assert (lines, totals) == ([900], [800, 100])  # half of what 80 % off left


def test_capped_rules_split_the_cap_across_lines(pricing: ModuleType) -> None:
    lines, totals = _apply(
        pricing, [1000, 1000, 1000], [1, 1, 1], [[1, 1, 1]], {"kind": PERCENT, "value": 500_000, "cap": 1000}
    )
    assert totals == [1000]
    assert sorted(lines) == [333, 333, 334]


@pytest.mark.parametrize(
    ("prices", "units", "rule", "error"),
    [
        ([MAX_AMOUNT], [2], {"kind": PERCENT}, AmountOverflow),  # subtotal past the bound
        ([100], [1], {"kind": PERCENT, "value": 1_000_001}, AmountOverflow),
        ([100], [1], {"kind": BXGY, "value": 1_000_000, "x": 0, "y": 1}, ValueError),
        ([100], [1], {"kind": 9}, ValueError),
        ([100], [1], {"kind": FIXED, "value": MAX_AMOUNT + 1}, AmountOverflow),
    ],
)
def test_rule_errors(
    pricing: ModuleType, prices: list[int], units: list[int], rule: dict, error: type
) -> None:
    with pytest.raises(error):
        _apply(pricing, prices, units, [[1] * len(prices)], rule)


def test_commissions_round_per_line(pricing: ModuleType) -> None:
    # 15 % of 19.99 = 2.9985 -> 3.00; 2.5 % of 10.01 = 0.25025 -> 0.25; 0 % and 100 %
    out = pricing.commissions(q(1999, 1001, 500, 500), q(150_000, 25_000, 0, 1_000_000))
    assert list(out) == [300, 25, 0, 500]
    assert list(pricing.commissions(q(1999), q(150_000), ROUND_DOWN)) == [299]


def test_commission_bounds(pricing: ModuleType) -> None:
    with pytest.raises(AmountOverflow):
        pricing.commissions(q(MAX_AMOUNT + 1), q(0))
    with pytest.raises(AmountOverflow):
        pricing.commissions(q(1), q(1_000_001))
    with pytest.raises(ValueError):
        pricing.commissions(q(1, 2), q(0))
