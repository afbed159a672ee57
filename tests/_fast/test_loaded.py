"""The compiled kernels are what production runs, unless CITADEL_NO_EXTENSIONS=1 asks for the twins."""

import importlib
import importlib.machinery
import inspect
import os
import subprocess
import sys

import pytest

KERNELS = ("money", "pricing", "tax", "cart", "inventory", "facets")
PUBLIC = {
    "money": ("apply_rate", "apply_rate_batch", "allocate"),
    "pricing": ("unit_prices", "line_subtotals", "apply_discounts"),
    "tax": ("match_rates", "line_taxes"),
    "cart": ("totals",),
    "inventory": ("allocate_lines",),
    "facets": ("count_codes",),
}


@pytest.mark.parametrize("twins", [False, True], ids=["compiled", "twins"])
def test_the_selected_implementation(twins: bool) -> None:
    """What production imports, in a fresh interpreter (a test process imports both kinds)."""
    script = (
        "import citadel._fast as f; "
        f"print(','.join(getattr(f, name).__file__.rsplit('/', 1)[1] for name in {KERNELS!r}))"
    )
    env = {k: v for k, v in os.environ.items() if k != "CITADEL_NO_EXTENSIONS"}
    if twins:
        env["CITADEL_NO_EXTENSIONS"] = "1"
    files = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    for name, file in zip(KERNELS, files.stdout.strip().split(","), strict=True):
        if twins:
            assert file == f"{name}_py.py"
        else:
            assert file.startswith(f"{name}.") and file.endswith(
                tuple(importlib.machinery.EXTENSION_SUFFIXES)
            )


@pytest.mark.parametrize("name", KERNELS)
def test_the_compiled_signatures_match_the_twin(name: str) -> None:
    compiled = importlib.import_module(f"citadel._fast.{name}")
    twin = importlib.import_module(f"citadel._fast.{name}_py")
    for function in PUBLIC[name]:
        expected = list(inspect.signature(getattr(twin, function)).parameters)
        assert list(inspect.signature(getattr(compiled, function)).parameters) == expected, function
