"""Money arithmetic on integer minor units (compiled). Batches are ``array('q')`` of int64.

apply_rate(amount, rate_ppm, policy) -> int
    amount × rate_ppm / 1,000,000 rounded by policy (see ``citadel._fast.common``).
    Bounds: |amount| ≤ MAX_AMOUNT, 0 ≤ rate_ppm ≤ MAX_RATE_PPM, else AmountOverflow.
apply_rate_batch(amounts, rate_ppm, policy) -> array('q')
    One output per input amount, same bounds per amount; at most MAX_LINES amounts.
allocate(total, weights) -> array('q')
    Bounds: 0 ≤ total ≤ MAX_AMOUNT, 0 ≤ weight ≤ MAX_AMOUNT,
    sum of weights ≤ MAX_WEIGHT_SUM.
    Parts proportional to the weights that sum exactly to total: floor shares, then the
    leftover units one each to the largest remainders, ties to the lower index.
    ValueError if total > 0 and every weight is 0.
"""

from array import array

def apply_rate(amount: int, rate_ppm: int, policy: int = 0) -> int: ...
def apply_rate_batch(amounts: array[int], rate_ppm: int, policy: int = 0) -> array[int]: ...
def allocate(total: int, weights: array[int]) -> array[int]: ...
