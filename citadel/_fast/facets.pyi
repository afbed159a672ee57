"""Facet counting (compiled).

count_codes(packed) -> dict[int, int]
    How many times each code occurs in ``packed``: 4-byte big-endian signed integers, as
    PostgreSQL's ``int4send`` writes them. ValueError if the length is not a multiple of 4.
"""

def count_codes(packed: bytes) -> dict[int, int]: ...
