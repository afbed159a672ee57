"""Every kernel test runs against both implementations: the compiled module and its pure twin."""

from types import ModuleType

import pytest

from citadel._fast import money_py

try:
    from citadel._fast import money as money_c
except ImportError:  # only with CITADEL_NO_EXTENSIONS=1 and no build; test_loaded says so loudly
    money_c = None  # type: ignore[assignment]

MONEY_IMPLEMENTATIONS = [money_py] + ([money_c] if money_c is not None else [])


@pytest.fixture(params=MONEY_IMPLEMENTATIONS, ids=lambda m: "compiled" if m is money_c else "pure")
def money(request: pytest.FixtureRequest) -> ModuleType:
    return request.param
