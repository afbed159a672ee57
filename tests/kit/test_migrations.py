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
