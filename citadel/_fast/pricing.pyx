# cython: language_level=3
"""Prices and discounts of many lines at once, compiled. Specification: ``pricing_py.py``.

Every input is checked against the bounds in ``common`` as the twin checks it, so both raise
AmountOverflow (or ValueError) on the same inputs. Products that can pass 2^63 (a price × units
× ppm in buy-x-get-y) are taken in 128 bits. Working memory for rules × lines is bounded by
MAX_CELLS.
"""

from array import array

from cpython.array cimport array as carray, clone
from libc.stdlib cimport free, malloc, qsort

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
    MAX_WEIGHT_SUM,
    ROUND_HALF_UP,
    TIERS,
    AmountOverflow,
)

include "_arith.pxi"

cdef long long C_MAX_AMOUNT = MAX_AMOUNT
cdef long long C_MAX_QUANTITY = MAX_QUANTITY
cdef Py_ssize_t C_TIERS = TIERS
cdef int K_PERCENT = DISCOUNT_PERCENT
cdef int K_FIXED = DISCOUNT_FIXED
cdef int K_BXGY = DISCOUNT_BUY_X_GET_Y
cdef int K_TIERED = DISCOUNT_TIERED
cdef carray _INT64 = array("q")


cdef inline int _q(carray column, str name) except -1:
    if column.ob_descr.typecode != b"q":
        raise TypeError(f"{name} must be an array('q')")
    return 0


def unit_prices(
    carray base not None,
    carray own not None,
    carray adjustment not None,
    carray list_price not None,
    carray list_discount_ppm not None,
    int policy=ROUND_HALF_UP,
):
    for column, name in ((base, "base"), (own, "own"), (adjustment, "adjustment"),
                         (list_price, "list_price"), (list_discount_ppm, "list_discount_ppm")):
        _q(column, name)
    cdef Py_ssize_t n = len(base)
    if not (len(own) == len(adjustment) == len(list_price) == len(list_discount_ppm) == n):
        raise ValueError("every column needs one value per line")
    if n > MAX_LINES:
        raise AmountOverflow(f"{n} lines is more than {MAX_LINES}")
    cdef long long[:] b = base
    cdef long long[:] o = own
    cdef long long[:] adj = adjustment
    cdef long long[:] lp = list_price
    cdef long long[:] ld = list_discount_ppm
    cdef carray out = clone(_INT64, n, zero=False)
    cdef long long[:] dst = out
    cdef Py_ssize_t i
    cdef long long price
    for i in range(n):
        if o[i] >= 0:
            check_range(o[i], 0, C_MAX_AMOUNT, "price")
            price = o[i]
        else:
            check_range(b[i], 0, C_MAX_AMOUNT, "base price")
            check_range(adj[i], -C_MAX_AMOUNT, C_MAX_AMOUNT, "adjustment")
            price = b[i] + adj[i]
            check_range(price, 0, C_MAX_AMOUNT, "price")
        if lp[i] >= 0:
            check_range(lp[i], 0, C_MAX_AMOUNT, "price-list price")
            price = lp[i]
        elif ld[i] != 0:
            check_range(ld[i], 0, PPM_C, "discount ppm")
            price -= div_ppm(price * ld[i], policy)
        dst[i] = price
    return out


cdef long long *_subtotals(carray unit_prices, carray units, Py_ssize_t *count) except NULL:
    _q(unit_prices, "unit_prices")
    _q(units, "units")
    cdef Py_ssize_t n = len(unit_prices)
    if len(units) != n:
        raise ValueError("every line column needs one value per line")
    if n > MAX_LINES:
        raise AmountOverflow(f"{n} lines is more than {MAX_LINES}")
    cdef long long[:] p = unit_prices
    cdef long long[:] u = units
    cdef long long *out = <long long *> malloc((n if n else 1) * sizeof(long long))
    if out == NULL:
        raise MemoryError()
    cdef Py_ssize_t i
    cdef int128 product
    try:
        for i in range(n):
            check_range(p[i], 0, C_MAX_AMOUNT, "unit price")
            check_range(u[i], 0, C_MAX_QUANTITY, "quantity")
            product = <int128> p[i] * u[i]
            if product > C_MAX_AMOUNT:
                raise AmountOverflow(f"line subtotal {<long long> product} is outside 0..{MAX_AMOUNT}")
            out[i] = <long long> product
    except BaseException:
        free(out)
        raise
    count[0] = n
    return out


def line_subtotals(carray unit_prices not None, carray units not None):
    cdef Py_ssize_t n
    cdef long long *subtotals = _subtotals(unit_prices, units, &n)
    cdef carray out = clone(_INT64, n, zero=False)
    cdef Py_ssize_t i
    try:
        for i in range(n):
            out.data.as_longlongs[i] = subtotals[i]
    finally:
        free(subtotals)
    return out


cdef struct Unit:
    long long price
    Py_ssize_t index


cdef int _cheapest_then_later(const void *a, const void *b) noexcept nogil:
    cdef const Unit *x = <const Unit *> a
    cdef const Unit *y = <const Unit *> b
    if x.price != y.price:
        return -1 if x.price < y.price else 1
    return -1 if x.index > y.index else (1 if x.index < y.index else 0)


cdef int _rule(
    Py_ssize_t r, int kind, long long value, const long long *base, const long long *units,
    const long long *prices, const unsigned char *eligible, Py_ssize_t n, long long eligible_subtotal,
    long long px, long long py, const long long *tiers, int policy, long long *parts, long long *scratch,
) except -1:
    """What rule r gives each line of what is left of it (base), into parts (zeroed by the
    caller); scratch holds 2n values."""
    cdef Py_ssize_t i, j, t, m = 0
    cdef long long rate, threshold, ppm, free_units, take, give
    cdef int128 total = 0
    cdef Unit *order
    if kind == K_PERCENT:
        check_range(value, 0, PPM_C, f"rule {r}: ppm")
        for i in range(n):  # branch-free: eligibility is data, and mispredicted branches cost most
            parts[i] = div_ppm(base[i] * value, policy) * (eligible[i] != 0)  # ≤ 1e18: 64 bits
    elif kind == K_FIXED:
        check_range(value, 0, C_MAX_AMOUNT, f"rule {r}: amount")
        for i in range(n):
            total += base[i] * (eligible[i] != 0)
        if total > 0:
            for i in range(n):  # the eligible lines' amounts, packed (store always, advance if eligible)
                scratch[m] = base[i]
                m += eligible[i] != 0
            allocate_into(value if value < total else <long long> total, scratch, m, scratch + m)
            j = 0
            for i in range(n):
                parts[i] = scratch[m + j] * (eligible[i] != 0)
                j += eligible[i] != 0
    elif kind == K_BXGY:
        check_range(value, 0, PPM_C, f"rule {r}: ppm")
        if px < 1 or py < 1 or px + py > C_MAX_QUANTITY:
            raise ValueError(f"rule {r}: buy {px}, get {py} is not a valid offer")
        free_units = 0
        for i in range(n):
            if eligible[i]:
                free_units += units[i]
        free_units = free_units // (px + py) * py
        order = <Unit *> malloc((n if n else 1) * sizeof(Unit))
        if order == NULL:
            raise MemoryError()
        try:
            for i in range(n):
                if eligible[i]:
                    order[m].price = prices[i]
                    order[m].index = i
                    m += 1
            qsort(order, m, sizeof(Unit), _cheapest_then_later)
            for t in range(m):
                if free_units == 0:
                    break
                i = order[t].index
                take = free_units if free_units < units[i] else units[i]
                give = div_round(<int128> prices[i] * take * value, PPM_C, policy)
                parts[i] = give if give < base[i] else base[i]
                free_units -= take
        finally:
            free(order)
    elif kind == K_TIERED:
        rate = 0
        for t in range(C_TIERS):
            threshold = tiers[t * 2]
            ppm = tiers[t * 2 + 1]
            if threshold < 0:
                break
            check_range(ppm, 0, PPM_C, f"rule {r}: tier ppm")
            if eligible_subtotal >= threshold:
                rate = ppm
        for i in range(n):
            parts[i] = div_ppm(base[i] * rate, policy) * (eligible[i] != 0)
    else:
        raise ValueError(f"rule {r}: unknown kind {kind}")
    return 0


cdef long long _evaluate(
    Py_ssize_t r, const long long *base, const long long *subtotals, const long long *units,
    const long long *prices, const unsigned char *eligible, Py_ssize_t n, long long[:] kind,
    long long[:] value, long long[:] cap, long long[:] minimum, long long[:] px, long long[:] py,
    long long[:] tiers, int policy, long long *parts, long long *scratch,
) except? -1:
    """Rule r on base: minimum, the rule itself, its cap; parts filled, their total returned."""
    cdef Py_ssize_t i
    cdef int128 eligible_subtotal = 0, total = 0
    for i in range(n):
        parts[i] = 0
        eligible_subtotal += subtotals[i] * (eligible[i] != 0)
    if eligible_subtotal < minimum[r]:  # thresholds judge the undiscounted subtotal
        return 0
    _rule(r, <int> kind[r], value[r], base, units, prices, eligible, n, <long long> eligible_subtotal,
          px[r], py[r], &tiers[r * C_TIERS * 2], policy, parts, scratch)
    if cap[r] < 0:
        return -2  # no cap: the caller that needs the total sums the parts itself
    for i in range(n):
        total += parts[i]
    if cap[r] < total:  # the cap, split in proportion to what the rule gave each line
        for i in range(n):
            scratch[i] = parts[i]
        allocate_into(cap[r], scratch, n, parts)
        total = cap[r]
    return <long long> total


cdef inline long long _sum(const long long *values, Py_ssize_t n) noexcept nogil:
    cdef long long total = 0
    cdef Py_ssize_t i
    for i in range(n):
        total += values[i]
    return total


def apply_discounts(
    carray unit_prices not None,
    carray units not None,
    const unsigned char[:] eligible not None,
    carray kind not None,
    carray value not None,
    carray cap not None,
    carray group not None,
    carray minimum not None,
    carray param_x not None,
    carray param_y not None,
    carray tiers not None,
    int policy=ROUND_HALF_UP,
):
    for column, name in ((kind, "kind"), (value, "value"), (cap, "cap"), (group, "group"),
                         (minimum, "minimum"), (param_x, "param_x"), (param_y, "param_y"), (tiers, "tiers")):
        _q(column, name)
    cdef Py_ssize_t n
    cdef long long *subtotals = _subtotals(unit_prices, units, &n)
    cdef Py_ssize_t rules = len(kind)
    cdef long long *remaining = NULL
    cdef long long *parts = NULL
    cdef long long *scratch = NULL
    cdef long long *rule_totals = NULL
    cdef carray line_out, rule_out
    cdef long long[:] k, v, c, g, mn, x, y, tr, u, pr
    cdef Py_ssize_t r, q, i
    cdef const long long *units_p
    cdef const long long *prices_p
    cdef bint loser
    cdef long long given
    cdef long long *lines_p
    try:
        if not (len(value) == len(cap) == len(group) == len(minimum) == len(param_x) == len(param_y) == rules):
            raise ValueError("every rule column needs one value per rule")
        if eligible.shape[0] != rules * n or len(tiers) != rules * C_TIERS * 2:
            raise ValueError("eligible holds rules × lines flags; tiers holds TIERS pairs per rule")
        if rules > MAX_RULES or rules * n > MAX_CELLS:
            raise AmountOverflow(f"{rules} rules over {n} lines is more than one call takes")
        k, v, c, g, mn, x, y, tr = kind, value, cap, group, minimum, param_x, param_y, tiers
        u, pr = units, unit_prices
        units_p = &u[0] if n else NULL
        prices_p = &pr[0] if n else NULL
        line_out = clone(_INT64, n, zero=True)
        rule_out = clone(_INT64, rules, zero=True)
        lines_p = line_out.data.as_longlongs
        remaining = <long long *> malloc((n if n else 1) * sizeof(long long))
        parts = <long long *> malloc((n if n else 1) * sizeof(long long))
        scratch = <long long *> malloc((2 * n + 1) * sizeof(long long))  # +1: branch-free reads
        rule_totals = <long long *> malloc((rules if rules else 1) * sizeof(long long))
        if remaining == NULL or parts == NULL or scratch == NULL or rule_totals == NULL:
            raise MemoryError()
        # a group's rules compete on the undiscounted subtotals: the one that gives most applies
        for r in range(rules):
            if c[r] > C_MAX_AMOUNT or mn[r] > C_MAX_AMOUNT:
                raise AmountOverflow(f"rule {r}: cap or minimum is above {MAX_AMOUNT}")
            rule_totals[r] = 0
            if g[r] > 0:
                rule_totals[r] = _evaluate(r, subtotals, subtotals, units_p, prices_p,
                                           &eligible[r * n] if n else NULL, n, k, v, c, mn, x, y, tr,
                                           policy, parts, scratch)
                if rule_totals[r] == -2:
                    rule_totals[r] = _sum(parts, n)
        # then the rules that apply, in order, each on what the earlier ones left of every line
        for i in range(n):
            remaining[i] = subtotals[i]
        for r in range(rules):
            loser = False
            if g[r] > 0:
                for q in range(rules):
                    if q != r and g[q] == g[r] and (
                        rule_totals[q] > rule_totals[r] or (rule_totals[q] == rule_totals[r] and q < r)
                    ):
                        loser = True
                        break
            if loser:
                continue
            _evaluate(r, remaining, subtotals, units_p, prices_p, &eligible[r * n] if n else NULL, n,
                      k, v, c, mn, x, y, tr, policy, parts, scratch)
            given = 0
            for i in range(n):
                remaining[i] -= parts[i]
                lines_p[i] += parts[i]
                given += parts[i]
            rule_out.data.as_longlongs[r] = given
    finally:
        free(subtotals)
        free(remaining)
        free(parts)
        free(scratch)
        free(rule_totals)
    return line_out, rule_out


def commissions(carray amounts not None, carray rates_ppm not None, int policy=ROUND_HALF_UP):
    _q(amounts, "amounts")
    _q(rates_ppm, "rates_ppm")
    cdef Py_ssize_t n = len(amounts)
    if len(rates_ppm) != n:
        raise ValueError("every line needs a rate")
    if n > MAX_LINES:
        raise AmountOverflow(f"{n} lines is more than {MAX_LINES}")
    cdef long long *a = amounts.data.as_longlongs
    cdef long long *r = rates_ppm.data.as_longlongs
    cdef carray out = clone(_INT64, n, zero=False)
    cdef Py_ssize_t i
    for i in range(n):
        check_range(a[i], 0, C_MAX_AMOUNT, "amount")
        if r[i] < 0 or r[i] > PPM_C:
            raise AmountOverflow(f"commission rate {r[i]} ppm is outside 0..{PPM_C}")
        out.data.as_longlongs[i] = div_ppm(a[i] * r[i], policy)  # ≤ 1e12 × 1e6: fits in 64 bits
    return out
