"""Pool hygiene: no reset query, and no session state ever left on a pooled connection."""

import asyncpg
import pytest

from citadel.kit.db import Database
from citadel.kit.errors import CitadelError
from tests.fixtures.app import AppClient
from tests.fixtures.factories import register


class _KeptFailure(CitadelError):
    keeps_changes = True


async def test_pooled_connections_send_no_reset_query(client: AppClient) -> None:
    async with client.runtime.db.connection() as conn:
        assert conn.get_reset_query() == ""


async def test_generic_plan_reads_come_from_a_pool_of_their_own(client: AppClient) -> None:
    db = client.runtime.db
    async with db.connection() as conn:
        assert await conn.fetchval("SELECT current_setting('plan_cache_mode')") == "auto"
    async with db.generic_plans() as conn:
        assert await conn.fetchval("SELECT current_setting('plan_cache_mode')") == "force_generic_plan"
        assert not conn.is_in_transaction()
    assert db.pool_usage()[2] == client.runtime.settings.database_pool_size + db.generic_pool_size


async def test_without_that_pool_generic_plans_come_from_a_transaction(fresh_database_url: str) -> None:
    db = Database(fresh_database_url, pool_size=1)
    await db.open()
    try:
        async with db.generic_plans() as conn:
            assert await conn.fetchval("SELECT current_setting('plan_cache_mode')") == "force_generic_plan"
            assert conn.is_in_transaction()
        async with db.connection() as conn:
            assert await conn.fetchval("SELECT current_setting('plan_cache_mode')") == "auto"
    finally:
        await db.close()


async def test_requests_leave_no_session_state_on_pooled_connections(client: AppClient) -> None:
    account = await register(client)
    for _ in range(3):
        await client.get("/api/v1/me", headers=account.headers)
        await client.patch("/api/v1/me", json={"name": "Tidy"}, headers=account.headers)
        await client.post("/api/v1/auth/login", json={"email": account.email, "password": "wrong-one-1"})
    pool = client.runtime.db.pool
    connections = [await pool.acquire() for _ in range(pool.get_max_size())]
    try:
        for conn in connections:
            state = await conn.fetchrow(
                "SELECT (SELECT count(*) FROM pg_listening_channels()) AS listening,"
                " (SELECT count(*) FROM pg_locks"
                "  WHERE locktype = 'advisory' AND pid = pg_backend_pid()) AS locks,"
                " current_setting('application_name') AS app, pg_current_xact_id_if_assigned() AS xact"
            )
            assert (state["listening"], state["locks"], state["app"], state["xact"]) == (
                0,
                0,
                "citadel",
                None,
            )
            assert not conn.is_in_transaction()
    finally:
        for conn in connections:
            await pool.release(conn)


async def test_a_transaction_rolls_back_on_error_and_keeps_what_an_error_says_to_keep(
    client: AppClient,
) -> None:
    db = client.runtime.db
    async with db.transaction() as conn:
        await conn.execute("CREATE TABLE IF NOT EXISTS tx_probe (note text)")
    with pytest.raises(RuntimeError):
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO tx_probe VALUES ('rolled back')")
            raise RuntimeError
    with pytest.raises(_KeptFailure):
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO tx_probe VALUES ('kept')")
            raise _KeptFailure()
    async with db.connection() as conn:
        assert [r["note"] for r in await conn.fetch("SELECT note FROM tx_probe")] == ["kept"]


async def test_invalidations_are_broadcast_only_after_commit(client: AppClient) -> None:
    seen: list[str] = []
    client.runtime.bus.subscribe("probe", seen.append, on_outage=lambda: None)
    db = client.runtime.db
    with pytest.raises(RuntimeError):
        async with db.transaction() as conn:
            conn.invalidate_after_commit("probe", "rolled-back")
            raise RuntimeError
    async with db.transaction() as conn:
        conn.invalidate_after_commit("probe", "committed")
        assert seen == []
    assert seen[0] == "committed"
    assert "rolled-back" not in seen


async def test_a_transaction_may_end_with_its_own_statements_and_their_failure_keeps_nothing(
    client: AppClient,
) -> None:
    db = client.runtime.db
    async with db.transaction() as conn:
        await conn.execute("CREATE TABLE IF NOT EXISTS commit_probe (n int CHECK (n > 0))")
        await conn.execute("TRUNCATE commit_probe")
    async with db.transaction() as conn:
        await conn.execute("INSERT INTO commit_probe VALUES (1)")
        conn.commit_with("INSERT INTO commit_probe VALUES (2); COMMIT")
    with pytest.raises(asyncpg.CheckViolationError):
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO commit_probe VALUES (3)")
            conn.commit_with("INSERT INTO commit_probe VALUES (0); COMMIT")
    async with db.transaction() as conn:  # the same pooled connection, not left in a failed transaction
        assert not await conn.fetchval("SELECT count(*) FROM commit_probe WHERE n IN (0, 3)")
        await conn.execute("INSERT INTO commit_probe VALUES (4)")  # a bare COMMIT again
    async with db.connection() as conn:
        assert [r["n"] for r in await conn.fetch("SELECT n FROM commit_probe ORDER BY n")] == [1, 2, 4]
        assert not conn.is_in_transaction()
