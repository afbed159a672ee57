"""A cart's totals (compiled). Columns are ``array('q')``, one value per line; see ``cart_py.py``.

totals(unit_prices, quantities, line_discounts, tax_rates, shipping, shipping_rate, inclusive,
       policy) -> (line_taxes, line_totals, summary)
    summary: array('q') of SUMMARY_FIELDS = subtotal, discount, tax, shipping, shipping_tax,
    total (what is charged: line totals + shipping + shipping tax unless prices include tax).
shipping_costs(base, per_kg, free_above, weight_grams, merchandise, policy) -> array('q')
    One value per shipping method: 0 when merchandise reaches free_above (-1: never free), else
    base + per_kg × weight_grams / 1000 (rounded by policy).
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
def shipping_costs(
    base: array[int],
    per_kg: array[int],
    free_above: array[int],
    weight_grams: int,
    merchandise: int,
    policy: int = 0,
) -> array[int]: ...
