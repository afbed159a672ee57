"""Micro-benchmarks of the compiled kernels against their twins (pytest-benchmark).

Each case runs both implementations on the same inputs; ``python -m bench kernels`` runs them
and reports the compiled speed-up and nanoseconds per line. Cases: pricing 10,000 lines (unit
prices and three discount rules), tax 10,000 lines (rate matching and per-line tax), the totals
of a 50-line cart, the allocation of a 20-line order over 10 warehouses, and the facet codes of
a broad search (22,000 codes of 300 values: a brand's 3,200 matches, as the catalog benchmark's
"aurora" finds them), counted.
"""

from __future__ import annotations

import random
import struct
from array import array
from types import ModuleType
from typing import Any

import pytest

from citadel._fast import (
    cart,
    cart_py,
    facets,
    facets_py,
    inventory,
    inventory_py,
    pricing,
    pricing_py,
    tax,
    tax_py,
)
from citadel._fast.common import DISCOUNT_FIXED, DISCOUNT_PERCENT, DISCOUNT_TIERED, TIERS, pack_text

RNG = random.Random(5)
LINES = 10_000


def q(values: list[int]) -> array[int]:
    return array("q", values)


def _pricing_inputs(n: int) -> dict[str, Any]:
    base = q([RNG.randint(100, 50_000) for _ in range(n)])
    own = q([RNG.choice([-1, -1, -1, RNG.randint(100, 50_000)]) for _ in range(n)])
    adjustment = q([RNG.choice([0, 0, 100, -50]) for _ in range(n)])
    list_price = q([-1] * n)
    list_discount = q([RNG.choice([0, 0, 50_000]) for _ in range(n)])
    units = q([RNG.randint(1, 5) for _ in range(n)])
    rules = 3
    eligible = bytes(RNG.random() < 0.6 for _ in range(rules * n))
    tiers = [5_000_000, 20_000, 10_000_000, 50_000] + [-1, -1] * (TIERS - 2)
    return {
        "prices": (base, own, adjustment, list_price, list_discount),
        "units": units,
        "rules": (
            eligible,
            q([DISCOUNT_PERCENT, DISCOUNT_FIXED, DISCOUNT_TIERED]),
            q([100_000, 500_000, 0]),
            q([-1, -1, 1_000_000]),
            q([0, 0, 0]),
            q([0, 100_000, 0]),
            q([0, 0, 0]),
            q([0, 0, 0]),
            q([-1] * TIERS * 2 + [-1] * TIERS * 2 + tiers),
        ),
    }


PRICING = _pricing_inputs(LINES)
TAX_LINES = q([RNG.randint(1, 3) for _ in range(LINES)])
TAX_AMOUNTS = q([RNG.randint(0, 100_000) for _ in range(LINES)])
TAX_RULES = (
    q([pack_text("US")] * 4),
    q([pack_text(r) for r in ("NY", "NY", "CA", "TX")]),
    q([0, pack_text("100"), 0, 0]),
    q([0, 3, 0, 0]),
    q([1, 0, 0, 0]),
    q([40_000, 45_000, 72_500, 62_500]),
)
CART = (
    q([RNG.randint(100, 20_000) for _ in range(50)]),
    q([RNG.randint(1, 4) for _ in range(50)]),
    q([0] * 50),
    q([88_750] * 50),
)
ORDER = (
    q([RNG.randint(1, 3) for _ in range(20)]),
    q([RNG.choice([0, 1, 2, 5, 50]) for _ in range(20 * 10)]),
    q([RNG.randint(1, 5) for _ in range(10)]),
)

CODES = 22_000
FACET_CODES = struct.pack(
    f">{CODES}i",
    *[RNG.randrange(300) if RNG.random() < 0.85 else -1 - RNG.randrange(9) for _ in range(CODES)],
)


def _price(impl: ModuleType) -> Any:
    prices = impl.unit_prices(*PRICING["prices"])
    return impl.apply_discounts(prices, PRICING["units"], *PRICING["rules"])


def _tax(impl: ModuleType) -> Any:
    rates = impl.match_rates(TAX_LINES, *TAX_RULES, pack_text("US"), pack_text("NY"), pack_text("10001"))
    return impl.line_taxes(TAX_AMOUNTS, rates, False)


CASES = {
    "pricing_10k": (LINES, _price, {"compiled": pricing, "pure": pricing_py}),
    "tax_10k": (LINES, _tax, {"compiled": tax, "pure": tax_py}),
    "cart_50": (50, lambda impl: impl.totals(*CART, 799, 88_750, False), {"compiled": cart, "pure": cart_py}),
    "allocation_20x10": (
        20,
        lambda impl: impl.allocate_lines(*ORDER),
        {"compiled": inventory, "pure": inventory_py},
    ),
    "facets_22k": (
        CODES,
        lambda impl: impl.count_codes(FACET_CODES),
        {"compiled": facets, "pure": facets_py},
    ),
}


@pytest.mark.parametrize("implementation", ["compiled", "pure"])
@pytest.mark.parametrize("case", list(CASES))
def test_kernel(benchmark: Any, case: str, implementation: str) -> None:
    lines, run, modules = CASES[case]
    module = modules[implementation]
    benchmark.extra_info.update({"case": case, "implementation": implementation, "lines": lines})
    assert run(modules["compiled"]) == run(modules["pure"])  # the same answer, then the timing
    benchmark(run, module)
