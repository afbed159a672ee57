"""Tax of many lines at once: the pure-Python twin (and specification) of ``tax``.

``match_rates(line_category, rule_country, rule_region, rule_postal, rule_postal_length,
              rule_category, rule_rate, country, region, postal) -> rates``
    The rate (ppm) of each line at one address: the sum of every rule that matches it. A rule
    matches when its country is the address's, its region is 0 or the address's, its postal
    prefix (the first ``rule_postal_length`` characters, 0 for any) starts the address's postal
    code, and its category is 0 or the line's. Places and codes are packed with
    ``common.pack_text`` (8 ASCII characters, left-aligned); categories are small integers.
    A line's summed rate may not pass MAX_RATE_PPM.

``line_taxes(amounts, rates, inclusive, policy) -> (taxes, nets)``
    Per line, rounded by ``policy`` (half-up by default): exclusive prices get
    ``amount × rate / 1e6`` added; inclusive prices hold their tax, ``amount - net`` with
    ``net = amount × 1e6 / (1e6 + rate)``. Amounts lie in 0..MAX_AMOUNT.
"""

from __future__ import annotations

from array import array

from citadel._fast.common import (
    MAX_AMOUNT,
    MAX_LINES,
    MAX_RATE_PPM,
    MAX_RULES,
    PPM,
    ROUND_HALF_UP,
    AmountOverflow,
)
from citadel._fast.money_py import _div_round


def _prefix(value: int, length: int) -> int:
    return value >> (8 * (8 - length))


def match_rates(
    line_category: array[int],
    rule_country: array[int],
    rule_region: array[int],
    rule_postal: array[int],
    rule_postal_length: array[int],
    rule_category: array[int],
    rule_rate: array[int],
    country: int,
    region: int,
    postal: int,
) -> array[int]:
    n, rules = len(line_category), len(rule_country)
    if not (
        len(rule_region) == len(rule_postal) == len(rule_postal_length) == len(rule_category)
        == len(rule_rate) == rules
    ):  # fmt: skip
        raise ValueError("every rule column needs one value per rule")
    if n > MAX_LINES or rules > MAX_RULES:
        raise AmountOverflow(f"{n} lines or {rules} rules is more than {MAX_LINES} or {MAX_RULES}")
    matching: list[tuple[int, int]] = []  # (category, rate) of the rules this address matches
    for r in range(rules):
        if not 0 <= rule_rate[r] <= MAX_RATE_PPM:
            raise AmountOverflow(f"rule {r}: {rule_rate[r]} ppm is outside 0..{MAX_RATE_PPM}")
        length = rule_postal_length[r]
        if not 0 <= length <= 8:
            raise ValueError(f"rule {r}: a postal prefix has 0 to 8 characters")
        if rule_country[r] != country or (rule_region[r] and rule_region[r] != region):
            continue
        if length and _prefix(rule_postal[r], length) != _prefix(postal, length):
            continue
        matching.append((rule_category[r], rule_rate[r]))
    out = array("q", bytes(8 * n))
    for i in range(n):
        rate = sum(r for category, r in matching if category in (0, line_category[i]))
        if rate > MAX_RATE_PPM:
            raise AmountOverflow(f"line {i}: the rates add up to {rate} ppm, past {MAX_RATE_PPM}")
        out[i] = rate
    return out


def line_taxes(
    amounts: array[int], rates: array[int], inclusive: bool, policy: int = ROUND_HALF_UP
) -> tuple[array[int], array[int]]:
    n = len(amounts)
    if len(rates) != n:
        raise ValueError("every line needs a rate")
    if n > MAX_LINES:
        raise AmountOverflow(f"{n} lines is more than {MAX_LINES}")
    taxes, nets = array("q", bytes(8 * n)), array("q", bytes(8 * n))
    for i in range(n):
        amount, rate = amounts[i], rates[i]
        if not 0 <= amount <= MAX_AMOUNT:
            raise AmountOverflow(f"amount {amount} is outside 0..{MAX_AMOUNT}")
        if not 0 <= rate <= MAX_RATE_PPM:
            raise AmountOverflow(f"rate {rate} ppm is outside 0..{MAX_RATE_PPM}")
        if inclusive:
            nets[i] = _div_round(amount * PPM, PPM + rate, policy)
            taxes[i] = amount - nets[i]
        else:
            nets[i] = amount
            taxes[i] = _div_round(amount * rate, PPM, policy)
    return taxes, nets
