"""``/api/v1/cart``: the shopper's cart (a signed-in user's, or a guest's by ``X-Cart-Token``)."""

import uuid

from litestar import Controller, delete, get, patch, post, put
from litestar.params import FromPath, JSONBody

from citadel.auth.guards import CurrentPrincipal, PrincipalOrGuest, requires, signed_in_or_guest
from citadel.cart import service
from citadel.cart.models import Cart, CartDetails, CartToken, CouponApply, LineAdd, LineUpdate
from citadel.cart.service import cart_context
from citadel.kit.observability import CART_ADDITIONS
from citadel.kit.runtime import Conn, RuntimeDep


class CartController(Controller):
    path = "/api/v1/cart"
    tags = ["cart"]
    guards = [signed_in_or_guest()]

    @get("", operation_id="getCart", summary="The cart, priced now, with what changed")
    async def get_cart(
        self, conn: Conn, runtime: RuntimeDep, shopper: PrincipalOrGuest, token: CartToken
    ) -> Cart:
        ctx = await cart_context(runtime, conn)
        return await service.view(conn, ctx, await service.find(conn, shopper, token), shopper)

    @post(
        "", operation_id="createCart", status_code=201, summary="Start a guest cart (its token is shown once)"
    )
    async def create(self, tx: Conn, runtime: RuntimeDep, shopper: PrincipalOrGuest) -> Cart:
        return await service.create(tx, await cart_context(runtime, tx), shopper)

    @patch("", operation_id="updateCartDetails", summary="Set the e-mail, shipping address or method")
    async def update_details(
        self,
        data: JSONBody[CartDetails],
        tx: Conn,
        runtime: RuntimeDep,
        shopper: PrincipalOrGuest,
        token: CartToken,
    ) -> Cart:
        return await service.update_details(tx, await cart_context(runtime, tx), shopper, token, data)

    @post("/lines", operation_id="addCartLine", status_code=200, summary="Add units of a variant")
    async def add_line(
        self,
        data: JSONBody[LineAdd],
        tx: Conn,
        runtime: RuntimeDep,
        shopper: PrincipalOrGuest,
        token: CartToken,
    ) -> Cart:
        cart = await service.add_line(tx, await cart_context(runtime, tx), shopper, token, data)
        runtime.metrics.inc(CART_ADDITIONS)
        return cart

    @patch(
        "/lines/{variant_id:uuid}",
        operation_id="updateCartLine",
        summary="Change a line's quantity (0 removes it)",
    )
    async def update_line(
        self,
        variant_id: FromPath[uuid.UUID],
        data: JSONBody[LineUpdate],
        tx: Conn,
        runtime: RuntimeDep,
        shopper: PrincipalOrGuest,
        token: CartToken,
    ) -> Cart:
        return await service.update_line(
            tx, await cart_context(runtime, tx), shopper, token, variant_id, data
        )

    @delete(
        "/lines/{variant_id:uuid}", operation_id="removeCartLine", status_code=200, summary="Remove a line"
    )
    async def remove_line(
        self,
        variant_id: FromPath[uuid.UUID],
        tx: Conn,
        runtime: RuntimeDep,
        shopper: PrincipalOrGuest,
        token: CartToken,
    ) -> Cart:
        return await service.remove_line(tx, await cart_context(runtime, tx), shopper, token, variant_id)

    @put("/coupon", operation_id="applyCoupon", summary="Enter a coupon code")
    async def apply_coupon(
        self,
        data: JSONBody[CouponApply],
        tx: Conn,
        runtime: RuntimeDep,
        shopper: PrincipalOrGuest,
        token: CartToken,
    ) -> Cart:
        return await service.apply_coupon(tx, await cart_context(runtime, tx), shopper, token, data.code)

    @delete("/coupon", operation_id="removeCoupon", status_code=200, summary="Remove the coupon code")
    async def remove_coupon(
        self, tx: Conn, runtime: RuntimeDep, shopper: PrincipalOrGuest, token: CartToken
    ) -> Cart:
        return await service.remove_coupon(tx, await cart_context(runtime, tx), shopper, token)

    @post(
        "/merge",
        operation_id="mergeGuestCart",
        status_code=200,
        guards=[requires()],
        summary="Move a guest cart (X-Cart-Token) into the signed-in user's",
    )
    async def merge(
        self, tx: Conn, runtime: RuntimeDep, principal: CurrentPrincipal, token: CartToken
    ) -> Cart:
        if token:
            await service.merge_guest_cart(tx, principal.user_id, token, runtime.settings.cart_max_quantity)
        ctx = await cart_context(runtime, tx)
        return await service.view(tx, ctx, await service.find(tx, principal, None), principal)
