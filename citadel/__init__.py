"""Citadel: a fast, correct commerce backend."""

__version__ = "0.1.0"
