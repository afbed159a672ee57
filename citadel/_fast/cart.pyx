# cython: language_level=3
"""A cart's totals, compiled. Specification: ``cart_py.py``.

One pass over the lines: subtotal (checked), less the discount, taxed per line; then shipping
and the summary. Sums are kept in 128 bits and checked against MAX_AMOUNT as the twin checks them.
"""

from array import array

from cpython.array cimport array as carray, clone

from citadel._fast.common import (
    MAX_AMOUNT,
    MAX_LINES,
    MAX_QUANTITY,
    MAX_RATE_PPM,
    MAX_WEIGHT_GRAMS,
    MAX_WEIGHT_SUM,
    ROUND_HALF_UP,
    AmountOverflow,
)

include "_arith.pxi"

SUMMARY_FIELDS = ("subtotal", "discount", "tax", "shipping", "shipping_tax", "total")

cdef long long C_MAX_AMOUNT = MAX_AMOUNT
cdef long long C_MAX_QUANTITY = MAX_QUANTITY
cdef long long C_MAX_RATE = MAX_RATE_PPM
cdef long long C_MAX_WEIGHT = MAX_WEIGHT_GRAMS
cdef carray _INT64 = array("q")


cdef inline long long _bounded(int128 value, str what) except? -1:
    if value < 0 or value > C_MAX_AMOUNT:
        raise AmountOverflow(f"{what} {<long long> value} is outside 0..{MAX_AMOUNT}")
    return <long long> value


def totals(
    carray unit_prices not None,
    carray quantities not None,
    carray line_discounts not None,
    carray tax_rates not None,
    long long shipping,
    long long shipping_rate,
    bint inclusive,
    int policy=ROUND_HALF_UP,
):
    cdef Py_ssize_t n = len(unit_prices)
    if len(quantities) != n:
        raise ValueError("every line column needs one value per line")
    if n > MAX_LINES:
        raise AmountOverflow(f"{n} lines is more than {MAX_LINES}")
    cdef long long[:] p = unit_prices
    cdef long long[:] q = quantities
    cdef Py_ssize_t i
    cdef int128 product
    for i in range(n):  # the subtotals, checked before anything else (as the twin does)
        check_range(p[i], 0, C_MAX_AMOUNT, "unit price")
        check_range(q[i], 0, C_MAX_QUANTITY, "quantity")
        product = <int128> p[i] * q[i]
        _bounded(product, "line subtotal")
    if len(line_discounts) != n or len(tax_rates) != n:
        raise ValueError("every line needs a discount and a rate")
    cdef long long[:] d = line_discounts
    cdef long long[:] r = tax_rates
    cdef carray taxes = clone(_INT64, n, zero=False)
    cdef carray line_totals = clone(_INT64, n, zero=False)
    cdef long long subtotal_i, net, tax
    cdef int128 subtotal = 0, discount = 0, tax_sum = 0, total = 0
    for i in range(n):
        subtotal_i = p[i] * q[i]
        if d[i] < 0 or d[i] > subtotal_i:
            raise ValueError(f"line {i}: the discount {d[i]} is not within its subtotal")
    for i in range(n):
        subtotal_i = p[i] * q[i]
        net = subtotal_i - d[i]
        check_range(r[i], 0, C_MAX_RATE, "rate ppm")
        tax = tax_of(net, r[i], inclusive, policy)
        taxes.data.as_longlongs[i] = tax
        line_totals.data.as_longlongs[i] = net if inclusive else net + tax
        subtotal += subtotal_i
        discount += d[i]
        tax_sum += tax
        total += line_totals.data.as_longlongs[i]
    _bounded(shipping, "shipping")
    check_range(shipping_rate, 0, C_MAX_RATE, "rate ppm")
    cdef long long shipping_tax = tax_of(shipping, shipping_rate, inclusive, policy)
    total += shipping + (0 if inclusive else shipping_tax)
    cdef carray summary = clone(_INT64, 6, zero=False)
    summary.data.as_longlongs[0] = _bounded(subtotal, "subtotal")
    summary.data.as_longlongs[1] = <long long> discount
    summary.data.as_longlongs[2] = _bounded(tax_sum + shipping_tax, "tax")
    summary.data.as_longlongs[3] = shipping
    summary.data.as_longlongs[4] = shipping_tax
    summary.data.as_longlongs[5] = _bounded(total, "total")
    return taxes, line_totals, summary


def shipping_costs(
    carray base not None,
    carray per_kg not None,
    carray free_above not None,
    long long weight_grams,
    long long merchandise,
    int policy=ROUND_HALF_UP,
):
    cdef Py_ssize_t n = len(base)
    if len(per_kg) != n or len(free_above) != n:
        raise ValueError("every method needs a base, a per-kilogram amount and a threshold")
    if weight_grams < 0 or weight_grams > C_MAX_WEIGHT:
        raise AmountOverflow(f"weight {weight_grams} g is outside 0..{MAX_WEIGHT_GRAMS}")
    _bounded(merchandise, "merchandise")
    cdef long long[:] b = base
    cdef long long[:] k = per_kg
    cdef long long[:] f = free_above
    cdef carray costs = clone(_INT64, n, zero=True)
    cdef Py_ssize_t i
    for i in range(n):
        _bounded(b[i], "base amount")
        _bounded(k[i], "per-kilogram amount")
        if f[i] != -1:
            _bounded(f[i], "free-shipping threshold")
        if f[i] >= 0 and merchandise >= f[i]:
            continue
        costs.data.as_longlongs[i] = _bounded(
            <int128> b[i] + div_round(<int128> k[i] * weight_grams, 1000, policy), "shipping cost"
        )
    return costs
