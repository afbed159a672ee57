"""Live: the WebSocket at ``/ws`` and the pushes it carries (order status, product stock)."""
