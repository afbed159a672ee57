"""Tax, cart totals and warehouse allocation kernels, with hand-computed fixtures."""

from __future__ import annotations

from array import array
from types import ModuleType

import pytest

from citadel._fast.common import MAX_AMOUNT, MAX_RATE_PPM, AmountOverflow, pack_text


def q(*values: int) -> array[int]:
    return array("q", values)


US, NY, CA = pack_text("US"), pack_text("NY"), pack_text("CA")
STANDARD, CLOTHING = 1, 2
# US-NY state 4 %, New York City 4.5 % (postal 100..), clothing exempt from the state tax in NY
RULES = {
    "rule_country": q(US, US, US),
    "rule_region": q(NY, NY, CA),
    "rule_postal": q(0, pack_text("100"), 0),
    "rule_postal_length": q(0, 3, 0),
    "rule_category": q(STANDARD, 0, 0),
    "rule_rate": q(40_000, 45_000, 72_500),
}


def test_rates_add_up_for_the_rules_an_address_matches(tax: ModuleType) -> None:
    lines = q(STANDARD, CLOTHING)
    assert list(tax.match_rates(lines, **RULES, country=US, region=NY, postal=pack_text("10001"))) == [
        85_000,
        45_000,
    ]
    assert list(tax.match_rates(lines, **RULES, country=US, region=NY, postal=pack_text("14201"))) == [
        40_000,
        0,
    ]
    assert list(tax.match_rates(lines, **RULES, country=US, region=CA, postal=pack_text("94105"))) == [
        72_500,
        72_500,
    ]
    assert list(tax.match_rates(lines, **RULES, country=pack_text("DE"), region=0, postal=0)) == [0, 0]


def test_exclusive_and_inclusive_tax_round_per_line(tax: ModuleType) -> None:
    taxes, nets = tax.line_taxes(q(1999, 1000), q(88_750, 88_750), False)
    assert (list(taxes), list(nets)) == ([177, 89], [1999, 1000])  # 177.41 -> 177, 88.75 -> 89
    taxes, nets = tax.line_taxes(q(1190, 1000), q(190_000, 190_000), True)
    assert (list(taxes), list(nets)) == ([190, 160], [1000, 840])  # 1000/1.19 = 840.34 -> 840


def test_tax_bounds(tax: ModuleType) -> None:
    with pytest.raises(AmountOverflow):
        tax.line_taxes(q(MAX_AMOUNT + 1), q(0), False)
    with pytest.raises(AmountOverflow):
        tax.line_taxes(q(1), q(MAX_RATE_PPM + 1), True)
    too_much = {**RULES, "rule_rate": q(MAX_RATE_PPM, MAX_RATE_PPM, 0)}
    with pytest.raises(AmountOverflow):
        tax.match_rates(q(STANDARD), **too_much, country=US, region=NY, postal=pack_text("10001"))


def test_exclusive_cart_totals(cart: ModuleType) -> None:
    taxes, line_totals, summary = cart.totals(
        q(1999, 500), q(2, 3), q(400, 0), q(88_750, 0), 799, 88_750, False
    )
    # 39.98 - 4.00 = 35.98 taxed 8.875 % = 3.193 -> 3.19; 15.00 untaxed; shipping 7.99 + 0.709 -> 0.71
    assert list(taxes) == [319, 0]
    assert list(line_totals) == [3917, 1500]
    assert list(summary) == [5498, 400, 390, 799, 71, 3917 + 1500 + 799 + 71]


def test_inclusive_cart_totals_hold_their_tax(cart: ModuleType) -> None:
    taxes, line_totals, summary = cart.totals(q(1190), q(1), q(0), q(190_000), 595, 190_000, True)
    assert (list(taxes), list(line_totals)) == ([190], [1190])
    assert list(summary) == [1190, 0, 190 + 95, 595, 95, 1190 + 595]


def test_cart_refuses_what_does_not_add_up(cart: ModuleType) -> None:
    with pytest.raises(ValueError, match="discount"):
        cart.totals(q(100), q(1), q(101), q(0), 0, 0, False)
    with pytest.raises(AmountOverflow):
        cart.totals(q(MAX_AMOUNT // 2 + 1, MAX_AMOUNT // 2 + 1), q(1, 1), q(0, 0), q(0, 0), 0, 0, False)


def test_one_warehouse_ships_the_whole_order_when_it_can(inventory: ModuleType) -> None:
    # three warehouses × two lines; only the third has everything, though the first ranks higher
    available = q(5, 0, 1, 9, 5, 2)
    allocation, complete = inventory.allocate_lines(q(2, 2), available, q(1, 2, 3))
    assert complete and list(allocation) == [0, 0, 0, 0, 2, 2]


def test_otherwise_lines_fill_by_priority_then_stock(inventory: ModuleType) -> None:
    available = q(1, 0, 3, 2, 3, 2)  # nobody has both lines fully
    allocation, complete = inventory.allocate_lines(q(4, 3), available, q(1, 2, 2))
    # line 0: warehouse 0 (priority 1) gives 1, then the better stocked of the two priority-2 ones
    assert complete and list(allocation) == [1, 0, 3, 2, 0, 1]
    short, complete = inventory.allocate_lines(q(10, 0), available, q(1, 2, 2))
    assert not complete and sum(short[0::2]) == 7


def test_shipping_costs_per_method(cart: ModuleType) -> None:
    # flat 7.99; 5.00 + 1.00/kg; 9.99 free from 50.00 — for a 1.25 kg cart of 49.99, then 50.00
    base, per_kg, free_above = q(799, 500, 999), q(0, 100, 0), q(-1, -1, 5000)
    assert list(cart.shipping_costs(base, per_kg, free_above, 1250, 4999)) == [799, 625, 999]
    assert list(cart.shipping_costs(base, per_kg, free_above, 1250, 5000)) == [799, 625, 0]
    assert list(cart.shipping_costs(base, per_kg, free_above, 1249, 5000)) == [799, 625, 0]  # 124.9 -> 125
    assert list(cart.shipping_costs(base, per_kg, free_above, 1240, 5000, 2)) == [799, 624, 0]  # down


def test_shipping_cost_bounds(cart: ModuleType) -> None:
    with pytest.raises(AmountOverflow):
        cart.shipping_costs(q(MAX_AMOUNT), q(1000), q(-1), 1000, 0)  # base + 10.00 passes the bound
    with pytest.raises(AmountOverflow):
        cart.shipping_costs(q(0), q(0), q(-1), 10**9 + 1, 0)
    with pytest.raises(ValueError):
        cart.shipping_costs(q(0, 1), q(0), q(-1), 0, 0)
