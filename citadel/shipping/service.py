"""Shipping zones and methods (admins), and the choice of a zone for an address.

An address belongs to the first active zone, lowest priority first, whose countries hold its
country and whose regions (when it lists any) hold its region; of zones of the same priority, one
that names the region comes before one for the whole country. Writes drop every worker's
cached rule set after commit.
"""

import uuid

import msgspec

from citadel.kit.db import Connection, from_row, from_rows, load_queries
from citadel.kit.errors import FieldError, NotFound, ValidationFailed
from citadel.kit.ids import uuid7
from citadel.kit.money import check_currency
from citadel.kit.text import squash
from citadel.shipping.models import (
    ShippingMethod,
    ShippingMethodCreate,
    ShippingMethodRow,
    ShippingMethodUpdate,
    ShippingRules,
    ShippingZone,
    ShippingZoneCreate,
    ShippingZoneRow,
    ShippingZoneUpdate,
)
from citadel.tax import service as tax
from citadel.tax.models import RULEBOOK_TOPIC

Q = load_queries(__file__)


class ShippingZoneNotFound(NotFound):
    code = "shipping_zone_not_found"
    title = "Shipping zone not found"


class ShippingMethodNotFound(NotFound):
    code = "shipping_method_not_found"
    title = "Shipping method not found"


def _zone(row: ShippingZoneRow, methods: list[ShippingMethodRow]) -> ShippingZone:
    return ShippingZone(
        id=row.id, name=row.name, countries=row.countries, regions=row.regions, priority=row.priority,
        is_active=row.is_active, methods=[ShippingMethod.of(m) for m in methods if m.zone_id == row.id],
        created_at=row.created_at, updated_at=row.updated_at,
    )  # fmt: skip


def _places(countries: list[str], regions: list[str]) -> tuple[list[str], list[str]]:
    codes = [tax.country_code(c, f"countries[{i}]") for i, c in enumerate(countries)]
    return sorted(set(codes)), sorted({r.upper() for r in regions})


def _check_days(low: int | None, high: int | None) -> None:
    if low is not None and high is not None and high < low:
        raise ValidationFailed(
            "The latest delivery day cannot come before the earliest.",
            errors=[FieldError(field="maxDeliveryDays", message=f"At least {low}", code="out_of_range")],
        )


async def list_zones(conn: Connection) -> list[ShippingZone]:
    methods = from_rows(ShippingMethodRow, await conn.fetch(Q.list_methods))
    return [_zone(z, methods) for z in from_rows(ShippingZoneRow, await conn.fetch(Q.list_zones))]


async def get_zone(conn: Connection, zone_id: uuid.UUID) -> ShippingZone:
    row = await conn.fetchrow(Q.get_zone, zone_id)
    if row is None:
        raise ShippingZoneNotFound()
    return _zone(
        from_row(ShippingZoneRow, row),
        from_rows(ShippingMethodRow, await conn.fetch(Q.zone_methods, zone_id)),
    )


async def create_zone(conn: Connection, data: ShippingZoneCreate) -> ShippingZone:
    countries, regions = _places(data.countries, data.regions)
    row = await conn.fetchrow(
        Q.insert_zone, uuid7(), squash(data.name), countries, regions, data.priority, data.is_active
    )
    conn.invalidate_after_commit(RULEBOOK_TOPIC, "all")
    return _zone(from_row(ShippingZoneRow, row), [])


async def update_zone(conn: Connection, zone_id: uuid.UUID, data: ShippingZoneUpdate) -> ShippingZone:
    current = await get_zone(conn, zone_id)
    values = {f: getattr(current, f) for f in ShippingZoneUpdate.__struct_fields__}
    values.update(
        {f: v for f in ShippingZoneUpdate.__struct_fields__ if (v := getattr(data, f)) is not msgspec.UNSET}
    )
    countries, regions = _places(values["countries"], values["regions"])
    await conn.execute(
        Q.update_zone,
        zone_id,
        squash(values["name"]),
        countries,
        regions,
        values["priority"],
        values["is_active"],
    )
    conn.invalidate_after_commit(RULEBOOK_TOPIC, "all")
    return await get_zone(conn, zone_id)


async def delete_zone(conn: Connection, zone_id: uuid.UUID) -> None:
    if await conn.fetchval(Q.delete_zone, zone_id) is None:
        raise ShippingZoneNotFound()
    conn.invalidate_after_commit(RULEBOOK_TOPIC, "all")


async def create_method(conn: Connection, zone_id: uuid.UUID, data: ShippingMethodCreate) -> ShippingMethod:
    await get_zone(conn, zone_id)
    check_currency(data.currency)
    _check_days(data.min_delivery_days, data.max_delivery_days)
    row = await conn.fetchrow(
        Q.insert_method, uuid7(), zone_id, squash(data.name), data.currency, data.base_amount,
        data.per_kg_amount, data.free_above_amount, data.max_weight_grams, data.min_delivery_days,
        data.max_delivery_days, data.position, data.is_active,
    )  # fmt: skip
    conn.invalidate_after_commit(RULEBOOK_TOPIC, "all")
    return ShippingMethod.of(from_row(ShippingMethodRow, row))


async def get_method(conn: Connection, method_id: uuid.UUID) -> ShippingMethod:
    row = await conn.fetchrow(Q.get_method, method_id)
    if row is None:
        raise ShippingMethodNotFound()
    return ShippingMethod.of(from_row(ShippingMethodRow, row))


async def update_method(conn: Connection, method_id: uuid.UUID, data: ShippingMethodUpdate) -> ShippingMethod:
    current = await get_method(conn, method_id)
    values = {f: getattr(current, f) for f in ShippingMethodUpdate.__struct_fields__}
    values.update(
        {f: v for f in ShippingMethodUpdate.__struct_fields__ if (v := getattr(data, f)) is not msgspec.UNSET}
    )
    _check_days(values["min_delivery_days"], values["max_delivery_days"])
    row = await conn.fetchrow(
        Q.update_method, method_id, squash(values["name"]), values["base_amount"], values["per_kg_amount"],
        values["free_above_amount"], values["max_weight_grams"], values["min_delivery_days"],
        values["max_delivery_days"], values["position"], values["is_active"],
    )  # fmt: skip
    conn.invalidate_after_commit(RULEBOOK_TOPIC, "all")
    return ShippingMethod.of(from_row(ShippingMethodRow, row))


async def delete_method(conn: Connection, method_id: uuid.UUID) -> None:
    if await conn.fetchval(Q.delete_method, method_id) is None:
        raise ShippingMethodNotFound()
    conn.invalidate_after_commit(RULEBOOK_TOPIC, "all")


# --- for carts -------------------------------------------------------------------------------------


async def active_rules(conn: Connection) -> ShippingRules:
    return ShippingRules(
        zones=from_rows(ShippingZoneRow, await conn.fetch(Q.active_zones)),
        methods=from_rows(ShippingMethodRow, await conn.fetch(Q.active_methods)),
    )


def zone_for(rules: ShippingRules, country: str, region: str | None) -> ShippingZoneRow | None:
    """The zone of an address: the lowest priority that covers it, and of those a zone that names
    its region before one that covers the whole country (then the oldest)."""
    region_code = (region or "").upper()
    best: ShippingZoneRow | None = None
    for zone in rules.zones:  # ordered by priority, then id (the oldest first)
        if best is not None and zone.priority > best.priority:
            break
        if country in zone.countries and (not zone.regions or region_code in zone.regions):
            if zone.regions:
                return zone
            best = best or zone
    return best


def methods_for(
    rules: ShippingRules, country: str, region: str | None, currency: str, weight_grams: int
) -> list[ShippingMethodRow]:
    """The methods that can ship a cart of this weight, in this currency, to this place."""
    zone = zone_for(rules, country, region)
    if zone is None:
        return []
    return [
        m
        for m in rules.methods
        if m.zone_id == zone.id
        and m.currency == currency
        and (m.max_weight_grams is None or weight_grams <= m.max_weight_grams)
    ]
