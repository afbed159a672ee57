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

from citadel._fast.common import (
    MAX_AMOUNT,
    MAX_LINES,
    MAX_RATE_PPM,
    MAX_WEIGHT_SUM,
    ROUND_HALF_UP,
    AmountOverflow,
)

include "_arith.pxi"

cdef long long C_MAX_AMOUNT = MAX_AMOUNT
cdef long long C_MAX_RATE = MAX_RATE_PPM
cdef long long C_MAX_LINES = MAX_LINES
cdef carray _INT64 = array("q")


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
    return div_ppm(a * r, policy)


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
        dst[i] = div_ppm(a * r, policy)
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
    cdef Py_ssize_t i
    for i in range(n):
        if w[i] < 0 or w[i] > C_MAX_AMOUNT:
            raise AmountOverflow(f"weight {w[i]} is outside 0..{MAX_AMOUNT}")
    cdef carray out = clone(_INT64, n, zero=True)
    if n:
        allocate_into(total, &w[0], n, out.data.as_longlongs)
    elif total:
        raise ValueError("cannot allocate a non-zero total over weights that are all zero")
    return out
