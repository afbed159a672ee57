"""Vendors: who sells, and whether they may sell now.

A signed-in user applies (one vendor per user); an admin approves (the user becomes a vendor,
with the commission rate the admin sets or 15%), rejects, suspends or reinstates. Only an active
vendor sells: its products are written, its stock changed and its API keys accepted only while it
is active. Every status change is recorded as an event.
"""

import uuid

import msgspec

from citadel.auth.models import Principal
from citadel.kit.db import Connection, from_row, load_queries
from citadel.kit.errors import Conflict, FieldError, Forbidden, NotFound
from citadel.kit.events import emit
from citadel.kit.ids import uuid7
from citadel.kit.listing import Filter, ListSpec, Sort, fetch_page
from citadel.kit.security import Signer
from citadel.kit.text import slugify
from citadel.users import service as users
from citadel.vendors.models import (
    Vendor,
    VendorAdminUpdate,
    VendorApplied,
    VendorApply,
    VendorPage,
    VendorProfileUpdate,
    VendorRow,
    VendorStatus,
    VendorStatusChanged,
)

Q = load_queries(__file__)
DEFAULT_COMMISSION_PPM = 150_000

# what each decision moves a vendor from, and to
DECISIONS: dict[str, tuple[frozenset[VendorStatus], VendorStatus]] = {
    "approve": (frozenset({"pending", "rejected"}), "active"),
    "reject": (frozenset({"pending"}), "rejected"),
    "suspend": (frozenset({"active"}), "suspended"),
    "reinstate": (frozenset({"suspended"}), "active"),
}


class VendorNotFound(NotFound):
    code = "vendor_not_found"
    title = "Vendor not found"


class VendorNotActive(Forbidden):
    code = "vendor_not_active"
    title = "The vendor account cannot sell"


class VendorExists(Conflict):
    code = "vendor_exists"
    title = "This user already has a vendor account, or the name is taken"


class InvalidVendorTransition(Conflict):
    code = "invalid_transition"
    title = "Not possible in the vendor's current status"


async def create_vendor(
    conn: Connection, *, owner_user_id: uuid.UUID, name: str, status: VendorStatus = "pending"
) -> VendorRow:
    row = await conn.fetchrow(
        Q.insert_vendor, uuid7(), owner_user_id, name, slugify(name) or "vendor", status
    )
    if row is None:
        raise _exists()
    return from_row(VendorRow, row)


def _exists() -> VendorExists:
    return VendorExists(
        errors=[
            FieldError(field="name", message="Already used, or the user has a vendor", code="vendor_exists")
        ]
    )


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


async def own_vendor(conn: Connection, principal: Principal) -> VendorRow:
    """The calling vendor's own account, whatever its status (``/api/v1/vendor`` reads)."""
    vendor = await vendor_of_user(conn, principal.user_id)
    if vendor is None:
        raise VendorNotFound("Your account has no vendor profile.")
    return vendor


# --- applying and deciding -------------------------------------------------------------------------


async def apply(conn: Connection, principal: Principal, data: VendorApply) -> Vendor:
    if principal.role == "admin":
        raise InvalidVendorTransition("Administrators do not sell; apply from a customer account.")
    base = slugify(data.name) or "vendor"
    slug = base
    for n in range(2, 50):
        if not await conn.fetchval(Q.slug_taken, slug):
            break
        slug = f"{base}-{n}"
    row = await conn.fetchrow(
        Q.apply_vendor, uuid7(), principal.user_id, data.name.strip(), slug, data.description,
        data.contact_email, data.phone, data.website,
    )  # fmt: skip
    if row is None:
        raise _exists()
    vendor = from_row(VendorRow, row)
    await emit(
        conn,
        VendorApplied(vendor_id=vendor.id, owner_user_id=vendor.owner_user_id, name=vendor.name),
        aggregate_id=vendor.id,
    )
    return Vendor.of(vendor)


async def decide(
    conn: Connection,
    principal: Principal,
    vendor_id: uuid.UUID,
    decision: str,
    *,
    reason: str | None = None,
    commission_rate_ppm: int | None = None,
) -> Vendor:
    """Approve, reject, suspend or reinstate (admins). Approval makes the owner a vendor."""
    row = await conn.fetchrow(Q.get_vendor_for_update, vendor_id)
    if row is None:
        raise VendorNotFound()
    current = from_row(VendorRow, row)
    allowed, target = DECISIONS[decision]
    if current.status not in allowed:
        raise InvalidVendorTransition(f"A {current.status} vendor cannot be {decision}d.")
    rate = commission_rate_ppm
    if decision == "approve" and rate is None and current.approved_at is None:
        rate = DEFAULT_COMMISSION_PPM
    updated = from_row(VendorRow, await conn.fetchrow(Q.set_vendor_status, vendor_id, target, reason, rate))
    if target == "active":
        owner = await users.get_user(conn, current.owner_user_id)
        if owner.role == "customer":
            await users.change_role(conn, actor_id=principal.user_id, user_id=owner.id, role="vendor")
    await emit(
        conn,
        VendorStatusChanged(
            vendor_id=vendor_id, owner_user_id=current.owner_user_id, old_status=current.status,
            new_status=target, reason=reason, changed_by=principal.user_id,
        ),
        aggregate_id=vendor_id,
    )  # fmt: skip
    return Vendor.of(updated)


# --- profiles --------------------------------------------------------------------------------------


async def update_profile(conn: Connection, principal: Principal, data: VendorProfileUpdate) -> Vendor:
    vendor = await own_vendor(conn, principal)
    if vendor.status == "rejected":
        raise VendorNotActive("A rejected application cannot be changed.")
    settings = msgspec.to_builtins(data.settings) if data.settings is not None else None
    row = await conn.fetchrow(
        Q.update_vendor_profile, vendor.id, data.description, data.contact_email, data.phone,
        data.website, settings, data.payout_method, data.payout_account,
    )  # fmt: skip
    return Vendor.of(from_row(VendorRow, row))


async def admin_update(conn: Connection, vendor_id: uuid.UUID, data: VendorAdminUpdate) -> Vendor:
    vendor = await get_vendor(conn, vendor_id)
    if data.commission_rate_ppm is None:
        return Vendor.of(vendor)
    row = await conn.fetchrow(Q.set_vendor_commission_rate, vendor_id, data.commission_rate_ppm)
    return Vendor.of(from_row(VendorRow, row))


VENDOR_LIST = ListSpec(
    source=Q.list_vendors_source,
    filters={"q": Filter("search_text", "contains"), "status": Filter("status")},
    sorts={
        "newest": Sort("created_at", "timestamp", descending=True),
        "oldest": Sort("created_at", "timestamp"),
        "name": Sort("name", "text"),
    },
    default_sort="newest",
)


async def list_vendors(
    conn: Connection,
    signer: Signer,
    *,
    q: str | None,
    status: VendorStatus | None,
    sort: str | None,
    cursor: str | None,
    limit: int,
) -> VendorPage:
    page = await fetch_page(
        conn, VENDOR_LIST, signer,
        filters={"q": q.strip().lower() if q and q.strip() else None, "status": status},
        sort=sort, cursor=cursor, limit=limit,
    )  # fmt: skip
    fields = VendorRow.__struct_fields__
    rows = [VendorRow(**{k: r[k] for k in fields}) for r in page.rows]
    return VendorPage(items=[Vendor.of(r) for r in rows], next_cursor=page.next_cursor)
