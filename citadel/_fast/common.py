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


MAX_QUANTITY = 1_000_000  # units of one line
MAX_RULES = 1_000  # discount or tax rules in one call
MAX_WAREHOUSES = 1_000
MAX_WEIGHT_GRAMS = 10**9  # a cart's weight: a thousand tonnes

# Discount rule kinds (pricing.apply_discounts)
DISCOUNT_PERCENT = 0  # value: ppm off each eligible line
DISCOUNT_FIXED = 1  # value: an amount off the eligible lines together, split in proportion
DISCOUNT_BUY_X_GET_Y = 2  # of every x + y eligible units, the y cheapest get value ppm off
DISCOUNT_TIERED = 3  # value ppm of the highest tier whose threshold the eligible subtotal reaches
TIERS = 4  # thresholds and rates per tiered rule


def pack_text(text: str) -> int:
    """Up to 8 ASCII characters as one int64, left-aligned: a prefix compares by its top bytes."""
    data = text.upper().encode("ascii", "replace")[:8]
    return int.from_bytes(data.ljust(8, b"\0"), "big")  # ASCII: the top bit is 0, a positive int64


MAX_CELLS = 10_000_000  # rules × lines (discounts) or warehouses × lines (allocation) in one call
