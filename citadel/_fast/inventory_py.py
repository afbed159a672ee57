"""Which warehouse ships what: the pure-Python twin (and specification) of ``inventory``.

``allocate_lines(quantities, available, priority) -> (allocation, complete)``
    ``available`` is a warehouses × lines matrix, row by warehouse: what each warehouse has of
    each line's variant. If one warehouse can ship the whole order it ships everything: the one
    with the lowest ``priority``, then the most stock of the order's variants, then the first.
    Otherwise each line takes what it needs from the warehouses in that line's order: lowest
    priority, then most of that line's variant, then the first. ``allocation`` has the
    matrix's shape; ``complete`` says whether every line got its full quantity (when not,
    the allocation shows what could be had).
"""

from __future__ import annotations

from array import array

from citadel._fast.common import MAX_CELLS, MAX_LINES, MAX_QUANTITY, MAX_WAREHOUSES, AmountOverflow


def allocate_lines(
    quantities: array[int], available: array[int], priority: array[int]
) -> tuple[array[int], bool]:
    n, warehouses = len(quantities), len(priority)
    if len(available) != n * warehouses:
        raise ValueError("available holds warehouses × lines values")
    if n > MAX_LINES or warehouses > MAX_WAREHOUSES or n * warehouses > MAX_CELLS:
        raise AmountOverflow(f"{n} lines or {warehouses} warehouses is too many")
    for value in (*quantities, *available):
        if not 0 <= value <= MAX_QUANTITY:
            raise AmountOverflow(f"quantity {value} is outside 0..{MAX_QUANTITY}")
    allocation = array("q", bytes(8 * n * warehouses))
    whole = [w for w in range(warehouses) if all(available[w * n + i] >= quantities[i] for i in range(n))]
    if whole:
        best = min(whole, key=lambda w: (priority[w], -sum(available[w * n : (w + 1) * n]), w))
        for i in range(n):
            allocation[best * n + i] = quantities[i]
        return allocation, True
    complete = True
    for i in range(n):
        need = quantities[i]
        for w in sorted(range(warehouses), key=lambda w: (priority[w], -available[w * n + i], w)):
            if need == 0:
                break
            take = min(need, available[w * n + i])
            allocation[w * n + i] = take
            need -= take
        complete = complete and need == 0
    return allocation, complete
