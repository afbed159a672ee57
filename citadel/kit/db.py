"""PostgreSQL access: the pool, transactions, named SQL files and rows as Structs.

- Pooled connections skip asyncpg's reset query on release (a second round trip per request,
  measured at +33–38% on key reads). That is safe because nothing leaves session state on a
  pooled connection: LISTEN, session advisory locks and ``SET`` happen only on dedicated
  connections (``Database.dedicated``); an open transaction is still rolled back by asyncpg.
- Write routes run in one transaction (``Database.transaction``); reads do not open one.
- Cache invalidations a service records on its connection are broadcast only after COMMIT; so
  are live messages (``publish_after_commit``), the pushes WebSocket clients receive, and the
  relay's wake-up once a transaction wrote outbox rows (``wake_relay_after_commit``).
- SQL lives in ``queries.sql`` files of named queries, read once at import.
"""

import contextlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar, cast

import asyncpg
import msgspec

from citadel.kit.errors import CitadelError

T = TypeVar("T", bound=msgspec.Struct)

Invalidation = tuple[str, str]  # (topic, key): "drop your copy of <key> under <topic>"
LiveMessage = tuple[str, bytes]  # (topic under citadel.live, payload)


class Connection(asyncpg.Connection):
    """A pooled connection that never sends a reset query and carries pending invalidations."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._invalidations: list[Invalidation] = []
        self._live: list[LiveMessage] = []
        self._outbox_written = False
        self._commit_with: str | None = None

    def get_reset_query(self) -> str:
        return ""

    def invalidate_after_commit(self, topic: str, key: str) -> None:
        """Ask every worker to drop its cached copy of ``key`` once this transaction commits."""
        self._invalidations.append((topic, key))

    def take_invalidations(self) -> list[Invalidation]:
        pending, self._invalidations = self._invalidations, []
        return pending

    def publish_after_commit(self, topic: str, payload: bytes) -> None:
        """Send a live message (core NATS, ``citadel.live.<topic>``) once this transaction commits."""
        self._live.append((topic, payload))

    def take_live(self) -> list[LiveMessage]:
        pending, self._live = self._live, []
        return pending

    def commit_with(self, statements: str) -> None:
        """End this transaction with ``statements`` (SQL without parameters whose last statement
        is COMMIT) in place of a bare COMMIT: they are sent in one simple-query message, so what
        they lock stays locked for no round trip to the API. If one fails, those after it are
        not run and the transaction is rolled back."""
        self._commit_with = statements

    def take_commit(self) -> str | None:
        statements, self._commit_with = self._commit_with, None
        return statements

    def wake_relay_after_commit(self) -> None:
        """This transaction wrote outbox rows: wake the relay once it commits."""
        self._outbox_written = True

    def take_relay_wake(self) -> bool:
        written, self._outbox_written = self._outbox_written, False
        return written


Broadcast = Callable[[list[Invalidation]], Awaitable[None]]
Publish = Callable[[list[LiveMessage]], Awaitable[None]]
Wake = Callable[[], Awaitable[None]]


async def _init_connection(conn: asyncpg.Connection) -> None:
    # Binary format (what COPY needs too): json is its text; jsonb is a version byte, then the text.
    await conn.set_type_codec(
        "json", encoder=msgspec.json.encode, decoder=msgspec.json.decode, schema="pg_catalog", format="binary"
    )
    await conn.set_type_codec(
        "jsonb", encoder=_jsonb_encode, decoder=_jsonb_decode, schema="pg_catalog", format="binary"
    )


_JSONB_VERSION = b"\x01"


def _jsonb_encode(value: Any) -> bytes:
    return _JSONB_VERSION + msgspec.json.encode(value)


def _jsonb_decode(data: bytes) -> Any:
    return msgspec.json.decode(data[1:])


class Database:
    """The asyncpg pool of one process, with transaction and dedicated-connection helpers."""

    def __init__(
        self,
        dsn: str,
        *,
        direct_dsn: str | None = None,
        pool_size: int = 16,
        generic_pool_size: int = 0,
        timeout: float = 30.0,
    ):
        self.dsn = dsn
        self.direct_dsn = direct_dsn or dsn
        self.pool_size = pool_size
        self.generic_pool_size = generic_pool_size
        self.timeout = timeout
        self._pool: asyncpg.Pool | None = None
        self._generic_pool: asyncpg.Pool | None = None
        self.broadcast: Broadcast | None = None
        self.publish: Publish | None = None
        self.wake_relay: Wake | None = None

    async def open(self) -> None:
        self._pool = await self._create_pool(self.pool_size, {})
        if self.generic_pool_size:
            self._generic_pool = await self._create_pool(
                self.generic_pool_size, {"plan_cache_mode": "force_generic_plan"}
            )

    async def _create_pool(self, size: int, settings: dict[str, str]) -> asyncpg.Pool:
        pool: asyncpg.Pool = await asyncpg.create_pool(
            self.dsn,
            min_size=size,
            max_size=size,
            connection_class=Connection,
            init=_init_connection,
            command_timeout=self.timeout,
            server_settings={"application_name": "citadel", "jit": "off", **settings},
        )
        return pool

    async def close(self) -> None:
        for pool in (self._pool, self._generic_pool):
            if pool is not None:
                await pool.close()
        self._pool = self._generic_pool = None

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("the database pool is not open")
        return self._pool

    def pool_usage(self) -> tuple[int, int, int]:
        """(in use, idle, maximum) connections of this process's pools, together."""
        if self._pool is None:
            return 0, 0, self.pool_size + self.generic_pool_size
        pools = [pool for pool in (self._pool, self._generic_pool) if pool is not None]
        size, idle = sum(p.get_size() for p in pools), sum(p.get_idle_size() for p in pools)
        return size - idle, idle, sum(p.get_max_size() for p in pools)

    def connection(self) -> contextlib.AbstractAsyncContextManager[Connection]:
        """A pooled connection with no transaction: for reads. (The pool's own acquiring context,
        with no generator around it: this is on every read's path.)"""
        return cast(contextlib.AbstractAsyncContextManager[Connection], self.pool.acquire())

    @contextlib.asynccontextmanager
    async def generic_plans(self) -> AsyncIterator[Connection]:
        """A connection with no transaction whose prepared statements run their generic plans: for
        a heavy read whose planning for each execution's values costs more than it gains. It
        comes from a pool of its own (``generic_pool_size``), which also bounds how many such
        reads this process runs at once; without one, from a transaction that sets the mode."""
        if self._generic_pool is None:
            async with self.transaction(generic_plans=True) as conn:
                yield conn
            return
        async with self._generic_pool.acquire() as proxy:
            yield cast(Connection, proxy)

    @contextlib.asynccontextmanager
    async def transaction(self, *, generic_plans: bool = False) -> AsyncIterator[Connection]:
        """A pooled connection inside one transaction, committed unless the block raises.

        A ``CitadelError`` with ``keeps_changes`` commits before it propagates. Invalidations
        recorded on the connection are broadcast after a commit and dropped after a rollback.
        ``generic_plans`` makes the transaction's prepared statements use their generic plans
        (no planning per execution): for hot write paths whose queries are keyed lookups
        (measured: checkout 7.5 -> 6.2 ms, sequential, on this machine).
        """
        async with self.pool.acquire() as proxy:
            conn = cast(Connection, proxy)
            conn.take_invalidations()
            conn.take_live()
            conn.take_relay_wake()
            conn.take_commit()
            # BEGIN (and the plan setting) in one round trip of the simple-query protocol
            await conn.execute(_QUERIES.begin_generic_plans if generic_plans else _QUERIES.begin)
            try:
                yield conn
            except CitadelError as exc:
                if exc.keeps_changes:
                    await self._commit(conn)
                    await self._after_commit(conn)
                else:
                    await self._rollback(conn)
                raise
            except BaseException:
                await self._rollback(conn)
                raise
            else:
                await self._commit(conn)
                await self._after_commit(conn)

    async def _commit(self, conn: Connection) -> None:
        statements = conn.take_commit()
        if statements is None:
            await conn.execute(_QUERIES.commit)
            return
        try:
            await conn.execute(statements)
        except BaseException:
            await self._rollback(conn)  # what failed left the transaction aborted, not ended
            raise

    @staticmethod
    async def _rollback(conn: Connection) -> None:
        conn.take_invalidations()
        conn.take_live()
        conn.take_relay_wake()
        if not conn.is_closed():
            await conn.execute(_QUERIES.rollback)

    async def _after_commit(self, conn: Connection) -> None:
        pending = conn.take_invalidations()
        if pending and self.broadcast is not None:
            await self.broadcast(pending)
        live = conn.take_live()
        if live and self.publish is not None:
            await self.publish(live)
        if conn.take_relay_wake() and self.wake_relay is not None:
            await self.wake_relay()

    @contextlib.asynccontextmanager
    async def dedicated(self) -> AsyncIterator[asyncpg.Connection]:
        """A connection of its own (not pooled) to the direct address: for session locks."""
        conn = await asyncpg.connect(
            self.direct_dsn, server_settings={"application_name": "citadel-dedicated"}
        )
        try:
            await _init_connection(conn)
            yield conn
        finally:
            await conn.close()


# --- named SQL --------------------------------------------------------------------------------

_NAME_LINE = re.compile(r"^--\s*name:\s*(?P<name>[a-z_][a-z0-9_]*)\s*$")


class Queries:
    """The named queries of one ``queries.sql`` file, as attributes holding their SQL text.

    Format: a line ``-- name: get_user`` starts a query; comment lines right after it describe
    it; the SQL runs until the next ``-- name:`` line. Parameters are asyncpg's ``$1, $2, ...``.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._sql: dict[str, str] = {}
        self._parse(path.read_text())

    def _parse(self, text: str) -> None:
        name: str | None = None
        lines: list[str] = []
        for line in [*text.splitlines(), "-- name: _end_"]:
            if match := _NAME_LINE.match(line.strip()):
                if name is not None:
                    body = "\n".join(ln for ln in lines if not ln.strip().startswith("--")).strip()
                    if not body:
                        raise ValueError(f"{self.path}: query {name} has no SQL")
                    self._sql[name] = body.rstrip(";").strip()
                new = match.group("name")
                if new in self._sql:
                    raise ValueError(f"{self.path}: query {new} is defined twice")
                name, lines = new, []
            elif name is not None:
                lines.append(line)

    def __getattr__(self, name: str) -> str:
        try:
            return self._sql[name]
        except KeyError:
            raise AttributeError(f"{self.path.name} has no query named {name}") from None

    def names(self) -> list[str]:
        return sorted(self._sql)

    def items(self) -> Iterable[tuple[str, str]]:
        return sorted(self._sql.items())


def load_queries(module_file: str) -> Queries:
    """The ``queries.sql`` of the module whose ``__file__`` is given: beside it, or beside the
    ``service/`` package it belongs to."""
    path = Path(module_file).with_name("queries.sql")
    if not path.exists() and path.parent.name == "service":
        path = path.parent.parent / "queries.sql"
    return Queries(path)


def from_row(struct_type: type[T], row: asyncpg.Record | None) -> T:
    """A row the caller knows exists, as a Struct whose field names are the row's column names."""
    if row is None:
        raise LookupError(f"expected a row for {struct_type.__name__}, got none")
    return struct_type(**row)


def from_rows(struct_type: type[T], rows: Iterable[asyncpg.Record]) -> list[T]:
    return [struct_type(**row) for row in rows]


_QUERIES = load_queries(__file__)
