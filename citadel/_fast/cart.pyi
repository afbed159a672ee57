"""A cart's totals (compiled). Columns are ``array('q')``, one value per line; see ``cart_py.py``.

totals(unit_prices, quantities, line_discounts, tax_rates, shipping, shipping_rate, inclusive,
       policy) -> (line_taxes, line_totals, summary)
    summary: array('q') of SUMMARY_FIELDS = subtotal, discount, tax, shipping, shipping_tax,
    total (what is charged: line totals + shipping + shipping tax unless prices include tax).
"""

from array import array

SUMMARY_FIELDS: tuple[str, ...]

def totals(
    unit_prices: array[int],
    quantities: array[int],
    line_discounts: array[int],
    tax_rates: array[int],
    shipping: int,
    shipping_rate: int,
    inclusive: bool,
    policy: int = 0,
) -> tuple[array[int], array[int], array[int]]: ...
