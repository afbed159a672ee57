"""Vendors: who sells, and whether they may sell now."""

import uuid

from citadel.kit.db import Connection, from_row, load_queries
from citadel.kit.errors import Conflict, FieldError, Forbidden, NotFound
from citadel.kit.ids import uuid7
from citadel.kit.text import slugify
from citadel.vendors.models import VendorRow, VendorStatus

Q = load_queries(__file__)


class VendorNotFound(NotFound):
    code = "vendor_not_found"
    title = "Vendor not found"


class VendorNotActive(Forbidden):
    code = "vendor_not_active"
    title = "The vendor account cannot sell"


class VendorExists(Conflict):
    code = "vendor_exists"
    title = "This user already has a vendor account, or the name is taken"


async def create_vendor(
    conn: Connection, *, owner_user_id: uuid.UUID, name: str, status: VendorStatus = "pending"
) -> VendorRow:
    row = await conn.fetchrow(
        Q.insert_vendor, uuid7(), owner_user_id, name, slugify(name) or "vendor", status
    )
    if row is None:
        raise VendorExists(
            errors=[
                FieldError(
                    field="name", message="Already used, or the user has a vendor", code="vendor_exists"
                )
            ]
        )
    return from_row(VendorRow, row)


async def get_vendor(conn: Connection, vendor_id: uuid.UUID) -> VendorRow:
    row = await conn.fetchrow(Q.get_vendor, vendor_id)
    if row is None:
        raise VendorNotFound()
    return from_row(VendorRow, row)


async def vendor_of_user(conn: Connection, user_id: uuid.UUID) -> VendorRow | None:
    row = await conn.fetchrow(Q.get_vendor_of_user, user_id)
    return from_row(VendorRow, row) if row else None


async def selling_vendor_of_user(conn: Connection, user_id: uuid.UUID) -> VendorRow:
    """The caller's own vendor account, which must be active to sell."""
    vendor = await vendor_of_user(conn, user_id)
    if vendor is None:
        raise VendorNotActive("Your account has no vendor profile yet.")
    if vendor.status != "active":
        raise VendorNotActive(f"Your vendor account is {vendor.status}; it cannot list products.")
    return vendor
