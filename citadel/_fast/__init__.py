"""Compiled hot paths, each with a pure-Python twin that is its specification.

``CITADEL_NO_EXTENSIONS=1`` selects the twins; otherwise the compiled modules are required and a
missing one is an ImportError (a silent fallback would hide a broken build in production).
This is the only environment variable read at import time.
"""

import os

NO_EXTENSIONS = os.environ.get("CITADEL_NO_EXTENSIONS") == "1"

if NO_EXTENSIONS:
    from citadel._fast import cart_py as cart
    from citadel._fast import facets_py as facets
    from citadel._fast import inventory_py as inventory
    from citadel._fast import money_py as money
    from citadel._fast import pricing_py as pricing
    from citadel._fast import tax_py as tax
else:
    from citadel._fast import (  # type: ignore[no-redef]
        cart,
        facets,
        inventory,
        money,
        pricing,
        tax,
    )

__all__ = ["NO_EXTENSIONS", "cart", "facets", "inventory", "money", "pricing", "tax"]
