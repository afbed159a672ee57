"""Every named query of every queries.sql prepares against the migrated schema."""

from pathlib import Path

import asyncpg
import pytest

import citadel
from citadel.kit.db import Queries

QUERY_FILES = sorted(Path(citadel.__file__).parent.rglob("queries.sql"))
UTILITY = ("CREATE ", "ALTER ", "DROP ", "ANALYZE ")
TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK")  # run as simple queries; executed below


def _queries() -> list[tuple[str, str, str]]:
    """Every query but DDL (the one DDL statement, the migrations ledger, runs in every migrate)."""
    root = Path(citadel.__file__).parent
    return [
        (str(path.relative_to(root)), name, sql)
        for path in QUERY_FILES
        for name, sql in Queries(path).items()
        if not sql.lstrip().upper().startswith(UTILITY)
    ]


@pytest.mark.parametrize(
    ("file", "name", "sql"), _queries(), ids=lambda v: v if "\n" not in v and len(v) < 60 else ""
)
async def test_query_prepares(database_url: str, file: str, name: str, sql: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        if sql.upper().startswith(TRANSACTION_CONTROL):
            await conn.execute(sql)  # the simple-query protocol, as kit/db.py runs them
            if conn.is_in_transaction():
                await conn.execute("ROLLBACK")
        else:
            # statements sent with their COMMIT in one simple-query message (Connection.commit_with)
            # prepare one by one, their COMMIT aside
            *statements, last = [part.strip() for part in sql.split(";")]
            if last.upper() != "COMMIT":
                statements = [sql]
            async with conn.transaction():
                # the file's temporary tables first: its queries may read them
                for other in dict(Queries(Path(citadel.__file__).parent / file).items()).values():
                    if other.lstrip().upper().startswith("CREATE TEMPORARY TABLE"):
                        await conn.execute(other)
                for statement in statements:
                    await conn.prepare(statement)
    finally:
        await conn.close()


def test_duplicate_query_names_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "queries.sql"
    path.write_text("-- name: a\nSELECT 1;\n-- name: a\nSELECT 2;\n")
    with pytest.raises(ValueError, match="defined twice"):
        Queries(path)


def test_a_query_without_sql_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "queries.sql"
    path.write_text("-- name: a\n-- only a comment\n-- name: b\nSELECT 2;\n")
    with pytest.raises(ValueError, match="has no SQL"):
        Queries(path)


def test_unknown_query_names_fail_loudly() -> None:
    with pytest.raises(AttributeError, match="no query named nope"):
        _ = Queries(QUERY_FILES[0]).nope
