"""Vendors' bulk writes (products, stock, prices) and the jobs that apply files of them."""
