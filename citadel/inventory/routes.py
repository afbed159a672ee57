"""``/api/v1/warehouses`` and ``/api/v1/inventory``: where stock is, and counting it."""

import uuid
from typing import Annotated

from litestar import Controller, get, patch, post, put
from litestar.params import FromPath, JSONBody, QueryParameter

from citadel.auth.guards import CurrentPrincipal, requires
from citadel.inventory import service
from citadel.inventory.models import (
    StockAdjustment,
    StockLevel,
    StockSet,
    Transfer,
    TransferCreate,
    TransferPage,
    TransferStatus,
    VariantStock,
    Warehouse,
    WarehouseCreate,
    WarehouseList,
    WarehouseUpdate,
)
from citadel.kit.http import PageSize
from citadel.kit.runtime import Conn, RuntimeDep


class WarehousesController(Controller):
    path = "/api/v1/warehouses"
    tags = ["inventory"]

    @get(
        "",
        operation_id="listWarehouses",
        guards=[requires("vendor", "admin", scope="stock:read")],
        summary="Every warehouse",
    )
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

    @get(
        "/{warehouse_id:uuid}",
        operation_id="getWarehouse",
        guards=[requires("vendor", "admin", scope="stock:read")],
        summary="One warehouse",
    )
    async def get_warehouse(self, warehouse_id: FromPath[uuid.UUID], conn: Conn) -> Warehouse:
        return await service.get_warehouse(conn, warehouse_id)

    @patch(
        "/{warehouse_id:uuid}",
        operation_id="updateWarehouse",
        guards=[requires("admin")],
        summary="Rename, reprioritise, deactivate or reactivate a warehouse",
    )
    async def update(
        self, warehouse_id: FromPath[uuid.UUID], data: JSONBody[WarehouseUpdate], tx: Conn
    ) -> Warehouse:
        return await service.update_warehouse(tx, warehouse_id, data)


class InventoryController(Controller):
    path = "/api/v1/inventory"
    tags = ["inventory"]

    @get(
        "/variants/{variant_id:uuid}",
        operation_id="getVariantStock",
        guards=[requires("vendor", "admin", scope="stock:read")],
        summary="A variant's stock per warehouse",
    )
    async def variant_stock(
        self, variant_id: FromPath[uuid.UUID], conn: Conn, principal: CurrentPrincipal
    ) -> VariantStock:
        return await service.variant_stock(conn, principal, variant_id)

    @put(
        "/variants/{variant_id:uuid}/warehouses/{warehouse_id:uuid}",
        operation_id="setStock",
        guards=[requires("vendor", "admin", scope="stock:write")],
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
        guards=[requires("vendor", "admin", scope="stock:write")],
        status_code=200,
        summary="Add or remove units, with a reason",
    )
    async def adjust(
        self, data: JSONBody[StockAdjustment], tx: Conn, principal: CurrentPrincipal
    ) -> StockLevel:
        return await service.adjust_stock(tx, principal, data)


class TransfersController(Controller):
    path = "/api/v1/inventory/transfers"
    tags = ["inventory"]
    guards = [requires("admin")]

    @get("", operation_id="listTransfers", summary="Transfers, newest first")
    async def list_transfers(
        self,
        conn: Conn,
        runtime: RuntimeDep,
        status: Annotated[TransferStatus | None, QueryParameter()] = None,
        cursor: Annotated[str | None, QueryParameter(max_length=1000)] = None,
        limit: PageSize = 20,
    ) -> TransferPage:
        return await service.list_transfers(conn, runtime.cursors, status=status, cursor=cursor, limit=limit)

    @post("", operation_id="createTransfer", status_code=201, summary="Plan a transfer between warehouses")
    async def create(self, data: JSONBody[TransferCreate], tx: Conn, principal: CurrentPrincipal) -> Transfer:
        return await service.create_transfer(tx, principal, data)

    @get("/{transfer_id:uuid}", operation_id="getTransfer", summary="One transfer")
    async def get_transfer(self, transfer_id: FromPath[uuid.UUID], conn: Conn) -> Transfer:
        return await service.get_transfer(conn, transfer_id)

    @post(
        "/{transfer_id:uuid}/ship",
        operation_id="shipTransfer",
        status_code=200,
        summary="Send it: units leave the source",
    )
    async def ship(self, transfer_id: FromPath[uuid.UUID], tx: Conn, principal: CurrentPrincipal) -> Transfer:
        return await service.advance_transfer(tx, principal, transfer_id, "ship")

    @post(
        "/{transfer_id:uuid}/receive",
        operation_id="receiveTransfer",
        status_code=200,
        summary="Receive it: units arrive at the destination",
    )
    async def receive(
        self, transfer_id: FromPath[uuid.UUID], tx: Conn, principal: CurrentPrincipal
    ) -> Transfer:
        return await service.advance_transfer(tx, principal, transfer_id, "receive")

    @post(
        "/{transfer_id:uuid}/cancel",
        operation_id="cancelTransfer",
        status_code=200,
        summary="Cancel it: units in transit return to the source",
    )
    async def cancel(
        self, transfer_id: FromPath[uuid.UUID], tx: Conn, principal: CurrentPrincipal
    ) -> Transfer:
        return await service.advance_transfer(tx, principal, transfer_id, "cancel")
