"""Every kernel test runs against both implementations: the compiled module and its pure twin."""

import importlib
from types import ModuleType

import pytest

from citadel._fast import cart_py, facets_py, inventory_py, money_py, pricing_py, tax_py


def _compiled(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(f"citadel._fast.{name}")
    except ImportError:  # only with CITADEL_NO_EXTENSIONS=1 and no build; test_loaded says so loudly
        return None


money_c = _compiled("money")
pricing_c = _compiled("pricing")
tax_c = _compiled("tax")
cart_c = _compiled("cart")
inventory_c = _compiled("inventory")
facets_c = _compiled("facets")
COMPILED = {
    "money": money_c,
    "pricing": pricing_c,
    "tax": tax_c,
    "cart": cart_c,
    "inventory": inventory_c,
    "facets": facets_c,
}

MONEY_IMPLEMENTATIONS = [money_py] + ([money_c] if money_c is not None else [])


def _both(twin: ModuleType, compiled: ModuleType | None) -> list[ModuleType]:
    return [twin] + ([compiled] if compiled is not None else [])


def _ids(module: ModuleType) -> str:
    return "pure" if module.__name__.endswith("_py") else "compiled"


@pytest.fixture(params=MONEY_IMPLEMENTATIONS, ids=_ids)
def money(request: pytest.FixtureRequest) -> ModuleType:
    return request.param


@pytest.fixture(params=_both(pricing_py, pricing_c), ids=_ids)
def pricing(request: pytest.FixtureRequest) -> ModuleType:
    return request.param


@pytest.fixture(params=_both(tax_py, tax_c), ids=_ids)
def tax(request: pytest.FixtureRequest) -> ModuleType:
    return request.param


@pytest.fixture(params=_both(cart_py, cart_c), ids=_ids)
def cart(request: pytest.FixtureRequest) -> ModuleType:
    return request.param


@pytest.fixture(params=_both(inventory_py, inventory_c), ids=_ids)
def inventory(request: pytest.FixtureRequest) -> ModuleType:
    return request.param


@pytest.fixture(params=_both(facets_py, facets_c), ids=_ids)
def facets(request: pytest.FixtureRequest) -> ModuleType:
    return request.param
