"""Users: accounts, profiles, roles and status, and their addresses."""

import re
import uuid
from typing import Any

import msgspec

from citadel.kit.cache import PRINCIPALS_TOPIC
from citadel.kit.countries import COUNTRY_CODES
from citadel.kit.db import Connection, from_row, from_rows, load_queries
from citadel.kit.errors import Conflict, FieldError, NotFound, ValidationFailed
from citadel.kit.events import emit
from citadel.kit.ids import uuid7
from citadel.kit.listing import Filter, ListSpec, Sort, fetch_page
from citadel.kit.security import Signer
from citadel.users.models import (
    Address,
    AddressCreate,
    AddressRow,
    AddressUpdate,
    ProfileUpdate,
    Role,
    User,
    UserDeactivated,
    UserPage,
    UserReactivated,
    UserRegistered,
    UserRoleChanged,
    UserRow,
)

Q = load_queries(__file__)

MAX_ADDRESSES = 50
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")


class EmailTaken(Conflict):
    code = "email_taken"
    title = "E-mail address already registered"


class UserNotFound(NotFound):
    code = "user_not_found"
    title = "User not found"


class CannotChangeOwnAccount(Conflict):
    code = "cannot_change_own_account"
    title = "Administrators cannot change their own role or status"


class AddressNotFound(NotFound):
    code = "address_not_found"
    title = "Address not found"


class AddressLimitReached(ValidationFailed):
    code = "address_limit_reached"
    title = "Too many addresses"


class CredentialsRow(msgspec.Struct, frozen=True):
    id: uuid.UUID
    password_hash: str
    status: str


def normalize_email(raw: str, field: str = "email") -> str:
    """Trimmed and lower-cased; a malformed address is a 422 on ``field``."""
    email = raw.strip().lower()
    if len(email) > 254 or not _EMAIL.match(email):
        raise ValidationFailed(
            "Enter a valid e-mail address.",
            errors=[FieldError(field=field, message="Enter a valid e-mail address", code="invalid_email")],
        )
    return email


def normalize_name(raw: str, field: str = "name") -> str:
    name = " ".join(raw.split())
    if not 1 <= len(name) <= 100:
        raise ValidationFailed(
            "A name holds 1 to 100 characters.",
            errors=[FieldError(field=field, message="Use 1 to 100 characters", code="invalid_length")],
        )
    return name


# --- accounts ------------------------------------------------------------------------------------


async def create_user(
    conn: Connection, *, email: str, password_hash: str, name: str, role: Role = "customer"
) -> UserRow:
    """A new account (``email`` and ``name`` already normalised); emits ``users.registered``."""
    row = await conn.fetchrow(Q.insert_user, uuid7(), email, password_hash, name, role)
    if row is None:
        raise EmailTaken(
            "An account with this e-mail address exists.",
            errors=[FieldError(field="email", message="Already registered", code="email_taken")],
        )
    user = from_row(UserRow, row)
    await emit(
        conn,
        UserRegistered(user_id=user.id, email=user.email, name=user.name, role=user.role),
        aggregate_id=user.id,
    )
    return user


async def get_user(conn: Connection, user_id: uuid.UUID) -> UserRow:
    row = await conn.fetchrow(Q.get_user, user_id)
    if row is None:
        raise UserNotFound()
    return from_row(UserRow, row)


async def find_credentials(conn: Connection, email: str) -> CredentialsRow | None:
    row = await conn.fetchrow(Q.get_credentials_by_email, email)
    return from_row(CredentialsRow, row) if row else None


async def password_hash_of(conn: Connection, user_id: uuid.UUID) -> str:
    value = await conn.fetchval(Q.get_password_hash, user_id)
    if value is None:
        raise UserNotFound()
    return str(value)


async def set_password_hash(
    conn: Connection, user_id: uuid.UUID, password_hash: str, *, revoke_tokens: bool
) -> float:
    """Store a new hash; with ``revoke_tokens``, end every earlier token. Returns the cut-off (Unix s)."""
    valid_after = await conn.fetchval(Q.set_password_hash, user_id, password_hash, revoke_tokens)
    if valid_after is None:
        raise UserNotFound()
    if revoke_tokens:
        conn.invalidate_after_commit(PRINCIPALS_TOPIC, str(user_id))
    return float(valid_after)


async def revoke_tokens(conn: Connection, user_id: uuid.UUID) -> float:
    """End every access token and session of the user issued before now; the cut-off instant."""
    valid_after = await conn.fetchval(Q.revoke_tokens, user_id)
    if valid_after is None:
        raise UserNotFound()
    conn.invalidate_after_commit(PRINCIPALS_TOPIC, str(user_id))
    return float(valid_after)


async def mark_email_verified(conn: Connection, user_id: uuid.UUID, email: str) -> UserRow | None:
    row = await conn.fetchrow(Q.mark_email_verified, user_id, email)
    return from_row(UserRow, row) if row else None


async def count_users(conn: Connection) -> int:
    return int(await conn.fetchval(Q.count_users))


async def update_profile(conn: Connection, user_id: uuid.UUID, update: ProfileUpdate) -> User:
    name = None if update.name is msgspec.UNSET else normalize_name(update.name)
    row = await conn.fetchrow(Q.update_profile, user_id, name)
    if row is None:
        raise UserNotFound()
    return User.of(from_row(UserRow, row))


# --- administration --------------------------------------------------------------------------------

USER_LIST = ListSpec(
    source=Q.list_users_source,
    filters={"q": Filter("search_text", "contains"), "role": Filter("role"), "status": Filter("status")},
    sorts={
        "newest": Sort("created_at", "timestamp", descending=True),
        "oldest": Sort("created_at", "timestamp"),
        "email": Sort("email", "text"),
    },
    default_sort="newest",
)


async def list_users(
    conn: Connection,
    signer: Signer,
    *,
    q: str | None,
    role: Role | None,
    status: str | None,
    sort: str | None,
    cursor: str | None,
    limit: int,
) -> UserPage:
    page = await fetch_page(
        conn,
        USER_LIST,
        signer,
        filters={"q": q.strip() if q and q.strip() else None, "role": role, "status": status},
        sort=sort,
        cursor=cursor,
        limit=limit,
    )
    rows = [UserRow(**{k: r[k] for k in UserRow.__struct_fields__}) for r in page.rows]
    return UserPage(items=[User.of(r) for r in rows], next_cursor=page.next_cursor)


async def _lock_other_user(conn: Connection, actor_id: uuid.UUID, user_id: uuid.UUID) -> UserRow:
    if actor_id == user_id:
        raise CannotChangeOwnAccount("Ask another administrator to change your own role or status.")
    row = await conn.fetchrow(Q.get_user_for_update, user_id)
    if row is None:
        raise UserNotFound()
    return from_row(UserRow, row)


async def change_role(conn: Connection, *, actor_id: uuid.UUID, user_id: uuid.UUID, role: Role) -> User:
    current = await _lock_other_user(conn, actor_id, user_id)
    if current.role == role:
        return User.of(current)
    row = from_row(UserRow, await conn.fetchrow(Q.set_role, user_id, role))
    conn.invalidate_after_commit(PRINCIPALS_TOPIC, str(user_id))
    await emit(
        conn,
        UserRoleChanged(user_id=user_id, old_role=current.role, new_role=role, changed_by=actor_id),
        aggregate_id=user_id,
    )
    return User.of(row)


async def set_active(conn: Connection, *, actor_id: uuid.UUID, user_id: uuid.UUID, active: bool) -> User:
    """Deactivate (ending every session at once) or reactivate an account."""
    current = await _lock_other_user(conn, actor_id, user_id)
    status = "active" if active else "deactivated"
    if current.status == status:
        return User.of(current)
    row = from_row(UserRow, await conn.fetchrow(Q.set_status, user_id, status))
    conn.invalidate_after_commit(PRINCIPALS_TOPIC, str(user_id))
    event = (
        UserReactivated(user_id=user_id, changed_by=actor_id)
        if active
        else UserDeactivated(user_id=user_id, changed_by=actor_id)
    )
    await emit(conn, event, aggregate_id=user_id)
    return User.of(row)


# --- addresses -------------------------------------------------------------------------------------

_ADDRESS_COLUMNS = (
    "kind", "is_default", "full_name", "company", "line1", "line2", "city", "region", "postal_code",
    "country", "phone",
)  # fmt: skip


def _clean_address(values: dict[str, Any]) -> dict[str, Any]:
    errors: list[FieldError] = []
    country = str(values["country"]).strip().upper()
    if country not in COUNTRY_CODES:
        errors.append(
            FieldError(field="country", message="Use an ISO 3166-1 alpha-2 code", code="invalid_country")
        )
    for field in ("full_name", "line1", "city"):
        values[field] = " ".join(str(values[field]).split())
        if not values[field]:
            errors.append(FieldError(field=_camel(field), message="This field is required", code="required"))
    for field in ("company", "line2", "region", "postal_code", "phone"):
        if values[field] is not None:
            values[field] = " ".join(str(values[field]).split()) or None
    if errors:
        raise ValidationFailed("The address is incomplete or invalid.", errors=errors)
    values["country"] = country
    return values


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


async def list_addresses(conn: Connection, user_id: uuid.UUID) -> list[Address]:
    return [Address.of(r) for r in from_rows(AddressRow, await conn.fetch(Q.list_addresses, user_id))]


async def get_address(conn: Connection, user_id: uuid.UUID, address_id: uuid.UUID) -> Address:
    row = await conn.fetchrow(Q.get_address, address_id, user_id)
    if row is None:
        raise AddressNotFound()
    return Address.of(from_row(AddressRow, row))


async def create_address(conn: Connection, user_id: uuid.UUID, data: AddressCreate) -> Address:
    await conn.execute(Q.lock_user_addresses, user_id)
    if await conn.fetchval(Q.count_addresses, user_id) >= MAX_ADDRESSES:
        raise AddressLimitReached(f"An account keeps at most {MAX_ADDRESSES} addresses; delete one first.")
    values = _clean_address({c: getattr(data, c) for c in _ADDRESS_COLUMNS})
    address_id = uuid7()
    if values["is_default"]:
        await conn.execute(Q.clear_default_address, user_id, values["kind"], address_id)
    row = await conn.fetchrow(Q.insert_address, address_id, user_id, *(values[c] for c in _ADDRESS_COLUMNS))
    return Address.of(from_row(AddressRow, row))


async def update_address(
    conn: Connection, user_id: uuid.UUID, address_id: uuid.UUID, update: AddressUpdate
) -> Address:
    await conn.execute(Q.lock_user_addresses, user_id)
    row = await conn.fetchrow(Q.get_address_for_update, address_id, user_id)
    if row is None:
        raise AddressNotFound()
    current = from_row(AddressRow, row)
    values = {
        c: getattr(current, c) if getattr(update, c) is msgspec.UNSET else getattr(update, c)
        for c in _ADDRESS_COLUMNS
    }
    values = _clean_address(values)
    if values["is_default"]:
        await conn.execute(Q.clear_default_address, user_id, values["kind"], address_id)
    row = await conn.fetchrow(Q.update_address, address_id, user_id, *(values[c] for c in _ADDRESS_COLUMNS))
    return Address.of(from_row(AddressRow, row))


async def delete_address(conn: Connection, user_id: uuid.UUID, address_id: uuid.UUID) -> None:
    if await conn.fetchval(Q.delete_address, address_id, user_id) is None:
        raise AddressNotFound()
