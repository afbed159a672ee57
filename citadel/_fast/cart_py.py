"""A cart's totals: the pure-Python twin (and specification) of ``cart``.

``totals(unit_prices, quantities, line_discounts, tax_rates, shipping, shipping_rate, inclusive,
         policy) -> (line_taxes, line_totals, summary)``
    Per line: subtotal = unit price × quantity, less its discount (at most the subtotal), taxed
    at its rate (per line, rounded by ``policy``): added for exclusive prices, held for
    inclusive ones. Shipping is taxed the same way at ``shipping_rate``. ``summary`` is an
    ``array('q')`` of SUMMARY_FIELDS: subtotal, discount, tax (lines and shipping), shipping (as
    charged), shipping tax, and the total to charge, which is exactly the sum of the line
    totals, shipping and (for exclusive prices) shipping tax. Every amount, the total included,
    stays within 0..MAX_AMOUNT.

``shipping_costs(base, per_kg, free_above, weight_grams, merchandise, policy) -> array('q')``
    What each shipping method costs for one cart: nothing when the method has a free-shipping
    threshold (``free_above >= 0``) the merchandise reaches; otherwise its base amount plus its
    per-kilogram amount × the cart's weight in grams / 1000, rounded by ``policy``. Amounts lie
    in 0..MAX_AMOUNT (``free_above`` may be -1: never free), the weight in 0..MAX_WEIGHT_GRAMS,
    and every cost within 0..MAX_AMOUNT.
"""

from __future__ import annotations

from array import array

from citadel._fast.common import MAX_AMOUNT, MAX_WEIGHT_GRAMS, ROUND_HALF_UP, AmountOverflow
from citadel._fast.money_py import _div_round
from citadel._fast.pricing_py import line_subtotals
from citadel._fast.tax_py import line_taxes

SUMMARY_FIELDS = ("subtotal", "discount", "tax", "shipping", "shipping_tax", "total")


def _bounded(value: int, what: str) -> int:
    if not 0 <= value <= MAX_AMOUNT:
        raise AmountOverflow(f"{what} {value} is outside 0..{MAX_AMOUNT}")
    return value


def totals(
    unit_prices: array[int],
    quantities: array[int],
    line_discounts: array[int],
    tax_rates: array[int],
    shipping: int,
    shipping_rate: int,
    inclusive: bool,
    policy: int = ROUND_HALF_UP,
) -> tuple[array[int], array[int], array[int]]:
    subtotals = line_subtotals(unit_prices, quantities)
    n = len(subtotals)
    if len(line_discounts) != n or len(tax_rates) != n:
        raise ValueError("every line needs a discount and a rate")
    nets = array("q", bytes(8 * n))
    for i in range(n):
        if not 0 <= line_discounts[i] <= subtotals[i]:
            raise ValueError(f"line {i}: the discount {line_discounts[i]} is not within its subtotal")
        nets[i] = subtotals[i] - line_discounts[i]
    taxes, _ = line_taxes(nets, tax_rates, inclusive, policy)
    shipping_taxes, _ = line_taxes(
        array("q", [_bounded(shipping, "shipping")]), array("q", [shipping_rate]), inclusive, policy
    )
    line_totals = array("q", bytes(8 * n))
    for i in range(n):
        line_totals[i] = nets[i] if inclusive else nets[i] + taxes[i]
    shipping_tax = shipping_taxes[0]
    total = sum(line_totals) + shipping + (0 if inclusive else shipping_tax)
    summary = array(
        "q",
        [
            _bounded(sum(subtotals), "subtotal"),
            sum(line_discounts),
            _bounded(sum(taxes) + shipping_tax, "tax"),
            shipping,
            shipping_tax,
            _bounded(total, "total"),
        ],
    )
    return taxes, line_totals, summary


def shipping_costs(
    base: array[int],
    per_kg: array[int],
    free_above: array[int],
    weight_grams: int,
    merchandise: int,
    policy: int = ROUND_HALF_UP,
) -> array[int]:
    n = len(base)
    if len(per_kg) != n or len(free_above) != n:
        raise ValueError("every method needs a base, a per-kilogram amount and a threshold")
    if not 0 <= weight_grams <= MAX_WEIGHT_GRAMS:
        raise AmountOverflow(f"weight {weight_grams} g is outside 0..{MAX_WEIGHT_GRAMS}")
    _bounded(merchandise, "merchandise")
    costs = array("q", bytes(8 * n))
    for i in range(n):
        _bounded(base[i], "base amount")
        _bounded(per_kg[i], "per-kilogram amount")
        if free_above[i] != -1:
            _bounded(free_above[i], "free-shipping threshold")
        if free_above[i] >= 0 and merchandise >= free_above[i]:
            continue
        costs[i] = _bounded(base[i] + _div_round(per_kg[i] * weight_grams, 1000, policy), "shipping cost")
    return costs
