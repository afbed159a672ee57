"""The compiled kernels are what production runs, unless CITADEL_NO_EXTENSIONS=1 asks for the twins."""

import importlib.machinery
import inspect

from citadel import _fast
from citadel._fast import money_py


def test_the_selected_implementation() -> None:
    if _fast.NO_EXTENSIONS:
        assert _fast.money is money_py
    else:
        assert _fast.money.__file__ is not None
        assert _fast.money.__file__.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))


def test_the_compiled_signatures_match_the_twin() -> None:
    from citadel._fast import money as compiled

    for name in ("apply_rate", "apply_rate_batch", "allocate"):
        twin = inspect.signature(getattr(money_py, name))
        built = inspect.signature(getattr(compiled, name))
        assert list(built.parameters) == list(twin.parameters), name
