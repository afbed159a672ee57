"""Facet counting over packed 4-byte codes, compiled and twin, and the two compared at random."""

import struct
from collections import Counter
from types import ModuleType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from citadel._fast import facets_py
from tests._fast.conftest import facets_c


def _packed(codes: list[int]) -> bytes:
    return struct.pack(f">{len(codes)}i", *codes)


def test_codes_are_counted(facets: ModuleType) -> None:
    assert facets.count_codes(_packed([7, 300, 7, 70_000, 7])) == {7: 3, 300: 1, 70_000: 1}
    assert facets.count_codes(b"") == {}


def test_codes_are_signed_big_endian(facets: ModuleType) -> None:
    # price buckets come as -1 - bucket; the extremes of int4 count like any other code
    codes = [-1, -9, -1, -(2**31), 2**31 - 1, 0, -(2**31)]
    assert facets.count_codes(_packed(codes)) == {-1: 2, -9: 1, -(2**31): 2, 2**31 - 1: 1, 0: 1}
    assert facets.count_codes(b"\x00\x00\x01\x00") == {256: 1}


def test_many_distinct_codes(facets: ModuleType) -> None:
    """More distinct codes than the compiled table starts with: it grows and loses none."""
    codes = [n * 7919 % 100_003 for n in range(5_000)] * 3 + list(range(-50, 0))
    assert facets.count_codes(_packed(codes)) == dict(Counter(codes))


@pytest.mark.parametrize("size", [1, 2, 3, 5, 4_001])
def test_a_partial_code_is_refused(facets: ModuleType, size: int) -> None:
    with pytest.raises(ValueError, match="4 bytes each"):
        facets.count_codes(b"\x01" * size)


@pytest.mark.skipif(facets_c is None, reason="no compiled module (CITADEL_NO_EXTENSIONS=1, unbuilt)")
@settings(max_examples=300)
@given(st.lists(st.integers(-(2**31), 2**31 - 1) | st.integers(-12, 400), max_size=600))
def test_compiled_and_twin_agree(codes: list[int]) -> None:
    assert facets_c is not None
    packed = _packed(codes)
    assert facets_c.count_codes(packed) == facets_py.count_codes(packed) == dict(Counter(codes))
