# cython: language_level=3
"""Which warehouse ships what, compiled. Specification: ``inventory_py.py``."""

from array import array

from cpython.array cimport array as carray, clone
from libc.stdlib cimport free, malloc, qsort

from citadel._fast.common import (
    MAX_CELLS,
    MAX_LINES,
    MAX_QUANTITY,
    MAX_WAREHOUSES,
    MAX_WEIGHT_SUM,
    AmountOverflow,
)

include "_arith.pxi"

cdef long long C_MAX_QUANTITY = MAX_QUANTITY
cdef carray _INT64 = array("q")


cdef struct Choice:
    long long priority
    long long stock
    Py_ssize_t index


cdef int _by_priority_then_stock(const void *a, const void *b) noexcept nogil:
    # the lowest priority first, then the most stock, then the first warehouse
    cdef const Choice *x = <const Choice *> a
    cdef const Choice *y = <const Choice *> b
    if x.priority != y.priority:
        return -1 if x.priority < y.priority else 1
    if x.stock != y.stock:
        return -1 if x.stock > y.stock else 1
    return -1 if x.index < y.index else (1 if x.index > y.index else 0)


def allocate_lines(carray quantities not None, carray available not None, carray priority not None):
    cdef Py_ssize_t n = len(quantities)
    cdef Py_ssize_t warehouses = len(priority)
    if len(available) != n * warehouses:
        raise ValueError("available holds warehouses × lines values")
    if n > MAX_LINES or warehouses > MAX_WAREHOUSES or n * warehouses > MAX_CELLS:
        raise AmountOverflow(f"{n} lines or {warehouses} warehouses is too many")
    cdef long long[:] q = quantities
    cdef long long[:] av = available
    cdef long long[:] pr = priority
    cdef Py_ssize_t i, w, t, best = -1
    for i in range(n):
        check_range(q[i], 0, C_MAX_QUANTITY, "quantity")
    for i in range(n * warehouses):
        check_range(av[i], 0, C_MAX_QUANTITY, "quantity")
    cdef carray allocation = clone(_INT64, n * warehouses, zero=True)
    cdef long long *out = allocation.data.as_longlongs
    cdef bint whole
    cdef long long stock, best_stock = 0, need, take
    for w in range(warehouses):
        whole = True
        stock = 0
        for i in range(n):
            if av[w * n + i] < q[i]:
                whole = False
                break
            stock += av[w * n + i]
        if whole and (best < 0 or pr[w] < pr[best] or (pr[w] == pr[best] and stock > best_stock)):
            best = w
            best_stock = stock
    if best >= 0:
        for i in range(n):
            out[best * n + i] = q[i]
        return allocation, True
    cdef bint complete = True
    cdef Choice *order = <Choice *> malloc((warehouses if warehouses else 1) * sizeof(Choice))
    if order == NULL:
        raise MemoryError()
    try:
        for i in range(n):
            for w in range(warehouses):
                order[w].priority = pr[w]
                order[w].stock = av[w * n + i]
                order[w].index = w
            qsort(order, warehouses, sizeof(Choice), _by_priority_then_stock)
            need = q[i]
            for t in range(warehouses):
                if need == 0:
                    break
                w = order[t].index
                take = need if need < av[w * n + i] else av[w * n + i]
                out[w * n + i] = take
                need -= take
            if need:
                complete = False
    finally:
        free(order)
    return allocation, complete
