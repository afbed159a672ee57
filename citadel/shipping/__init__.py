"""Shipping zones and methods: where Citadel ships and what each way of shipping costs."""
