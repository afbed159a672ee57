"""``/api/v1/orders``, ``/api/v1/fulfilments`` and ``/api/v1/payments``: orders after checkout."""

import uuid
from datetime import datetime
from typing import Annotated

from litestar import Controller, get, post
from litestar.params import FromPath, JSONBody, QueryParameter

from citadel.auth.guards import CurrentPrincipal, PrincipalOrGuest, requires, signed_in_or_guest
from citadel.kit.http import PageSize
from citadel.kit.runtime import Conn, RuntimeDep
from citadel.orders import service
from citadel.orders.models import Order, OrderCancel, OrderPage, OrderStatus, RefundCreate, Shipment


class OrdersController(Controller):
    path = "/api/v1/orders"
    tags = ["orders"]
    guards = [requires()]

    @get("", operation_id="listOrders", summary="Your orders (admins: everyone's, filtered and searched)")
    async def list_orders(
        self,
        conn: Conn,
        runtime: RuntimeDep,
        principal: CurrentPrincipal,
        status: Annotated[OrderStatus | None, QueryParameter()] = None,
        q: Annotated[
            str | None, QueryParameter(max_length=200, description="Admins: number or e-mail")
        ] = None,
        user_id: Annotated[uuid.UUID | None, QueryParameter(name="userId", description="Admins")] = None,
        placed_from: Annotated[datetime | None, QueryParameter(name="placedFrom")] = None,
        placed_to: Annotated[datetime | None, QueryParameter(name="placedTo")] = None,
        sort: Annotated[str | None, QueryParameter(description="newest, oldest or total")] = None,
        cursor: Annotated[str | None, QueryParameter(max_length=1000)] = None,
        limit: PageSize = 20,
    ) -> OrderPage:
        return await service.list_orders(
            conn, runtime.cursors, principal, status=status, q=q, user_id=user_id, placed_from=placed_from,
            placed_to=placed_to, sort=sort, cursor=cursor, limit=limit,
        )  # fmt: skip

    @get("/{order_id:uuid}", operation_id="getOrder", summary="One order, whole")
    async def get_order(
        self, order_id: FromPath[uuid.UUID], conn: Conn, principal: CurrentPrincipal
    ) -> Order:
        return await service.get_order(conn, principal, order_id)

    @post("/{order_id:uuid}/cancel", operation_id="cancelOrder", status_code=200, summary="Cancel an order")
    async def cancel(
        self,
        order_id: FromPath[uuid.UUID],
        data: JSONBody[OrderCancel],
        tx: Conn,
        principal: CurrentPrincipal,
    ) -> Order:
        return await service.cancel(tx, principal, order_id, data.reason)

    @post(
        "/{order_id:uuid}/refunds",
        operation_id="refundOrder",
        status_code=200,
        guards=[requires("admin")],
        summary="Refund an amount or lines, restocking them if asked",
    )
    async def refund(
        self,
        order_id: FromPath[uuid.UUID],
        data: JSONBody[RefundCreate],
        tx: Conn,
        principal: CurrentPrincipal,
    ) -> Order:
        return await service.refund(tx, principal, order_id, data)


class OrderLookupController(Controller):
    path = "/api/v1/order-lookup"
    tags = ["orders"]
    guards = [signed_in_or_guest()]

    @get("", operation_id="lookupOrder", summary="An order by its number and e-mail (for guests)")
    async def lookup(
        self,
        conn: Conn,
        number: Annotated[str, QueryParameter(min_length=1, max_length=40)],
        email: Annotated[str, QueryParameter(min_length=3, max_length=320)],
    ) -> Order:
        return await service.lookup(conn, number, email)


class FulfilmentsController(Controller):
    """Admins move any vendor's fulfilment; vendors use ``/api/v1/vendor/fulfilments``."""

    path = "/api/v1/fulfilments"
    tags = ["orders"]
    guards = [requires("admin")]

    @post("/{fulfilment_id:uuid}/start", operation_id="startFulfilment", status_code=200, summary="Start it")
    async def start(self, fulfilment_id: FromPath[uuid.UUID], tx: Conn, principal: CurrentPrincipal) -> Order:
        return await service.view(tx, await service.advance_fulfilment(tx, principal, fulfilment_id, "start"))

    @post(
        "/{fulfilment_id:uuid}/pack", operation_id="packFulfilment", status_code=200, summary="Mark it packed"
    )
    async def pack(self, fulfilment_id: FromPath[uuid.UUID], tx: Conn, principal: CurrentPrincipal) -> Order:
        return await service.view(tx, await service.advance_fulfilment(tx, principal, fulfilment_id, "pack"))

    @post(
        "/{fulfilment_id:uuid}/ship", operation_id="shipFulfilment", status_code=200,
        summary="Hand it to the carrier",
    )  # fmt: skip
    async def ship(
        self,
        fulfilment_id: FromPath[uuid.UUID],
        data: JSONBody[Shipment],
        tx: Conn,
        principal: CurrentPrincipal,
    ) -> Order:
        order = await service.advance_fulfilment(tx, principal, fulfilment_id, "ship", data)
        return await service.view(tx, order)

    @post(
        "/{fulfilment_id:uuid}/deliver", operation_id="deliverFulfilment", status_code=200,
        summary="Mark it delivered",
    )  # fmt: skip
    async def deliver(
        self, fulfilment_id: FromPath[uuid.UUID], tx: Conn, principal: CurrentPrincipal
    ) -> Order:
        return await service.view(
            tx, await service.advance_fulfilment(tx, principal, fulfilment_id, "deliver")
        )


class PaymentsController(Controller):
    path = "/api/v1/payments"
    tags = ["payments"]

    @post(
        "/{payment_id:uuid}/confirm",
        operation_id="confirmPayment",
        status_code=200,
        guards=[signed_in_or_guest()],
        summary="Confirm a payment that asks for it (the test provider's 3-D Secure step)",
    )
    async def confirm(self, payment_id: FromPath[uuid.UUID], tx: Conn, shopper: PrincipalOrGuest) -> Order:
        return await service.confirm_payment(tx, shopper, payment_id)

    @post(
        "/{payment_id:uuid}/capture",
        operation_id="captureManualPayment",
        status_code=200,
        guards=[requires("admin")],
        summary="Confirm that a manual payment (bank transfer) arrived",
    )
    async def capture(self, payment_id: FromPath[uuid.UUID], tx: Conn, principal: CurrentPrincipal) -> Order:
        return await service.capture_manual(tx, principal, payment_id)
