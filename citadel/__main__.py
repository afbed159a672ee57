"""``python -m citadel``: the same command line as ``citadel``."""

from citadel.cli import main

main()
