# cython: language_level=3
"""Money arithmetic on integer minor units, compiled. Specification: ``money_py.py``.

Invariants:
- Inputs are checked against the bounds in ``common`` before any arithmetic, so every product
  below fits: |amount| ≤ 1e12 and rate ≤ 9e6 ppm give |amount × rate| ≤ 9e18 < 2^63.
- ``allocate`` multiplies total × weight (up to 1e24) in 128-bit integers; the weights' sum is
  at most 2^62, so every remainder fits in int64.
- Rounding is symmetric around zero, exactly as the twin's ``_div_round``.
"""

from array import array

from cpython.array cimport array as carray, clone
from libc.stdlib cimport free, malloc, qsort

from citadel._fast.common import (
    MAX_AMOUNT,
    MAX_LINES,
    MAX_RATE_PPM,
    MAX_WEIGHT_SUM,
    ROUND_HALF_UP,
    AmountOverflow,
)

cdef extern from *:
    ctypedef long long int128 "__int128"

cdef long long C_MAX_AMOUNT = MAX_AMOUNT
cdef long long C_MAX_RATE = MAX_RATE_PPM
cdef long long C_MAX_LINES = MAX_LINES
cdef long long C_PPM = 1000000
cdef carray _INT64 = array("q")

cdef enum:
    HALF_UP = 0
    HALF_EVEN = 1
    DOWN = 2
    UP = 3


cdef struct Share:
    long long remainder
    Py_ssize_t index


cdef int _by_remainder_then_index(const void *a, const void *b) noexcept nogil:
    # largest remainder first; on a tie the lower index first
    cdef const Share *x = <const Share *> a
    cdef const Share *y = <const Share *> b
    if x.remainder != y.remainder:
        return -1 if x.remainder > y.remainder else 1
    return -1 if x.index < y.index else (1 if x.index > y.index else 0)


cdef inline long long _div_round(long long numerator, long long denominator, int policy) except? -1:
    cdef bint negative = numerator < 0
    cdef long long magnitude = -numerator if negative else numerator
    cdef long long quotient = magnitude // denominator
    cdef long long remainder = magnitude - quotient * denominator
    if policy == HALF_UP:
        if 2 * remainder >= denominator:
            quotient += 1
    elif policy == HALF_EVEN:
        if 2 * remainder > denominator or (2 * remainder == denominator and quotient % 2 == 1):
            quotient += 1
    elif policy == UP:
        if remainder > 0:
            quotient += 1
    elif policy != DOWN:
        raise ValueError(f"unknown rounding policy {policy}")
    return -quotient if negative else quotient


cdef inline int _check_amount(object value) except -1:
    if not -C_MAX_AMOUNT <= value <= C_MAX_AMOUNT:
        raise AmountOverflow(f"amount {value} is outside ±{MAX_AMOUNT}")
    return 0


cdef inline int _check_rate(object rate_ppm) except -1:
    if not 0 <= rate_ppm <= C_MAX_RATE:
        raise AmountOverflow(f"rate {rate_ppm} ppm is outside 0..{MAX_RATE_PPM}")
    return 0


def apply_rate(amount, rate_ppm, int policy=ROUND_HALF_UP):
    _check_amount(amount)
    _check_rate(rate_ppm)
    cdef long long a = amount
    cdef long long r = rate_ppm
    return _div_round(a * r, C_PPM, policy)


def apply_rate_batch(carray amounts not None, rate_ppm, int policy=ROUND_HALF_UP):
    _check_rate(rate_ppm)
    if amounts.ob_descr.typecode != b"q":
        raise TypeError("amounts must be an array('q')")
    cdef Py_ssize_t n = len(amounts)
    if n > C_MAX_LINES:
        raise AmountOverflow(f"{n} lines is more than {MAX_LINES}")
    cdef long long r = rate_ppm
    cdef carray out = clone(_INT64, n, zero=False)
    cdef long long[:] src = amounts
    cdef long long[:] dst = out
    cdef Py_ssize_t i
    cdef long long a
    for i in range(n):
        a = src[i]
        if a < -C_MAX_AMOUNT or a > C_MAX_AMOUNT:
            raise AmountOverflow(f"amount {a} is outside ±{MAX_AMOUNT}")
        dst[i] = _div_round(a * r, C_PPM, policy)
    return out


def allocate(total, carray weights not None):
    if not 0 <= total <= C_MAX_AMOUNT:
        raise AmountOverflow(f"total {total} is outside 0..{MAX_AMOUNT}")
    if weights.ob_descr.typecode != b"q":
        raise TypeError("weights must be an array('q')")
    cdef Py_ssize_t n = len(weights)
    if n > C_MAX_LINES:
        raise AmountOverflow(f"{n} weights is more than {MAX_LINES}")
    cdef long long[:] w = weights
    cdef carray out = clone(_INT64, n, zero=True)
    cdef long long[:] dst = out
    cdef long long t = total
    cdef int128 weight_sum = 0
    cdef Py_ssize_t i
    for i in range(n):
        if w[i] < 0 or w[i] > C_MAX_AMOUNT:
            raise AmountOverflow(f"weight {w[i]} is outside 0..{MAX_AMOUNT}")
        weight_sum += w[i]
    if weight_sum > <int128> MAX_WEIGHT_SUM:
        raise AmountOverflow(f"the weights add up to more than {MAX_WEIGHT_SUM}")
    if t == 0:
        return out
    if weight_sum == 0:
        raise ValueError("cannot allocate a non-zero total over weights that are all zero")
    cdef Share *shares = <Share *> malloc(n * sizeof(Share))
    if shares == NULL:
        raise MemoryError()
    cdef int128 product
    cdef long long assigned = 0
    cdef long long leftover
    try:
        for i in range(n):
            product = <int128> t * w[i]
            dst[i] = <long long> (product / weight_sum)
            shares[i].remainder = <long long> (product - <int128> dst[i] * weight_sum)
            shares[i].index = i
            assigned += dst[i]
        # fewer than n units are left over: one each to the largest remainders
        leftover = t - assigned
        if leftover > 0:
            qsort(shares, n, sizeof(Share), _by_remainder_then_index)
            for i in range(leftover):
                dst[shares[i].index] += 1
    finally:
        free(shares)
    return out
