"""API keys for a vendor's integrations: scoped, hashed, revocable.

A key reads ``cvk_<prefix>_<secret>`` and is sent as ``Authorization: Bearer <key>``. Only the
SHA-256 of the whole key is stored; the prefix names it in lists. A key acts as its vendor's owner
with only its scopes, and only on routes that name a scope (never on password, session or admin
routes). It stops working the moment it is revoked or expires, or its vendor is no longer active,
because every request looks it up (one indexed read; the last-used time is written at most once a
minute).
"""

import hashlib
import secrets
import uuid
from datetime import UTC, datetime

from citadel.auth.models import Principal
from citadel.kit.db import Connection, Database, from_row, from_rows, load_queries
from citadel.kit.errors import Conflict, FieldError, Forbidden, NotFound, Unauthorized, ValidationFailed
from citadel.kit.ids import uuid7
from citadel.vendors.models import ApiKey, ApiKeyCreate, ApiKeyRow, IssuedApiKey
from citadel.vendors.service import own_vendor

Q = load_queries(__file__)
KEY_PREFIX = "cvk_"
MAX_LIVE_KEYS = 20


class InvalidApiKey(Unauthorized):
    code = "invalid_api_key"
    title = "API key not valid"


class ApiKeyVendorInactive(Forbidden):
    code = "vendor_not_active"
    title = "The vendor account cannot sell"


class ApiKeyNotFound(NotFound):
    code = "api_key_not_found"
    title = "API key not found"


class TooManyApiKeys(Conflict):
    code = "too_many_api_keys"
    title = "Too many live API keys"


def is_api_key(token: str) -> bool:
    return token.startswith(KEY_PREFIX)


def _hash(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


async def create(conn: Connection, principal: Principal, data: ApiKeyCreate) -> IssuedApiKey:
    vendor = await own_vendor(conn, principal)
    if vendor.status != "active":
        raise ApiKeyVendorInactive(f"Your vendor account is {vendor.status}; it cannot issue keys.")
    if data.expires_at is not None and data.expires_at <= datetime.now(UTC):
        raise ValidationFailed(
            "A key cannot expire in the past.",
            errors=[FieldError(field="expiresAt", message="Must be in the future", code="out_of_range")],
        )
    if await conn.fetchval(Q.count_live_api_keys, vendor.id) >= MAX_LIVE_KEYS:
        raise TooManyApiKeys(f"Revoke a key first: at most {MAX_LIVE_KEYS} are live at once.")
    prefix = secrets.token_hex(4)
    key = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    row = await conn.fetchrow(
        Q.insert_api_key, uuid7(), vendor.id, data.name.strip(), prefix, _hash(key),
        sorted(set(data.scopes)), principal.user_id, data.expires_at,
    )  # fmt: skip
    return IssuedApiKey(key=ApiKey.of(from_row(ApiKeyRow, row)), secret=key)


async def list_keys(conn: Connection, principal: Principal) -> list[ApiKey]:
    vendor = await own_vendor(conn, principal)
    return [ApiKey.of(r) for r in from_rows(ApiKeyRow, await conn.fetch(Q.list_api_keys, vendor.id))]


async def revoke(conn: Connection, principal: Principal, key_id: uuid.UUID) -> ApiKey:
    vendor = await own_vendor(conn, principal)
    row = await conn.fetchrow(Q.revoke_api_key, key_id, vendor.id)
    if row is None:
        raise ApiKeyNotFound()
    return ApiKey.of(from_row(ApiKeyRow, row))


async def authenticate(db: Database, key: str) -> Principal:
    """The principal a key acts as: its vendor's owner, with the key's scopes."""
    async with db.connection() as conn:
        row = await conn.fetchrow(Q.api_key_principal, _hash(key))
        if row is None or row["revoked_at"] is not None:
            raise InvalidApiKey("This API key is unknown or revoked.")
        if row["expires_at"] is not None and row["expires_at"] <= datetime.now(UTC):
            raise InvalidApiKey("This API key has expired.")
        if row["owner_status"] != "active" or row["vendor_status"] != "active":
            raise ApiKeyVendorInactive(f"The vendor account is {row['vendor_status']}; its keys are paused.")
        last = row["last_used_at"]
        if last is None or (datetime.now(UTC) - last).total_seconds() > 60:
            await conn.execute(Q.touch_api_key, row["id"])
    return Principal(
        user_id=row["owner_user_id"],
        role="vendor",
        session_id=row["id"],
        via_cookie=False,
        scopes=frozenset(row["scopes"]),
    )
