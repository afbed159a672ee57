"""What the compiled kernels and their twins share: rounding policies, bounds and errors."""

# Rounding policies (integers, so kernels can switch on them).
ROUND_HALF_UP = 0  # .5 away from zero: the default for money
ROUND_HALF_EVEN = 1  # .5 to the even neighbour (banker's rounding)
ROUND_DOWN = 2  # toward zero
ROUND_UP = 3  # away from zero

ROUNDING_POLICIES = {
    "half_up": ROUND_HALF_UP,
    "half_even": ROUND_HALF_EVEN,
    "down": ROUND_DOWN,
    "up": ROUND_UP,
}

PPM = 1_000_000  # rates are integers in parts per million: 8.875 % = 88_750

# Bounds that keep every intermediate product inside int64 in the kernels.
MAX_AMOUNT = 10**12  # minor units: ten billion in a 2-decimal currency
MAX_RATE_PPM = 9 * PPM  # 900 %
MAX_LINES = 10_000_000
MAX_WEIGHT_SUM = 2**62  # allocation weights together


class AmountOverflow(OverflowError):
    """An amount, rate or count is past the documented bounds (both implementations raise it)."""
