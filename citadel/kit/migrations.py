"""Schema migrations: numbered ``.sql`` files applied in order, each once, each checksummed.

``NNNN_name.sql`` files in ``citadel/migrations`` run in version order, each in its own
transaction, under a session advisory lock on a dedicated connection so that concurrent
``citadel migrate`` runs (several replicas starting at once) apply each migration once. A file
changed after it was applied is refused: migrations are history, and history is not edited.
"""

import hashlib
import logging
import re
from pathlib import Path

import asyncpg
import msgspec

from citadel.kit.db import load_queries

logger = logging.getLogger("citadel.migrations")
Q = load_queries(__file__)

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
MIGRATION_LOCK = 0x43_49_54_41_44_45_4C_01  # "CITADEL" + 1
_FILE_NAME = re.compile(r"^(?P<version>\d{4})_(?P<name>[a-z0-9_]+)\.sql$")


class Migration(msgspec.Struct, frozen=True):
    version: int
    name: str
    sql: str
    checksum: str


class MigrationError(RuntimeError):
    """The database and the migration files disagree; nothing was applied."""


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    found: list[Migration] = []
    for path in sorted(directory.glob("*.sql")):
        match = _FILE_NAME.match(path.name)
        if match is None:
            raise MigrationError(f"{path.name}: migration files are named NNNN_name.sql")
        data = path.read_bytes()
        found.append(
            Migration(
                version=int(match.group("version")),
                name=match.group("name"),
                sql=data.decode(),
                checksum=hashlib.sha256(data).hexdigest(),
            )
        )
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError("two migration files share a version number")
    return found


def schema_checksum(migrations: list[Migration]) -> str:
    """One checksum over every migration: names a migrated template database in tests."""
    digest = hashlib.sha256()
    for m in migrations:
        digest.update(f"{m.version}:{m.checksum}".encode())
    return digest.hexdigest()[:16]


async def apply_migrations(
    conn: asyncpg.Connection, migrations: list[Migration] | None = None
) -> list[Migration]:
    """Apply what is missing on ``conn`` (a dedicated connection); return what was applied."""
    migrations = discover() if migrations is None else migrations
    await conn.execute(Q.advisory_lock, MIGRATION_LOCK)
    try:
        await conn.execute(Q.create_migrations_table)
        applied = {row["version"]: row for row in await conn.fetch(Q.list_applied_migrations)}
        known = {m.version for m in migrations}
        for m in migrations:
            row = applied.get(m.version)
            if row is not None and row["checksum"] != m.checksum:
                raise MigrationError(
                    f"{m.version:04d}_{m.name}.sql was changed after it was applied; "
                    "add a new migration instead of editing an applied one"
                )
        unknown = sorted(set(applied) - known)
        if unknown:
            logger.warning("the database has migrations this code does not know: %s", unknown)
        done: list[Migration] = []
        for m in migrations:
            if m.version in applied:
                continue
            async with conn.transaction():
                await conn.execute(m.sql)
                await conn.execute(Q.record_migration, m.version, m.name, m.checksum)
            logger.info("applied migration %04d_%s", m.version, m.name)
            done.append(m)
        return done
    finally:
        await conn.execute(Q.advisory_unlock, MIGRATION_LOCK)


async def migrate(dsn: str) -> list[Migration]:
    """Connect to ``dsn`` (the direct address) and apply what is missing."""
    conn = await asyncpg.connect(dsn, server_settings={"application_name": "citadel-migrate"})
    try:
        return await apply_migrations(conn)
    finally:
        await conn.close()
