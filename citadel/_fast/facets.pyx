# cython: language_level=3
"""Facet counting, compiled. Specification: ``facets_py.py``.

Invariants:
- ``packed`` holds whole 4-byte codes (checked first); each is read big-endian, as signed.
- The table is open-addressed with linear probing and kept at most half full (it doubles before
  that), so every probe ends at the code's slot or at an empty one; a slot is empty while its
  count is 0, as every stored code has counted at least once.
"""

from libc.stdint cimport int32_t, int64_t, uint32_t
from libc.stdlib cimport calloc, free, malloc


cdef inline uint32_t _mix(uint32_t x) noexcept nogil:
    x ^= x >> 16
    x *= 0x7FEB352DU
    x ^= x >> 15
    x *= 0x846CA68BU
    x ^= x >> 16
    return x


cdef inline int32_t _code_at(const unsigned char* at) noexcept nogil:
    cdef uint32_t raw = (
        (<uint32_t>at[0] << 24) | (<uint32_t>at[1] << 16) | (<uint32_t>at[2] << 8) | <uint32_t>at[3]
    )
    return <int32_t>raw


cdef int _allocate(uint32_t capacity, int32_t** keys, int64_t** counts) except -1:
    """An empty table of ``capacity`` slots (every count 0), or MemoryError with nothing held."""
    keys[0] = <int32_t*>malloc(capacity * sizeof(int32_t))
    counts[0] = <int64_t*>calloc(capacity, sizeof(int64_t))
    if keys[0] == NULL or counts[0] == NULL:
        free(keys[0])
        free(counts[0])
        keys[0], counts[0] = NULL, NULL
        raise MemoryError()
    return 0


cdef int _grow(int32_t** keys, int64_t** counts, uint32_t* capacity) except -1:
    """Twice the slots, every stored code moved to its slot in them."""
    cdef uint32_t old_capacity = capacity[0], new_capacity = old_capacity * 2
    cdef uint32_t mask = new_capacity - 1, slot, i
    cdef int32_t* new_keys
    cdef int64_t* new_counts
    _allocate(new_capacity, &new_keys, &new_counts)
    for i in range(old_capacity):
        if counts[0][i]:
            slot = _mix(<uint32_t>keys[0][i]) & mask
            while new_counts[slot]:
                slot = (slot + 1) & mask
            new_keys[slot] = keys[0][i]
            new_counts[slot] = counts[0][i]
    free(keys[0])
    free(counts[0])
    keys[0], counts[0], capacity[0] = new_keys, new_counts, new_capacity
    return 0


def count_codes(const unsigned char[:] packed):
    cdef Py_ssize_t size = packed.shape[0]
    if size % 4:
        raise ValueError("packed facet codes are 4 bytes each")
    if size == 0:
        return {}
    cdef const unsigned char* data = &packed[0]
    cdef uint32_t capacity = 256, filled = 0, slot, i
    cdef Py_ssize_t offset
    cdef int32_t code
    cdef int32_t* keys
    cdef int64_t* counts
    _allocate(capacity, &keys, &counts)
    try:
        for offset in range(0, size, 4):
            code = _code_at(data + offset)
            slot = _mix(<uint32_t>code) & (capacity - 1)
            while counts[slot] and keys[slot] != code:
                slot = (slot + 1) & (capacity - 1)
            if counts[slot]:
                counts[slot] += 1
                continue
            keys[slot] = code
            counts[slot] = 1
            filled += 1
            if filled * 2 > capacity:
                _grow(&keys, &counts, &capacity)
        found = {}
        for i in range(capacity):
            if counts[i]:
                found[keys[i]] = counts[i]
        return found
    finally:
        free(keys)
        free(counts)
