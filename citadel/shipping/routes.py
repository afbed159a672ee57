"""``/api/v1/shipping-zones`` and ``/api/v1/shipping-methods``: where and how Citadel ships (admins)."""

import uuid

from litestar import Controller, delete, get, patch, post
from litestar.params import FromPath, JSONBody

from citadel.auth.guards import requires
from citadel.kit.runtime import Conn
from citadel.shipping import service
from citadel.shipping.models import (
    ShippingMethod,
    ShippingMethodCreate,
    ShippingMethodUpdate,
    ShippingZone,
    ShippingZoneCreate,
    ShippingZoneList,
    ShippingZoneUpdate,
)


class ShippingZonesController(Controller):
    path = "/api/v1/shipping-zones"
    tags = ["shipping (admin)"]
    guards = [requires("admin")]

    @get("", operation_id="listShippingZones", summary="Every zone with its methods")
    async def list_zones(self, conn: Conn) -> ShippingZoneList:
        return ShippingZoneList(items=await service.list_zones(conn))

    @post("", operation_id="createShippingZone", status_code=201, summary="Add a zone")
    async def create(self, data: JSONBody[ShippingZoneCreate], tx: Conn) -> ShippingZone:
        return await service.create_zone(tx, data)

    @get("/{zone_id:uuid}", operation_id="getShippingZone", summary="One zone with its methods")
    async def get_zone(self, zone_id: FromPath[uuid.UUID], conn: Conn) -> ShippingZone:
        return await service.get_zone(conn, zone_id)

    @patch("/{zone_id:uuid}", operation_id="updateShippingZone", summary="Change a zone")
    async def update(
        self, zone_id: FromPath[uuid.UUID], data: JSONBody[ShippingZoneUpdate], tx: Conn
    ) -> ShippingZone:
        return await service.update_zone(tx, zone_id, data)

    @delete("/{zone_id:uuid}", operation_id="deleteShippingZone", summary="Remove a zone and its methods")
    async def remove(self, zone_id: FromPath[uuid.UUID], tx: Conn) -> None:
        await service.delete_zone(tx, zone_id)

    @post(
        "/{zone_id:uuid}/methods",
        operation_id="createShippingMethod",
        status_code=201,
        summary="Add a method",
    )
    async def create_method(
        self, zone_id: FromPath[uuid.UUID], data: JSONBody[ShippingMethodCreate], tx: Conn
    ) -> ShippingMethod:
        return await service.create_method(tx, zone_id, data)


class ShippingMethodsController(Controller):
    path = "/api/v1/shipping-methods"
    tags = ["shipping (admin)"]
    guards = [requires("admin")]

    @get("/{method_id:uuid}", operation_id="getShippingMethod", summary="One method")
    async def get_method(self, method_id: FromPath[uuid.UUID], conn: Conn) -> ShippingMethod:
        return await service.get_method(conn, method_id)

    @patch("/{method_id:uuid}", operation_id="updateShippingMethod", summary="Change a method")
    async def update(
        self, method_id: FromPath[uuid.UUID], data: JSONBody[ShippingMethodUpdate], tx: Conn
    ) -> ShippingMethod:
        return await service.update_method(tx, method_id, data)

    @delete("/{method_id:uuid}", operation_id="deleteShippingMethod", summary="Remove a method")
    async def remove(self, method_id: FromPath[uuid.UUID], tx: Conn) -> None:
        await service.delete_method(tx, method_id)
