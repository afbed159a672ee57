"""Orders: what was bought, its state derived from payment and fulfilments, and its history."""
