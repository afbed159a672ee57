"""The compiled kernel and its pure twin agree on random inputs, edges and errors included."""

from array import array

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from citadel._fast import money_py
from citadel._fast.common import MAX_AMOUNT, MAX_RATE_PPM, ROUNDING_POLICIES, AmountOverflow
from tests._fast.conftest import money_c

pytestmark = pytest.mark.skipif(
    money_c is None, reason="the compiled kernel is not built (CITADEL_NO_EXTENSIONS=1)"
)

amounts = st.integers(min_value=-MAX_AMOUNT - 10, max_value=MAX_AMOUNT + 10)
rates = st.integers(min_value=-5, max_value=MAX_RATE_PPM + 5)
policies = st.sampled_from(sorted(ROUNDING_POLICIES.values()))


def _outcome(fn, *args):  # type: ignore[no-untyped-def]
    try:
        result = fn(*args)
    except (AmountOverflow, ValueError) as exc:
        return type(exc).__name__
    return list(result) if isinstance(result, array) else result


@settings(max_examples=500)
@given(amounts, rates, policies)
def test_apply_rate_agrees(amount: int, rate: int, policy: int) -> None:
    assert _outcome(money_c.apply_rate, amount, rate, policy) == _outcome(
        money_py.apply_rate, amount, rate, policy
    )


@settings(max_examples=200)
@given(st.lists(amounts, max_size=50), rates, policies)
def test_apply_rate_batch_agrees(values: list[int], rate: int, policy: int) -> None:
    clipped = array("q", [max(min(v, 2**63 - 1), -(2**63)) for v in values])
    assert _outcome(money_c.apply_rate_batch, clipped, rate, policy) == _outcome(
        money_py.apply_rate_batch, clipped, rate, policy
    )


@settings(max_examples=500)
@given(
    st.integers(min_value=-2, max_value=MAX_AMOUNT + 2),
    st.lists(st.integers(min_value=-1, max_value=MAX_AMOUNT + 1), max_size=40),
)
def test_allocate_agrees(total: int, weights: list[int]) -> None:
    packed = array("q", weights)
    expected = _outcome(money_py.allocate, total, packed)
    assert _outcome(money_c.allocate, total, packed) == expected
    if isinstance(expected, list) and expected:
        assert sum(expected) == total
