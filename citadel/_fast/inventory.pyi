"""Which warehouse ships what (compiled); see ``inventory_py.py``.

allocate_lines(quantities, available, priority) -> (allocation, complete)
    quantities: per line. available and allocation: warehouses × lines, row by warehouse.
    priority: per warehouse (lower ships first). One warehouse that has everything ships it all
    (lowest priority, then most stock); otherwise each line fills from warehouses by priority,
    then most of that line's stock. complete: every line got its full quantity.
"""

from array import array

def allocate_lines(
    quantities: array[int], available: array[int], priority: array[int]
) -> tuple[array[int], bool]: ...
