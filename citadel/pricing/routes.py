"""``/api/v1/price-lists`` and ``/api/v1/coupons``: what carts are priced with (admins)."""

import uuid
from typing import Annotated

from litestar import Controller, delete, get, patch, post, put
from litestar.params import FromPath, JSONBody, QueryParameter

from citadel.auth.guards import requires
from citadel.kit.http import PageSize
from citadel.kit.runtime import Conn, RuntimeDep
from citadel.pricing import service
from citadel.pricing.models import (
    Coupon,
    CouponCreate,
    CouponPage,
    CouponUpdate,
    EntriesWritten,
    PriceList,
    PriceListCreate,
    PriceListEntriesPut,
    PriceListEntryPage,
    PriceListList,
    PriceListUpdate,
)

Cursor = Annotated[str | None, QueryParameter(max_length=1000)]


class PriceListsController(Controller):
    path = "/api/v1/price-lists"
    tags = ["pricing (admin)"]
    guards = [requires("admin")]

    @get("", operation_id="listPriceLists", summary="Every price list")
    async def list_price_lists(self, conn: Conn) -> PriceListList:
        return PriceListList(items=await service.list_price_lists(conn))

    @post("", operation_id="createPriceList", status_code=201, summary="Add a price list")
    async def create(self, data: JSONBody[PriceListCreate], tx: Conn) -> PriceList:
        return await service.create_price_list(tx, data)

    @get("/{price_list_id:uuid}", operation_id="getPriceList", summary="One price list")
    async def get_price_list(self, price_list_id: FromPath[uuid.UUID], conn: Conn) -> PriceList:
        return await service.get_price_list(conn, price_list_id)

    @patch("/{price_list_id:uuid}", operation_id="updatePriceList", summary="Change a price list")
    async def update(
        self, price_list_id: FromPath[uuid.UUID], data: JSONBody[PriceListUpdate], tx: Conn
    ) -> PriceList:
        return await service.update_price_list(tx, price_list_id, data)

    @delete("/{price_list_id:uuid}", operation_id="deletePriceList", summary="Remove a price list")
    async def remove(self, price_list_id: FromPath[uuid.UUID], tx: Conn) -> None:
        await service.delete_price_list(tx, price_list_id)

    @get("/{price_list_id:uuid}/entries", operation_id="listPriceListEntries", summary="A list's prices")
    async def entries(
        self,
        price_list_id: FromPath[uuid.UUID],
        conn: Conn,
        runtime: RuntimeDep,
        cursor: Cursor = None,
        limit: PageSize = 20,
    ) -> PriceListEntryPage:
        return await service.list_entries(conn, runtime.cursors, price_list_id, cursor=cursor, limit=limit)

    @put(
        "/{price_list_id:uuid}/entries",
        operation_id="putPriceListEntries",
        summary="Set up to 1,000 variants' prices (all or none)",
    )
    async def put_entries(
        self, price_list_id: FromPath[uuid.UUID], data: JSONBody[PriceListEntriesPut], tx: Conn
    ) -> EntriesWritten:
        return EntriesWritten(written=await service.put_entries(tx, price_list_id, data))

    @delete(
        "/{price_list_id:uuid}/entries/{variant_id:uuid}",
        operation_id="deletePriceListEntry",
        summary="Stop pricing a variant",
    )
    async def remove_entry(
        self, price_list_id: FromPath[uuid.UUID], variant_id: FromPath[uuid.UUID], tx: Conn
    ) -> None:
        await service.delete_entry(tx, price_list_id, variant_id)


class CouponsController(Controller):
    path = "/api/v1/coupons"
    tags = ["pricing (admin)"]
    guards = [requires("admin")]

    @get("", operation_id="listCoupons", summary="Find coupons (newest first by default)")
    async def list_coupons(
        self,
        conn: Conn,
        runtime: RuntimeDep,
        q: Annotated[str | None, QueryParameter(max_length=40, description="Start of a code")] = None,
        automatic: Annotated[bool | None, QueryParameter()] = None,
        active: Annotated[bool | None, QueryParameter()] = None,
        sort: Annotated[str | None, QueryParameter(description="newest or code")] = None,
        cursor: Cursor = None,
        limit: PageSize = 20,
    ) -> CouponPage:
        return await service.list_coupons(
            conn,
            runtime.cursors,
            q=q,
            automatic=automatic,
            active=active,
            sort=sort,
            cursor=cursor,
            limit=limit,
        )

    @post("", operation_id="createCoupon", status_code=201, summary="Add a coupon")
    async def create(self, data: JSONBody[CouponCreate], tx: Conn) -> Coupon:
        return await service.create_coupon(tx, data)

    @get("/{coupon_id:uuid}", operation_id="getCoupon", summary="One coupon")
    async def get_coupon(self, coupon_id: FromPath[uuid.UUID], conn: Conn) -> Coupon:
        return await service.get_coupon(conn, coupon_id)

    @patch("/{coupon_id:uuid}", operation_id="updateCoupon", summary="Change a coupon (not its code or kind)")
    async def update(self, coupon_id: FromPath[uuid.UUID], data: JSONBody[CouponUpdate], tx: Conn) -> Coupon:
        return await service.update_coupon(tx, coupon_id, data)

    @delete("/{coupon_id:uuid}", operation_id="deleteCoupon", summary="Remove a coupon no order used")
    async def remove(self, coupon_id: FromPath[uuid.UUID], tx: Conn) -> None:
        await service.delete_coupon(tx, coupon_id)
