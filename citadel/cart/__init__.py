"""Carts: guest carts by token and user carts, re-priced by the server on every read."""
