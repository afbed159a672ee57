"""Money arithmetic on integer minor units: the pure-Python twin (and specification) of ``money``.

- ``apply_rate(amount, rate_ppm, policy)``: ``amount × rate / 1,000,000`` rounded by ``policy``.
- ``apply_rate_batch(amounts, rate_ppm, policy)``: the same over an ``array('q')``.
- ``allocate(total, weights)``: split ``total`` in proportion to ``weights`` so that the parts add
  up to ``total`` exactly (largest remainder; ties go to the earlier index).
"""

from __future__ import annotations

from array import array

from citadel._fast.common import (
    MAX_AMOUNT,
    MAX_LINES,
    MAX_RATE_PPM,
    MAX_WEIGHT_SUM,
    PPM,
    ROUND_DOWN,
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    ROUND_UP,
    AmountOverflow,
)


def _check_amount(value: int) -> None:
    if not -MAX_AMOUNT <= value <= MAX_AMOUNT:
        raise AmountOverflow(f"amount {value} is outside ±{MAX_AMOUNT}")


def _check_rate(rate_ppm: int) -> None:
    if not 0 <= rate_ppm <= MAX_RATE_PPM:
        raise AmountOverflow(f"rate {rate_ppm} ppm is outside 0..{MAX_RATE_PPM}")


def _div_round(numerator: int, denominator: int, policy: int) -> int:
    """``numerator / denominator`` (denominator > 0) rounded by ``policy``, symmetric around zero."""
    negative = numerator < 0
    quotient, remainder = divmod(-numerator if negative else numerator, denominator)
    if policy == ROUND_HALF_UP:
        quotient += 2 * remainder >= denominator
    elif policy == ROUND_HALF_EVEN:
        twice = 2 * remainder
        quotient += twice > denominator or (twice == denominator and quotient % 2 == 1)
    elif policy == ROUND_UP:
        quotient += remainder > 0
    elif policy != ROUND_DOWN:
        raise ValueError(f"unknown rounding policy {policy}")
    return -quotient if negative else quotient


def apply_rate(amount: int, rate_ppm: int, policy: int = ROUND_HALF_UP) -> int:
    _check_amount(amount)
    _check_rate(rate_ppm)
    return _div_round(amount * rate_ppm, PPM, policy)


def apply_rate_batch(amounts: array[int], rate_ppm: int, policy: int = ROUND_HALF_UP) -> array[int]:
    _check_rate(rate_ppm)
    if len(amounts) > MAX_LINES:
        raise AmountOverflow(f"{len(amounts)} lines is more than {MAX_LINES}")
    out = array("q", bytes(8 * len(amounts)))
    for i, amount in enumerate(amounts):
        _check_amount(amount)
        out[i] = _div_round(amount * rate_ppm, PPM, policy)
    return out


def allocate(total: int, weights: array[int]) -> array[int]:
    if not 0 <= total <= MAX_AMOUNT:
        raise AmountOverflow(f"total {total} is outside 0..{MAX_AMOUNT}")
    if len(weights) > MAX_LINES:
        raise AmountOverflow(f"{len(weights)} weights is more than {MAX_LINES}")
    weight_sum = 0
    for weight in weights:
        if not 0 <= weight <= MAX_AMOUNT:
            raise AmountOverflow(f"weight {weight} is outside 0..{MAX_AMOUNT}")
        weight_sum += weight
    if weight_sum > MAX_WEIGHT_SUM:
        raise AmountOverflow(f"the weights add up to more than {MAX_WEIGHT_SUM}")
    out = array("q", bytes(8 * len(weights)))
    if total == 0:
        return out
    if weight_sum == 0:
        raise ValueError("cannot allocate a non-zero total over weights that are all zero")
    remainders: list[tuple[int, int]] = []
    assigned = 0
    for i, weight in enumerate(weights):
        share, remainder = divmod(total * weight, weight_sum)
        out[i] = share
        assigned += share
        remainders.append((remainder, i))
    # The leftover units go to the largest remainders; on a tie the earlier line wins.
    remainders.sort(key=lambda item: (-item[0], item[1]))
    for _, i in remainders[: total - assigned]:
        out[i] += 1
    return out
