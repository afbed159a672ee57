"""Prices and discounts of many lines (compiled). Columns are ``array('q')``, one value per line
or per rule; the full rules are in ``pricing_py.py``.

unit_prices(base, own, adjustment, list_price, list_discount_ppm, policy) -> array('q')
    Per line: own price (own >= 0) or base + adjustment; then the price list's price
    (list_price >= 0) or its discount in ppm. Prices lie in 0..MAX_AMOUNT.
line_subtotals(unit_prices, units) -> array('q')
    unit price × quantity, each in 0..MAX_AMOUNT (quantities in 0..MAX_QUANTITY).
apply_discounts(unit_prices, units, eligible, kind, value, cap, group, minimum, param_x,
                param_y, tiers, policy) -> (line_discounts, rule_discounts)
    Lines: unit_prices, units. Rules (one value each): kind (common.DISCOUNT_*), value (ppm or
    amount), cap (-1: none), group (0: stacks; else the best rule of the group alone), minimum
    (eligible subtotal needed), param_x/param_y (buy x get y). eligible: rules × lines bytes,
    row by rule (non-zero: applies). tiers: rules × TIERS × (threshold, ppm), -1 ends a rule's
    tiers. At most MAX_RULES rules and MAX_CELLS rules × lines.
commissions(amounts, rates_ppm, policy) -> array('q')
    Per line: amount × rate / 1e6 (rate in 0..1e6), rounded by policy.
"""

from array import array

def unit_prices(
    base: array[int],
    own: array[int],
    adjustment: array[int],
    list_price: array[int],
    list_discount_ppm: array[int],
    policy: int = 0,
) -> array[int]: ...
def line_subtotals(unit_prices: array[int], units: array[int]) -> array[int]: ...
def apply_discounts(
    unit_prices: array[int],
    units: array[int],
    eligible: bytes,
    kind: array[int],
    value: array[int],
    cap: array[int],
    group: array[int],
    minimum: array[int],
    param_x: array[int],
    param_y: array[int],
    tiers: array[int],
    policy: int = 0,
) -> tuple[array[int], array[int]]: ...
def commissions(amounts: array[int], rates_ppm: array[int], policy: int = 0) -> array[int]: ...
