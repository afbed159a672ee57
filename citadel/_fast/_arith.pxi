# Arithmetic every compiled kernel shares, included textually (``include "_arith.pxi"``) so that
# each module gets its own inlinable copy: rounding of a quotient under a named policy, bounds
# checks, the tax of one line, and largest-remainder allocation. Products that could pass 2^63
# are taken in 128 bits. The including module imports AmountOverflow and MAX_WEIGHT_SUM from
# citadel._fast.common, which these helpers raise and compare with.

from libc.stdlib cimport free, malloc

cdef extern from *:
    ctypedef long long int128 "__int128"

cdef enum:
    HALF_UP = 0
    HALF_EVEN = 1
    DOWN = 2
    UP = 3

cdef enum:
    PPM_C = 1000000


cdef inline long long _rounded(
    long long quotient, long long remainder, long long denominator, bint negative, int policy
) except? -1:
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


cdef inline long long div_round64(long long numerator, long long denominator, int policy) except? -1:
    """div_round for numerators that fit in 64 bits (128-bit division is several times slower)."""
    cdef bint negative = numerator < 0
    cdef long long magnitude = -numerator if negative else numerator
    cdef long long quotient = magnitude // denominator
    return _rounded(quotient, magnitude - quotient * denominator, denominator, negative, policy)


cdef inline long long div_ppm(long long numerator, int policy) except? -1:
    """numerator / 1,000,000 rounded by policy: a constant divisor, which compiles to a multiply."""
    cdef bint negative = numerator < 0
    cdef long long magnitude = -numerator if negative else numerator
    cdef long long quotient = magnitude // 1000000
    return _rounded(quotient, magnitude - quotient * 1000000, 1000000, negative, policy)


cdef inline long long div_round(int128 numerator, long long denominator, int policy) except? -1:
    """numerator / denominator (denominator > 0) rounded by policy, symmetric around zero."""
    if -4611686018427387904 <= numerator <= 4611686018427387904:  # ±2^62: 2 × remainder fits too
        return div_round64(<long long> numerator, denominator, policy)
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
    return div_ppm(amount * rate, policy)  # amount ≤ 1e12, rate ≤ 9e6: fits in 64 bits


cdef inline long long kth_largest(long long *values, Py_ssize_t n, Py_ssize_t k) noexcept nogil:
    """The k-th largest of values (k counts from 1), reordering them (quickselect, expected linear)."""
    cdef Py_ssize_t low = 0, high = n - 1, i, store, target = k - 1
    cdef long long pivot, swap
    while low < high:
        i = low + (high - low) // 2
        pivot = values[i]
        values[i] = values[high]
        values[high] = pivot
        store = low
        for i in range(low, high):
            if values[i] > pivot:
                swap = values[i]
                values[i] = values[store]
                values[store] = swap
                store += 1
        values[high] = values[store]
        values[store] = pivot
        if store == target:
            return pivot
        if store < target:
            low = store + 1
        else:
            high = store - 1
    return values[target]


cdef inline long long kth_largest_radix(
    const long long *values, Py_ssize_t n, Py_ssize_t k, long long bound, long long *scratch
) noexcept nogil:
    """The k-th largest of values, all in 0..bound-1: one histogram pass over their top 11 bits
    finds the bucket it lies in; only that bucket's values go through kth_largest."""
    cdef int shift = 0
    while (bound - 1) >> shift >= 2048:
        shift += 1
    cdef Py_ssize_t counts[2048]
    cdef Py_ssize_t i, bucket, seen = 0, m = 0
    for i in range(2048):
        counts[i] = 0
    for i in range(n):
        counts[values[i] >> shift] += 1
    bucket = ((bound - 1) >> shift) if bound > 0 else 0
    while seen + counts[bucket] < k:
        seen += counts[bucket]
        bucket -= 1
    for i in range(n):
        if values[i] >> shift == bucket:
            scratch[m] = values[i]
            m += 1
    return kth_largest(scratch, m, k - seen)


cdef inline int allocate_into(
    long long total, const long long *weights, Py_ssize_t n, long long *out
) except -1:
    """Split total over weights (all >= 0, their sum > 0 if total > 0) into out, adding up exactly:
    floor shares, then one unit each to the largest remainders (ties to the lower index)."""
    cdef int128 weight_sum = 0
    cdef long long heaviest = 0
    cdef Py_ssize_t i
    for i in range(n):
        weight_sum += weights[i]
        if weights[i] > heaviest:
            heaviest = weights[i]
        out[i] = 0
    if weight_sum > <int128> MAX_WEIGHT_SUM:
        raise AmountOverflow(f"the weights add up to more than {MAX_WEIGHT_SUM}")
    if total == 0:
        return 0
    if weight_sum == 0:
        raise ValueError("cannot allocate a non-zero total over weights that are all zero")
    cdef long long *remainders = <long long *> malloc(2 * n * sizeof(long long))
    if remainders == NULL:
        raise MemoryError()
    cdef long long *scratch = remainders + n
    cdef int128 product
    cdef long long product64, sum64, threshold
    cdef long long assigned = 0
    cdef long long leftover, above = 0
    try:
        if heaviest == 0 or total <= 9223372036854775807 // heaviest:  # every product fits in 64 bits
            sum64 = <long long> weight_sum
            for i in range(n):
                product64 = total * weights[i]
                out[i] = product64 // sum64
                remainders[i] = product64 - out[i] * sum64
                assigned += out[i]
        else:
            for i in range(n):
                product = <int128> total * weights[i]
                out[i] = <long long> (product // weight_sum)
                remainders[i] = <long long> (product - <int128> out[i] * weight_sum)
                assigned += out[i]
        # fewer than n units are left over: one each to the largest remainders, ties to the lower
        # index; found as every remainder above the leftover-th largest, then the equal ones in order
        leftover = total - assigned
        if leftover > 0:
            threshold = kth_largest_radix(remainders, n, leftover, <long long> weight_sum, scratch)
            for i in range(n):
                if remainders[i] > threshold:
                    above += 1
            leftover -= above
            for i in range(n):
                if remainders[i] > threshold:
                    out[i] += 1
                elif remainders[i] == threshold and leftover > 0:
                    out[i] += 1
                    leftover -= 1
    finally:
        free(remainders)
    return 0
