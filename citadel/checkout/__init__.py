"""Checkout: a priced cart becomes an order, its payment and its stock holds, exactly once."""
