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
"""

from __future__ import annotations

from array import array

from citadel._fast.common import MAX_AMOUNT, ROUND_HALF_UP, AmountOverflow
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
