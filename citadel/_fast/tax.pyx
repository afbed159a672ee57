# cython: language_level=3
"""Tax of many lines at once, compiled. Specification: ``tax_py.py``.

Rates are summed in 128 bits before their bound is checked; taxes are rounded per line exactly
as the twin rounds them (``_arith.pxi``).
"""

from array import array

from cpython.array cimport array as carray, clone

from citadel._fast.common import (
    MAX_AMOUNT,
    MAX_LINES,
    MAX_RATE_PPM,
    MAX_RULES,
    MAX_WEIGHT_SUM,
    ROUND_HALF_UP,
    AmountOverflow,
)

include "_arith.pxi"

cdef long long C_MAX_AMOUNT = MAX_AMOUNT
cdef long long C_MAX_RATE = MAX_RATE_PPM
cdef carray _INT64 = array("q")


cdef inline long long _prefix(long long value, long long length) noexcept nogil:
    return value >> (8 * (8 - length))


def match_rates(
    carray line_category not None,
    carray rule_country not None,
    carray rule_region not None,
    carray rule_postal not None,
    carray rule_postal_length not None,
    carray rule_category not None,
    carray rule_rate not None,
    long long country,
    long long region,
    long long postal,
):
    cdef Py_ssize_t n = len(line_category)
    cdef Py_ssize_t rules = len(rule_country)
    if not (len(rule_region) == len(rule_postal) == len(rule_postal_length) == len(rule_category)
            == len(rule_rate) == rules):
        raise ValueError("every rule column needs one value per rule")
    if n > MAX_LINES or rules > MAX_RULES:
        raise AmountOverflow(f"{n} lines or {rules} rules is more than {MAX_LINES} or {MAX_RULES}")
    cdef long long[:] cats = line_category
    cdef long long[:] rc = rule_country
    cdef long long[:] rr = rule_region
    cdef long long[:] rp = rule_postal
    cdef long long[:] rl = rule_postal_length
    cdef long long[:] rcat = rule_category
    cdef long long[:] rate = rule_rate
    cdef long long matched_category[1000]
    cdef long long matched_rate[1000]
    cdef Py_ssize_t m = 0, r, i, j
    for r in range(rules):
        check_range(rate[r], 0, C_MAX_RATE, f"rule {r}: ppm")
        if rl[r] < 0 or rl[r] > 8:
            raise ValueError(f"rule {r}: a postal prefix has 0 to 8 characters")
        if rc[r] != country or (rr[r] != 0 and rr[r] != region):
            continue
        if rl[r] and _prefix(rp[r], rl[r]) != _prefix(postal, rl[r]):
            continue
        matched_category[m] = rcat[r]
        matched_rate[m] = rate[r]
        m += 1
    cdef carray out = clone(_INT64, n, zero=False)
    cdef int128 total
    for i in range(n):
        total = 0
        for j in range(m):
            if matched_category[j] == 0 or matched_category[j] == cats[i]:
                total += matched_rate[j]
        if total > C_MAX_RATE:
            raise AmountOverflow(f"line {i}: the rates add up to {<long long> total} ppm, past {MAX_RATE_PPM}")
        out.data.as_longlongs[i] = <long long> total
    return out


def line_taxes(carray amounts not None, carray rates not None, bint inclusive, int policy=ROUND_HALF_UP):
    cdef Py_ssize_t n = len(amounts)
    if len(rates) != n:
        raise ValueError("every line needs a rate")
    if n > MAX_LINES:
        raise AmountOverflow(f"{n} lines is more than {MAX_LINES}")
    cdef long long[:] a = amounts
    cdef long long[:] r = rates
    cdef carray taxes = clone(_INT64, n, zero=False)
    cdef carray nets = clone(_INT64, n, zero=False)
    cdef Py_ssize_t i
    cdef long long tax
    for i in range(n):
        check_range(a[i], 0, C_MAX_AMOUNT, "amount")
        check_range(r[i], 0, C_MAX_RATE, "rate ppm")
        tax = tax_of(a[i], r[i], inclusive, policy)
        taxes.data.as_longlongs[i] = tax
        nets.data.as_longlongs[i] = a[i] - tax if inclusive else a[i]
    return taxes, nets
