"""``POST /api/v1/checkout``: the cart becomes an order (users and guests; Idempotency-Key required)."""

from typing import Annotated, Any

from litestar import Controller, Request, post
from litestar.openapi import ResponseSpec
from litestar.params import HeaderParameter, JSONBody

from citadel.auth.guards import principal_or_guest, signed_in_or_guest
from citadel.cart.models import CartToken
from citadel.cart.service import cart_context
from citadel.checkout import service
from citadel.checkout.models import CheckoutInput
from citadel.kit.errors import CitadelError
from citadel.kit.http import BodyResponse
from citadel.kit.idempotency import HEADER
from citadel.kit.observability import CHECKOUT_FAILURES, ORDERS_CREATED, REVENUE
from citadel.kit.runtime import runtime_of
from citadel.orders.models import Order

IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(name=HEADER, max_length=300, required=False, description="A key unique to this checkout"),
]


class CheckoutController(Controller):
    path = "/api/v1/checkout"
    tags = ["checkout"]
    guards = [signed_in_or_guest()]

    @post(
        "",
        operation_id="checkout",
        status_code=201,
        summary="Place the order of the cart, hold its stock and start its payment",
        responses={201: ResponseSpec(data_container=Order, description="The order, placed")},
    )
    async def checkout(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[CheckoutInput],
        token: CartToken,
        key: IdempotencyKey,
    ) -> BodyResponse:
        # the runtime and the shopper straight from the request: Litestar resolves two injected
        # dependencies in a task group of their own, on every checkout
        runtime, shopper = runtime_of(request), principal_or_guest(request)
        ctx = await cart_context(runtime)
        try:
            answer = await service.checkout(runtime.db, runtime.settings, ctx, shopper, token, key, data)
        except CitadelError as refused:
            runtime.metrics.inc(CHECKOUT_FAILURES, (refused.code,))
            raise
        if answer.currency is not None:  # placed now, not replayed
            runtime.metrics.inc(ORDERS_CREATED, (answer.currency,))
            runtime.metrics.inc(REVENUE, (answer.currency,), answer.total_amount)
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(answer.body)).encode()),
        ]
        if answer.replayed:
            headers.append((b"idempotent-replayed", b"true"))
        return BodyResponse(answer.status_code, headers, answer.body)
