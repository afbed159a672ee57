"""``/api/v1/warehouses`` and ``/api/v1/inventory``: where stock is, and counting it."""

import uuid

from litestar import Controller, get, post, put
from litestar.params import FromPath, JSONBody

from citadel.auth.guards import CurrentPrincipal, requires
from citadel.inventory import service
from citadel.inventory.models import (
    StockAdjustment,
    StockLevel,
    StockSet,
    VariantStock,
    Warehouse,
    WarehouseCreate,
    WarehouseList,
)
from citadel.kit.runtime import Conn


class WarehousesController(Controller):
    path = "/api/v1/warehouses"
    tags = ["inventory"]

    @get("", operation_id="listWarehouses", guards=[requires("vendor", "admin")], summary="Every warehouse")
    async def list_warehouses(self, conn: Conn) -> WarehouseList:
        return WarehouseList(items=await service.list_warehouses(conn))

    @post(
        "",
        operation_id="createWarehouse",
        status_code=201,
        guards=[requires("admin")],
        summary="Add a warehouse",
    )
    async def create(self, data: JSONBody[WarehouseCreate], tx: Conn) -> Warehouse:
        return await service.create_warehouse(tx, data)


class InventoryController(Controller):
    path = "/api/v1/inventory"
    tags = ["inventory"]
    guards = [requires("vendor", "admin")]

    @get(
        "/variants/{variant_id:uuid}",
        operation_id="getVariantStock",
        summary="A variant's stock per warehouse",
    )
    async def variant_stock(
        self, variant_id: FromPath[uuid.UUID], conn: Conn, principal: CurrentPrincipal
    ) -> VariantStock:
        return await service.variant_stock(conn, principal, variant_id)

    @put(
        "/variants/{variant_id:uuid}/warehouses/{warehouse_id:uuid}",
        operation_id="setStock",
        summary="Set what is on hand (a count), and the low-stock threshold",
    )
    async def set_stock(
        self,
        variant_id: FromPath[uuid.UUID],
        warehouse_id: FromPath[uuid.UUID],
        data: JSONBody[StockSet],
        tx: Conn,
        principal: CurrentPrincipal,
    ) -> StockLevel:
        return await service.set_stock(tx, principal, variant_id, warehouse_id, data)

    @post(
        "/adjustments",
        operation_id="adjustStock",
        status_code=200,
        summary="Add or remove units, with a reason",
    )
    async def adjust(
        self, data: JSONBody[StockAdjustment], tx: Conn, principal: CurrentPrincipal
    ) -> StockLevel:
        return await service.adjust_stock(tx, principal, data)
