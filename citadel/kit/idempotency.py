"""Idempotency keys for writes that move money: the first answer under a key is the answer.

A key is scoped per caller (the user, or a guest's cart) and route, and stored in PostgreSQL in
the same transaction as what the request made, with a fingerprint of the request. In that
transaction ``claim`` first takes a transaction-scoped advisory lock on the key without waiting:

- another request holds it (a concurrent duplicate): 409 ``idempotency_key_in_use``;
- the key already answered, with the same fingerprint: that answer is replayed;
- with another fingerprint: 422 ``idempotency_key_reused``;
- otherwise the request runs and writes its answer to ``idempotency_keys`` (scope, route, key,
  fingerprint, status code, body; replacing an expired row of the key) in its own writing
  statement, before the commit: checkout writes it in the one statement that places the order.

Only successful answers are stored: a request refused for a reason that may pass (stock, a
changed price) can be retried under the same key. Keys live ``CITADEL_IDEMPOTENCY_TTL_H`` hours.
"""

import hashlib
import re

import msgspec

from citadel.kit.db import Connection, load_queries
from citadel.kit.errors import BadRequest, Conflict, FieldError, ValidationFailed

Q = load_queries(__file__)

HEADER = "idempotency-key"
_VALID = re.compile(r"^[\x21-\x7e]{1,255}$")


class IdempotencyKeyRequired(BadRequest):
    code = "idempotency_key_required"
    title = "Idempotency-Key header required"


class IdempotencyKeyInUse(Conflict):
    code = "idempotency_key_in_use"
    title = "A request with this Idempotency-Key is still being processed"

    def __init__(self) -> None:
        super().__init__(headers={"Retry-After": "1"})


class IdempotencyKeyReused(ValidationFailed):
    code = "idempotency_key_reused"
    title = "This Idempotency-Key was used for another request"


class StoredAnswer(msgspec.Struct, frozen=True):
    status_code: int
    body: bytes


def check_key(key: str | None) -> str:
    if not key:
        raise IdempotencyKeyRequired("Send a unique Idempotency-Key header (a UUID is a good choice).")
    if not _VALID.match(key):
        raise ValidationFailed(
            "An Idempotency-Key is 1 to 255 visible ASCII characters.",
            errors=[
                FieldError(field="Idempotency-Key", message="Malformed", code="invalid", source="header")
            ],
        )
    return key


def fingerprint(*parts: bytes) -> bytes:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.digest()


async def claim(
    conn: Connection, scope: str, route: str, key: str, print_: bytes, ttl_h: int
) -> StoredAnswer | None:
    """Inside the request's transaction: the stored answer to replay, or None to go ahead."""
    row = await conn.fetchrow(Q.claim_idempotency_key, scope, route, key, ttl_h)
    if row is None or not row["locked"]:
        raise IdempotencyKeyInUse()
    if row["fingerprint"] is None:
        return None
    if bytes(row["fingerprint"]) != print_:
        raise IdempotencyKeyReused(
            "This key was first used with another request body; use a new key for a new request."
        )
    return StoredAnswer(status_code=row["status_code"], body=bytes(row["body"]))


async def purge(conn: Connection, ttl_h: int) -> None:
    await conn.execute(Q.purge_idempotency_keys, ttl_h)
