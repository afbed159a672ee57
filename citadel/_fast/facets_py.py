"""Facet counting: the pure-Python twin (and specification) of ``facets``.

- ``count_codes(packed)``: how many times each code occurs in ``packed``, a run of 4-byte
  big-endian signed integers (PostgreSQL's ``int4send``); ValueError if its length is not a
  multiple of 4.
"""

from __future__ import annotations

import sys
from array import array
from collections import Counter


def count_codes(packed: bytes) -> dict[int, int]:
    if len(packed) % 4:
        raise ValueError("packed facet codes are 4 bytes each")
    codes = array("i")
    codes.frombytes(packed)
    if sys.byteorder == "little":
        codes.byteswap()
    return dict(Counter(codes))
