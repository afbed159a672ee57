"""Prices and discounts of many lines at once: the pure-Python twin (and specification) of ``pricing``.

``unit_prices(base, own, adjustment, list_price, list_discount_ppm, policy)``
    Per line: the variant's own price when it has one (``own >= 0``), else the product's base
    price plus the adjustment; then a price list's fixed price when it has one
    (``list_price >= 0``), else the price-list discount (ppm) off, rounded by ``policy``.
    Every price is checked to lie in 0..MAX_AMOUNT.

``apply_discounts(unit_prices, units, eligible, kind, value, cap, group, minimum, param_x,
                  param_y, tiers, policy) -> (line_discounts, rule_discounts)``
    Lines: ``unit_prices[i]`` and ``units[i]`` (the quantity); a line's subtotal is their product
    and must lie in 0..MAX_AMOUNT. Rules, in the order given: ``kind`` (see ``common``), ``value`` (ppm or
    an amount), ``cap`` (most the rule may give, -1 for no cap), ``group`` (0: stacks with
    everything; otherwise at most one rule of a group applies: the one that gives most, the
    earlier on a tie), ``minimum`` (the eligible subtotal the rule needs), ``param_x`` and
    ``param_y`` (buy x, get y), and ``tiers`` (TIERS pairs of threshold and ppm per rule,
    thresholds ascending, unused pairs -1). ``eligible`` is a rules × lines matrix, row by rule:
    1 when the rule applies to the line.
    The rules that apply do so in order, each on what the earlier ones left of every line (10 %
    off, then 10.00 off, takes the 10.00 from the reduced amounts); minimums and tiers judge
    the undiscounted eligible subtotal; a group's rules compete on the undiscounted subtotals.
    A line's discounts never exceed its subtotal, and a rule's total is the sum of its lines'
    parts, so the parts always add up.

``commissions(amounts, rates_ppm, policy) -> array('q')``
    Per line, the platform's commission on a vendor's sale: ``amount × rate / 1e6`` rounded by
    ``policy``, amounts in 0..MAX_AMOUNT and rates in 0..1,000,000 (at most the whole amount).
"""

from __future__ import annotations

from array import array

from citadel._fast.common import (
    DISCOUNT_BUY_X_GET_Y,
    DISCOUNT_FIXED,
    DISCOUNT_PERCENT,
    DISCOUNT_TIERED,
    MAX_AMOUNT,
    MAX_CELLS,
    MAX_LINES,
    MAX_QUANTITY,
    MAX_RULES,
    PPM,
    ROUND_HALF_UP,
    TIERS,
    AmountOverflow,
)
from citadel._fast.money_py import _div_round, allocate


def _zeros(n: int) -> array[int]:
    return array("q", bytes(8 * n))


def _price(value: int, what: str) -> int:
    if not 0 <= value <= MAX_AMOUNT:
        raise AmountOverflow(f"{what} {value} is outside 0..{MAX_AMOUNT}")
    return value


def unit_prices(
    base: array[int],
    own: array[int],
    adjustment: array[int],
    list_price: array[int],
    list_discount_ppm: array[int],
    policy: int = ROUND_HALF_UP,
) -> array[int]:
    n = len(base)
    if not (len(own) == len(adjustment) == len(list_price) == len(list_discount_ppm) == n):
        raise ValueError("every column needs one value per line")
    if n > MAX_LINES:
        raise AmountOverflow(f"{n} lines is more than {MAX_LINES}")
    out = _zeros(n)
    for i in range(n):
        if own[i] >= 0:
            price = _price(own[i], "price")
        else:
            _price(base[i], "base price")
            if not -MAX_AMOUNT <= adjustment[i] <= MAX_AMOUNT:
                raise AmountOverflow(f"adjustment {adjustment[i]} is outside ±{MAX_AMOUNT}")
            price = _price(base[i] + adjustment[i], "price")
        if list_price[i] >= 0:
            price = _price(list_price[i], "price-list price")
        elif list_discount_ppm[i]:
            if not 0 <= list_discount_ppm[i] <= PPM:
                raise AmountOverflow(f"discount {list_discount_ppm[i]} ppm is outside 0..{PPM}")
            price -= _div_round(price * list_discount_ppm[i], PPM, policy)
        out[i] = price
    return out


def _check_ppm(r: int, value: int) -> None:
    if not 0 <= value <= PPM:
        raise AmountOverflow(f"rule {r}: {value} ppm is outside 0..{PPM}")


def _percent(parts: list[int], lines: list[int], base: list[int], ppm: int, policy: int) -> None:
    for i in lines:
        parts[i] = _div_round(base[i] * ppm, PPM, policy)


def _fixed(parts: list[int], lines: list[int], base: list[int], amount: int) -> None:
    total = sum(base[i] for i in lines)
    if lines and total:
        shares = allocate(min(amount, total), array("q", [base[i] for i in lines]))
        for i, share in zip(lines, shares, strict=True):
            parts[i] = share


def _buy_x_get_y(
    parts: list[int],
    lines: list[int],
    base: list[int],
    units: array[int],
    prices: array[int],
    free: int,
    ppm: int,
    policy: int,
) -> None:
    # the cheapest units are the free ones; on equal prices the later line first
    for i in sorted(lines, key=lambda j: (prices[j], -j)):
        if free == 0:
            break
        take = min(free, units[i])
        parts[i] = min(_div_round(prices[i] * take * ppm, PPM, policy), base[i])
        free -= take


def _tier_rate(r: int, tiers: array[int], total: int) -> int:
    rate = 0
    for t in range(TIERS):
        threshold, ppm = tiers[(r * TIERS + t) * 2], tiers[(r * TIERS + t) * 2 + 1]
        if threshold < 0:
            break
        _check_ppm(r, ppm)
        if total >= threshold:
            rate = ppm
    return rate


def _rule_lines(
    r: int,
    kind: int,
    value: int,
    base: list[int],
    units: array[int],
    prices: array[int],
    lines: list[int],
    eligible_subtotal: int,
    param_x: int,
    param_y: int,
    tiers: array[int],
    policy: int,
) -> list[int]:
    """What rule ``r`` gives each line of what is left of it (``base``)."""
    parts = [0] * len(base)
    if kind == DISCOUNT_PERCENT:
        _check_ppm(r, value)
        _percent(parts, lines, base, value, policy)
    elif kind == DISCOUNT_FIXED:
        _price(value, f"rule {r}: amount")
        _fixed(parts, lines, base, value)
    elif kind == DISCOUNT_BUY_X_GET_Y:
        _check_ppm(r, value)
        if param_x < 1 or param_y < 1 or param_x + param_y > MAX_QUANTITY:
            raise ValueError(f"rule {r}: buy {param_x}, get {param_y} is not a valid offer")
        free = sum(units[i] for i in lines) // (param_x + param_y) * param_y
        _buy_x_get_y(parts, lines, base, units, prices, free, value, policy)
    elif kind == DISCOUNT_TIERED:
        rate = _tier_rate(r, tiers, eligible_subtotal)
        _percent(parts, lines, base, rate, policy)
    else:
        raise ValueError(f"rule {r}: unknown kind {kind}")
    return parts


def line_subtotals(unit_prices: array[int], units: array[int]) -> array[int]:
    """Unit price × quantity per line, each checked to lie in 0..MAX_AMOUNT."""
    n = len(unit_prices)
    if len(units) != n:
        raise ValueError("every line column needs one value per line")
    if n > MAX_LINES:
        raise AmountOverflow(f"{n} lines is more than {MAX_LINES}")
    out = _zeros(n)
    for i in range(n):
        _price(unit_prices[i], "unit price")
        if not 0 <= units[i] <= MAX_QUANTITY:
            raise AmountOverflow(f"quantity {units[i]} is outside 0..{MAX_QUANTITY}")
        out[i] = _price(unit_prices[i] * units[i], "line subtotal")
    return out


def apply_discounts(
    unit_prices: array[int],
    units: array[int],
    eligible: bytes | array[int],
    kind: array[int],
    value: array[int],
    cap: array[int],
    group: array[int],
    minimum: array[int],
    param_x: array[int],
    param_y: array[int],
    tiers: array[int],
    policy: int = ROUND_HALF_UP,
) -> tuple[array[int], array[int]]:
    subtotals = line_subtotals(unit_prices, units)
    n, rules = len(subtotals), len(kind)
    if not (len(value) == len(cap) == len(group) == len(minimum) == len(param_x) == len(param_y) == rules):
        raise ValueError("every rule column needs one value per rule")
    if len(eligible) != rules * n or len(tiers) != rules * TIERS * 2:
        raise ValueError("eligible holds rules × lines flags; tiers holds TIERS pairs per rule")
    if rules > MAX_RULES or rules * n > MAX_CELLS:
        raise AmountOverflow(f"{rules} rules over {n} lines is more than one call takes")

    def evaluate(r: int, base: list[int]) -> list[int]:
        lines = [i for i in range(n) if eligible[r * n + i]]
        eligible_subtotal = sum(subtotals[i] for i in lines)
        if eligible_subtotal < minimum[r]:  # thresholds judge the undiscounted subtotal
            return [0] * n
        parts = _rule_lines(
            r, kind[r], value[r], base, units, unit_prices, lines, eligible_subtotal, param_x[r],
            param_y[r], tiers, policy,
        )  # fmt: skip
        if 0 <= cap[r] < sum(parts):  # the cap, split in proportion to what the rule gave each line
            parts = list(allocate(cap[r], array("q", parts)))
        return parts

    # a group's rules compete on the undiscounted subtotals: the one that gives most applies
    undiscounted = list(subtotals)
    totals: list[int] = []
    for r in range(rules):
        if cap[r] > MAX_AMOUNT or minimum[r] > MAX_AMOUNT:
            raise AmountOverflow(f"rule {r}: cap or minimum is above {MAX_AMOUNT}")
        totals.append(sum(evaluate(r, undiscounted)) if group[r] > 0 else 0)
    winners: dict[int, int] = {}
    for r in range(rules):
        if group[r] > 0 and (group[r] not in winners or totals[r] > totals[winners[group[r]]]):
            winners[group[r]] = r
    # then the rules that apply, in order, each on what the earlier ones left of every line
    remaining = list(subtotals)
    line_discounts, rule_discounts = _zeros(n), _zeros(rules)
    for r in range(rules):
        if group[r] > 0 and winners[group[r]] != r:
            continue
        for i, part in enumerate(evaluate(r, remaining)):
            remaining[i] -= part
            line_discounts[i] += part
            rule_discounts[r] += part
    return line_discounts, rule_discounts


def commissions(amounts: array[int], rates_ppm: array[int], policy: int = ROUND_HALF_UP) -> array[int]:
    n = len(amounts)
    if len(rates_ppm) != n:
        raise ValueError("every line needs a rate")
    if n > MAX_LINES:
        raise AmountOverflow(f"{n} lines is more than {MAX_LINES}")
    out = _zeros(n)
    for i in range(n):
        _price(amounts[i], "amount")
        if not 0 <= rates_ppm[i] <= PPM:
            raise AmountOverflow(f"commission rate {rates_ppm[i]} ppm is outside 0..{PPM}")
        out[i] = _div_round(amounts[i] * rates_ppm[i], PPM, policy)
    return out
