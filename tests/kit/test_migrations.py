"""Migrations: applied once each, in order, under a lock; a changed applied file is refused."""

import asyncio
import secrets
from collections.abc import AsyncIterator

import asyncpg
import pytest

from citadel.kit.migrations import Migration, MigrationError, apply_migrations, discover
from tests.fixtures.servers import Servers, drop_database, with_database


@pytest.fixture
async def empty_database(servers: Servers) -> AsyncIterator[str]:
    name = f"citadel_mig_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(servers.database_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    yield with_database(servers.database_url, name)
    await drop_database(servers, name)


async def _apply(url: str, migrations: list[Migration] | None = None) -> list[Migration]:
    conn = await asyncpg.connect(url)
    try:
        return await apply_migrations(conn, migrations)
    finally:
        await conn.close()


async def test_apply_is_idempotent(empty_database: str) -> None:
    first = await _apply(empty_database)
    assert [m.version for m in first] == [m.version for m in discover()]
    assert await _apply(empty_database) == []
    conn = await asyncpg.connect(empty_database)
    try:
        rows = await conn.fetch("SELECT version, checksum FROM schema_migrations ORDER BY version")
    finally:
        await conn.close()
    assert [(r["version"], r["checksum"]) for r in rows] == [(m.version, m.checksum) for m in discover()]


async def test_concurrent_migrators_apply_each_migration_once(empty_database: str) -> None:
    results = await asyncio.gather(*(_apply(empty_database) for _ in range(4)))
    assert sorted(len(r) for r in results) == [0, 0, 0, len(discover())]


async def test_a_changed_applied_migration_is_refused(empty_database: str) -> None:
    await _apply(empty_database)
    original = discover()
    edited = [
        Migration(m.version, m.name, m.sql + "\n-- edited", m.checksum[::-1]) for m in original[:1]
    ] + original[1:]
    with pytest.raises(MigrationError, match="was changed after it was applied"):
        await _apply(empty_database, edited)


async def test_a_failing_migration_leaves_nothing_half_done(empty_database: str) -> None:
    await _apply(empty_database)
    broken = [
        *discover(),
        Migration(9999, "broken", "CREATE TABLE half_done (id int); SELECT no_such_column;", "x"),
    ]
    with pytest.raises(asyncpg.PostgresError):
        await _apply(empty_database, broken)
    conn = await asyncpg.connect(empty_database)
    try:
        assert await conn.fetchval("SELECT to_regclass('half_done')") is None
        assert await conn.fetchval("SELECT count(*) FROM schema_migrations WHERE version = 9999") == 0
    finally:
        await conn.close()


async def test_holds_allocated_before_allocations_waited_for_shipping_count_as_shipped(
    empty_database: str,
) -> None:
    # before 0011 a captured payment took its units off the shelf at once: such holds become
    # "shipped" (their units are gone), so that shipping them does not take the units twice
    before = [m for m in discover() if m.version < 11]
    await _apply(empty_database, before)
    conn = await asyncpg.connect(empty_database)
    try:
        await conn.execute(
            """
            INSERT INTO users (id, email, password_hash, name, role)
            VALUES ('00000000-0000-0000-0000-000000000001', 'v@x.test', 'x', 'V', 'vendor');
            INSERT INTO vendors (id, owner_user_id, name, slug, status)
            VALUES ('00000000-0000-0000-0000-000000000002', '00000000-0000-0000-0000-000000000001', 'V', 'v',
                    'active');
            INSERT INTO warehouses (id, code, name, country)
            VALUES ('00000000-0000-0000-0000-000000000003', 'W', 'W', 'US');
            INSERT INTO orders (id, number, email, currency, subtotal_amount, discount_amount, tax_amount,
                                shipping_amount, shipping_tax_amount, total_amount, prices_include_tax,
                                payment_provider, status)
            VALUES ('00000000-0000-0000-0000-000000000004', 'CIT-1', 'c@x.test', 'USD', 100, 0, 0, 0, 0, 100,
                    false, 'test', 'paid');
            INSERT INTO fulfilments (id, order_id, vendor_id)
            VALUES ('00000000-0000-0000-0000-000000000005', '00000000-0000-0000-0000-000000000004',
                    '00000000-0000-0000-0000-000000000002');
            INSERT INTO order_lines (id, order_id, fulfilment_id, position, product_id, variant_id,
                                     vendor_id, sku, name, quantity, unit_price_amount, subtotal_amount,
                                     discount_amount, tax_amount, total_amount, tax_rate_ppm)
            VALUES ('00000000-0000-0000-0000-000000000006', '00000000-0000-0000-0000-000000000004',
                    '00000000-0000-0000-0000-000000000005', 1, gen_random_uuid(), gen_random_uuid(),
                    '00000000-0000-0000-0000-000000000002', 'S', 'N', 2, 50, 100, 0, 0, 100, 0);
            INSERT INTO stock_holds (order_id, line_id, variant_id, warehouse_id, quantity, status,
                                     expires_at)
            SELECT '00000000-0000-0000-0000-000000000004', '00000000-0000-0000-0000-000000000006',
                   gen_random_uuid(), '00000000-0000-0000-0000-000000000003', 2, status, now()
            FROM unnest(ARRAY['allocated', 'held', 'released']) AS status;
            """
        )
        await _apply(empty_database)
        statuses = [r["status"] for r in await conn.fetch("SELECT status FROM stock_holds ORDER BY id")]
    finally:
        await conn.close()
    assert statuses == ["shipped", "held", "released"]
