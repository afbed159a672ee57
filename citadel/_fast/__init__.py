"""Compiled hot paths, each with a pure-Python twin that is its specification.

``CITADEL_NO_EXTENSIONS=1`` selects the twins; otherwise the compiled modules are required and a
missing one is an ImportError (a silent fallback would hide a broken build in production).
This is the only environment variable read at import time.
"""

import os

NO_EXTENSIONS = os.environ.get("CITADEL_NO_EXTENSIONS") == "1"

if NO_EXTENSIONS:
    from citadel._fast import money_py as money
else:
    from citadel._fast import money  # type: ignore[no-redef]

__all__ = ["NO_EXTENSIONS", "money"]
