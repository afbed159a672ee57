"""The compiled kernels and their twins agree on random inputs, edges and errors included."""

from __future__ import annotations

from array import array
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from citadel._fast import cart_py, inventory_py, pricing_py, tax_py
from citadel._fast.common import (
    MAX_AMOUNT,
    MAX_QUANTITY,
    MAX_RATE_PPM,
    PPM,
    ROUNDING_POLICIES,
    TIERS,
    AmountOverflow,
)
from tests._fast.conftest import cart_c, inventory_c, pricing_c, tax_c

pytestmark = pytest.mark.skipif(
    None in (pricing_c, tax_c, cart_c, inventory_c), reason="the compiled kernels are not built"
)

policies = st.sampled_from(sorted(ROUNDING_POLICIES.values()))
# mostly ordinary values, sometimes the bounds and just past them
amounts = st.one_of(st.integers(0, 100_000), st.integers(MAX_AMOUNT - 2, MAX_AMOUNT + 2), st.just(-1))
quantities = st.one_of(st.integers(0, 20), st.integers(MAX_QUANTITY - 1, MAX_QUANTITY + 1))
ppms = st.one_of(st.integers(0, PPM), st.integers(PPM - 1, PPM + 1), st.just(-1))
tax_rates = st.one_of(st.integers(0, 300_000), st.integers(MAX_RATE_PPM - 1, MAX_RATE_PPM + 1))


def q(values: list[int]) -> array[int]:
    return array("q", values)


def outcome(fn: Any, *args: Any) -> Any:
    try:
        result = fn(*args)
    except (AmountOverflow, ValueError) as exc:
        return type(exc).__name__
    if isinstance(result, tuple):
        return tuple(list(r) if isinstance(r, array) else r for r in result)
    return list(result)


@settings(max_examples=300)
@given(st.lists(st.tuples(amounts, st.integers(-1, 100_000), st.integers(-200_000, 200_000),
                          st.integers(-1, 100_000), ppms), max_size=12), policies)  # fmt: skip
def test_unit_prices_agree(lines: list[tuple[int, ...]], policy: int) -> None:
    columns = [q([line[c] for line in lines]) for c in range(5)]
    assert outcome(pricing_c.unit_prices, *columns, policy) == outcome(
        pricing_py.unit_prices, *columns, policy
    )


rule = st.fixed_dictionaries(
    {
        "kind": st.integers(0, 4),
        "value": st.one_of(ppms, amounts),
        "cap": st.one_of(st.just(-1), st.integers(0, 50_000)),
        "group": st.integers(0, 2),
        "minimum": st.one_of(st.just(0), st.integers(0, 200_000)),
        "x": st.integers(0, 4),
        "y": st.integers(0, 3),
        "tiers": st.lists(st.tuples(st.integers(0, 300_000), st.integers(0, PPM)), max_size=TIERS).map(
            sorted
        ),
    }
)


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 20_000), quantities), min_size=0, max_size=10),
    st.lists(rule, max_size=5),
    st.randoms(use_true_random=False),
    policies,
)
def test_discounts_agree(lines: list[tuple[int, int]], rules: list[dict], rnd: Any, policy: int) -> None:
    prices, units = q([p for p, _ in lines]), q([u for _, u in lines])
    eligible = bytes(rnd.random() < 0.7 for _ in range(len(rules) * len(lines)))
    tiers: list[int] = []
    for r in rules:
        for t in range(TIERS):
            tiers += list(r["tiers"][t]) if t < len(r["tiers"]) else [-1, -1]
    columns = [q([r[name] for r in rules]) for name in ("kind", "value", "cap", "group", "minimum", "x", "y")]
    args = (prices, units, eligible, *columns, q(tiers), policy)
    compiled = outcome(pricing_c.apply_discounts, *args)
    assert compiled == outcome(pricing_py.apply_discounts, *args)
    if isinstance(compiled, tuple):
        line_discounts, rule_discounts = compiled
        assert sum(line_discounts) == sum(rule_discounts)
        assert all(0 <= d <= p * u for d, p, u in zip(line_discounts, prices, units, strict=True))


@settings(max_examples=300)
@given(
    st.lists(st.integers(0, 3), max_size=8),
    st.lists(st.tuples(st.sampled_from(["US", "CA"]), st.sampled_from(["", "NY", "ON"]),
                       st.sampled_from(["", "1", "10", "100"]), st.integers(0, 3), tax_rates), max_size=6),
    st.sampled_from(["US", "CA"]), st.sampled_from(["NY", "ON"]), st.sampled_from(["10001", "14201", "M5V"]),
)  # fmt: skip
def test_rate_matching_agrees(
    lines: list[int], rules: list[tuple], country: str, region: str, postal: str
) -> None:
    from citadel._fast.common import pack_text

    columns = (
        q(lines),
        q([pack_text(r[0]) for r in rules]),
        q([pack_text(r[1]) if r[1] else 0 for r in rules]),
        q([pack_text(r[2]) for r in rules]),
        q([len(r[2]) for r in rules]),
        q([r[3] for r in rules]),
        q([r[4] for r in rules]),
        pack_text(country),
        pack_text(region),
        pack_text(postal),
    )
    assert outcome(tax_c.match_rates, *columns) == outcome(tax_py.match_rates, *columns)


@settings(max_examples=300)
@given(st.lists(st.tuples(amounts, tax_rates), max_size=12), st.booleans(), policies)
def test_line_taxes_agree(lines: list[tuple[int, int]], inclusive: bool, policy: int) -> None:
    args = (q([a for a, _ in lines]), q([r for _, r in lines]), inclusive, policy)
    assert outcome(tax_c.line_taxes, *args) == outcome(tax_py.line_taxes, *args)


@settings(max_examples=300)
@given(
    st.lists(st.tuples(st.integers(0, 50_000), quantities, st.integers(0, 60_000), tax_rates), max_size=10),
    amounts, tax_rates, st.booleans(), policies,
)  # fmt: skip
def test_cart_totals_agree(
    lines: list[tuple[int, ...]], shipping: int, rate: int, inclusive: bool, policy: int
) -> None:
    args = (*(q([line[c] for line in lines]) for c in range(4)), shipping, rate, inclusive, policy)
    compiled = outcome(cart_c.totals, *args)
    assert compiled == outcome(cart_py.totals, *args)
    if isinstance(compiled, tuple):
        _, line_totals, summary = compiled
        assert summary[5] == sum(line_totals) + summary[3] + (0 if inclusive else summary[4])


@settings(max_examples=300)
@given(
    st.integers(0, 6).flatmap(
        lambda n: st.tuples(
            st.lists(st.integers(0, 8), min_size=n, max_size=n),
            st.integers(0, 4).flatmap(
                lambda w: st.tuples(
                    st.lists(st.integers(0, 8), min_size=w * n, max_size=w * n),
                    st.lists(st.integers(0, 3), min_size=w, max_size=w),
                )
            ),
        )
    )
)
def test_allocation_agrees(case: tuple) -> None:
    quantities_, (available, priority) = case
    args = (q(quantities_), q(available), q(priority))
    compiled = outcome(inventory_c.allocate_lines, *args)
    assert compiled == outcome(inventory_py.allocate_lines, *args)
    allocation, complete = compiled
    n = len(quantities_)
    for i in range(n):
        given_ = sum(allocation[w * n + i] for w in range(len(priority)))
        assert given_ <= quantities_[i] and (given_ == quantities_[i] or not complete)
        assert all(allocation[w * n + i] <= available[w * n + i] for w in range(len(priority)))


@settings(max_examples=300)
@given(
    st.integers(0, 8).flatmap(
        lambda n: st.tuples(st.lists(amounts, min_size=n, max_size=n), st.lists(ppms, min_size=n, max_size=n))
    ),
    policies,
)
def test_commissions_agree(lines: tuple, policy: int) -> None:
    args = (q(lines[0]), q(lines[1]), policy)
    assert outcome(pricing_c.commissions, *args) == outcome(pricing_py.commissions, *args)


@settings(max_examples=300)
@given(
    st.integers(0, 5).flatmap(
        lambda n: st.tuples(
            st.lists(amounts, min_size=n, max_size=n),
            st.lists(amounts, min_size=n, max_size=n),
            st.lists(st.one_of(amounts, st.just(-1), st.just(-2)), min_size=n, max_size=n),
        )
    ),
    st.one_of(st.integers(0, 50_000), st.integers(10**9 - 1, 10**9 + 1), st.just(-1)),
    amounts,
    policies,
)
def test_shipping_costs_agree(methods: tuple, weight: int, merchandise: int, policy: int) -> None:
    args = (q(methods[0]), q(methods[1]), q(methods[2]), weight, merchandise, policy)
    assert outcome(cart_c.shipping_costs, *args) == outcome(cart_py.shipping_costs, *args)
