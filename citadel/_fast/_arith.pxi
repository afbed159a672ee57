# Arithmetic every compiled kernel shares, included textually (``include "_arith.pxi"``) so that
# each module gets its own inlinable copy: rounding of a quotient under a named policy, bounds
# checks, the tax of one line, and largest-remainder allocation. Products that could pass 2^63
# are taken in 128 bits. The including module imports AmountOverflow and MAX_WEIGHT_SUM from
# citadel._fast.common, which these helpers raise and compare with.

from libc.stdlib cimport free, malloc, qsort

cdef extern from *:
    ctypedef long long int128 "__int128"

cdef enum:
    HALF_UP = 0
    HALF_EVEN = 1
    DOWN = 2
    UP = 3

cdef enum:
    PPM_C = 1000000


cdef inline long long div_round(int128 numerator, long long denominator, int policy) except? -1:
    """numerator / denominator (denominator > 0) rounded by policy, symmetric around zero."""
    cdef bint negative = numerator < 0
    cdef int128 magnitude = -numerator if negative else numerator
    cdef int128 quotient = magnitude // denominator
    cdef int128 remainder = magnitude - quotient * denominator
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
    return <long long> (-quotient if negative else quotient)


cdef inline int check_range(long long value, long long low, long long high, str what) except -1:
    if value < low or value > high:
        raise AmountOverflow(f"{what} {value} is outside {low}..{high}")
    return 0


cdef inline long long tax_of(long long amount, long long rate, bint inclusive, int policy) except? -1:
    """The tax in ``amount`` (inclusive) or on it (exclusive); both inputs already checked."""
    cdef long long net
    if inclusive:
        net = div_round(<int128> amount * PPM_C, PPM_C + rate, policy)
        return amount - net
    return div_round(<int128> amount * rate, PPM_C, policy)


cdef struct Share:
    long long remainder
    Py_ssize_t index


cdef inline int by_remainder_then_index(const void *a, const void *b) noexcept nogil:
    # the largest remainder first; on a tie the lower index first
    cdef const Share *x = <const Share *> a
    cdef const Share *y = <const Share *> b
    if x.remainder != y.remainder:
        return -1 if x.remainder > y.remainder else 1
    return -1 if x.index < y.index else (1 if x.index > y.index else 0)


cdef inline int allocate_into(
    long long total, const long long *weights, Py_ssize_t n, long long *out
) except -1:
    """Split total over weights (all >= 0, their sum > 0 if total > 0) into out, adding up exactly:
    floor shares, then one unit each to the largest remainders (ties to the lower index)."""
    cdef int128 weight_sum = 0
    cdef Py_ssize_t i
    for i in range(n):
        weight_sum += weights[i]
        out[i] = 0
    if weight_sum > <int128> MAX_WEIGHT_SUM:
        raise AmountOverflow(f"the weights add up to more than {MAX_WEIGHT_SUM}")
    if total == 0:
        return 0
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
            product = <int128> total * weights[i]
            out[i] = <long long> (product // weight_sum)
            shares[i].remainder = <long long> (product - <int128> out[i] * weight_sum)
            shares[i].index = i
            assigned += out[i]
        leftover = total - assigned
        if leftover > 0:
            qsort(shares, n, sizeof(Share), by_remainder_then_index)
            for i in range(leftover):
                out[shares[i].index] += 1
    finally:
        free(shares)
    return 0
