"""Payments: each order's payment, its state, its refunds, and the providers that move the money."""
