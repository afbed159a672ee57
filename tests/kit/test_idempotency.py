"""Idempotency keys: a claim sees the first answer stored under its key, however close the race."""

import asyncio
import secrets

import pytest

from citadel.kit import idempotency
from citadel.kit.db import Database


async def test_a_claim_begun_before_the_holder_committed_still_replays_its_answer(
    fresh_database_url: str,
) -> None:
    # The holder commits its answer while the other claim's statement has already started (here:
    # while it sleeps, before it takes the lock). The lock is then free; the answer must be found,
    # or the duplicate would run the request a second time.
    db = Database(fresh_database_url, pool_size=2)
    await db.open()
    key = secrets.token_hex(8)
    answer = b'{"id": "first"}'
    try:
        async with db.transaction() as holder:
            assert await idempotency.claim(holder, "user:1", "checkout", key, b"print", 24) is None
            async with db.transaction() as other:

                async def late_claim() -> tuple[bool, bytes | None]:
                    row = await other.fetchrow(
                        "SELECT c.locked, c.body FROM (SELECT pg_sleep(0.5)) s,"
                        " LATERAL claim_idempotency_key($1, 'checkout', $2, 24) c",
                        "user:1",
                        key,
                    )
                    assert row is not None
                    return row["locked"], row["body"]

                claiming = asyncio.create_task(late_claim())
                await asyncio.sleep(0.1)  # its statement has begun, and sleeps
                await holder.execute(
                    "INSERT INTO idempotency_keys (scope, route, key, fingerprint, status_code, body)"
                    " VALUES ('user:1', 'checkout', $1, 'print', 201, $2)",
                    key,
                    answer,
                )
                await holder.execute("COMMIT")  # the holder is done; its lock is released
                await holder.execute("BEGIN")  # (for the block's own commit)
                assert await claiming == (True, answer)
    finally:
        await db.close()


async def test_a_concurrent_claim_of_a_held_key_is_refused(fresh_database_url: str) -> None:
    db = Database(fresh_database_url, pool_size=2)
    await db.open()
    try:
        async with db.transaction() as first, db.transaction() as second:
            assert await idempotency.claim(first, "cart:x", "checkout", "k", b"p", 24) is None
            with pytest.raises(idempotency.IdempotencyKeyInUse):
                await idempotency.claim(second, "cart:x", "checkout", "k", b"p", 24)
    finally:
        await db.close()
