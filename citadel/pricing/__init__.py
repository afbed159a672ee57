"""Pricing: price lists, coupons, and the calculation that turns lines and rules into totals."""
