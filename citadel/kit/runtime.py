"""The process-level objects of one API worker, opened and closed with the app's lifespan.

``Runtime`` holds the pool, the Redis client, the NATS link, the invalidation bus, metrics, the
rate limiters and the security codecs. Route handlers reach it through the dependencies at the
bottom of this module; nothing here is a module-level global.
"""

import asyncio
import contextlib
import hashlib
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from litestar import Litestar, Request
from litestar.di import NamedDependency

from citadel.kit.cache import (
    PRINCIPALS_TOPIC,
    CacheTier,
    CacheVersions,
    InvalidationBus,
    LocalCache,
    ResponseCache,
    after_commit,
)
from citadel.kit.db import Connection, Database
from citadel.kit.live import LiveHub, live_publisher
from citadel.kit.messaging import NatsLink
from citadel.kit.observability import CACHE_LOOKUPS, DB_POOL, Metrics, MetricSpec
from citadel.kit.ratelimit import ApiRateLimiter, AuthRateLimiter
from citadel.kit.redislink import RedisLink
from citadel.kit.relay import relay_waker
from citadel.kit.search import open_elasticsearch
from citadel.kit.security import PasswordHasher, Signer, TokenCodec
from citadel.kit.tally import Tally
from citadel.settings import Settings

logger = logging.getLogger("citadel.runtime")

METRICS_FLUSH_S = 1.0
TASK_STOP_TIMEOUT_S = 5.0
# how long a shutdown waits for requests still running before it closes what they use
DRAIN_TIMEOUT_S = 10.0


def cache_versions(settings: Settings, topics: frozenset[str]) -> CacheVersions:
    """The Redis side of cache invalidation, the same in API workers and background workers.

    Cached pages hold cursors signed with the cursor secret, so the keys name a fingerprint of
    it: after the secret changes, no server serves a page whose cursors it would refuse."""
    link = RedisLink(settings.redis_url.reveal(), timeout_s=settings.redis_timeout_ms / 1000)
    signer = hashlib.sha256(settings.cursor_secret.reveal().encode()).hexdigest()[:8]
    return CacheVersions(
        link,
        key_prefix=settings.redis_key(f"c:{signer}:"),
        topics=topics,
        version_ttl_s=2 * settings.cache_redis_ttl_s,
    )


class Runtime:
    def __init__(
        self,
        settings: Settings,
        *,
        metric_specs: tuple[MetricSpec, ...] = (),
        cache_topics: frozenset[str] = frozenset(),
    ) -> None:
        self.settings = settings
        self.db = Database(
            settings.database_url.reveal(),
            direct_dsn=settings.direct_database_url,
            pool_size=settings.database_pool_size,
            generic_pool_size=settings.database_search_pool_size,
            timeout=settings.database_command_timeout_s,
        )
        self.redis = aioredis.Redis.from_url(
            settings.redis_url.reveal(),
            socket_timeout=settings.redis_timeout_ms / 1000,
            socket_connect_timeout=settings.redis_timeout_ms / 1000,
        )
        self.nats = NatsLink(settings.nats_url.reveal(), name="citadel-api")
        self.bus = InvalidationBus(self.nats, settings.subject("citadel.cache"))
        self.metrics = Metrics(Path(settings.metrics_dir) if settings.metrics_dir else None, metric_specs)
        self.metrics.add_gauge_source(self._pool_gauges)
        self.cache_versions = cache_versions(settings, cache_topics)
        self.db.broadcast = after_commit(self.cache_versions, self.bus)
        self.live = LiveHub(self.nats, settings.subject("citadel.live"))
        self.db.publish = live_publisher(self.nats, settings.subject("citadel.live"))
        self.db.wake_relay = relay_waker(settings, self.nats)
        tiers: tuple[CacheTier, ...] = tuple(t for t in settings.cache_tiers if t != "none")
        self.responses = ResponseCache(
            self.bus,
            self.cache_versions,
            tiers=tiers,
            memory_ttl_s=settings.cache_memory_ttl_s,
            fallback_ttl_s=settings.cache_memory_fallback_ttl_s,
            redis_ttl_s=settings.cache_redis_ttl_s,
            max_entries=settings.cache_memory_max_entries,
            max_bytes=settings.cache_memory_max_mib * 2**20,
            on_lookup=lambda topic, tier, result: self.metrics.inc(CACHE_LOOKUPS, (topic, tier, result)),
        )
        self.tally = Tally(self.db, settings.search_stats_flush_s)
        self.public_cache_control = f"public, max-age={settings.catalog_http_max_age_s}".encode()
        self.elasticsearch: Any | None = open_elasticsearch(settings)
        self.api_limiter = ApiRateLimiter(
            limit=settings.rate_limit_api_per_second,
            redis_client=self.redis,
            key_prefix=settings.redis_key("rl:api:"),
            sync_interval_s=settings.rate_limit_sync_interval_ms / 1000,
        )
        self.auth_limiter = AuthRateLimiter(
            rate=settings.rate_limit_auth_per_second,
            burst=settings.rate_limit_auth_burst,
            redis_client=self.redis,
            key_prefix=settings.redis_key("rl:auth:"),
            timeout_s=settings.redis_timeout_ms / 1000,
        )
        self.passwords = PasswordHasher(
            time_cost=settings.password_hash_time_cost,
            memory_kib=settings.password_hash_memory_kib,
            parallelism=settings.password_hash_parallelism,
        )
        self.tokens = TokenCodec(settings.jwt_secret.reveal(), settings.access_token_ttl_s)
        self.csrf = Signer(settings.csrf_secret.reveal(), "csrf")
        self.principals: LocalCache[uuid.UUID, Any] = LocalCache(
            self.bus,
            PRINCIPALS_TOPIC,
            ttl_s=settings.auth_cache_ttl_s,
            fallback_ttl_s=settings.auth_cache_fallback_ttl_s,
            max_entries=100_000,
        )
        self.principals.key_from_text(uuid.UUID)
        self.cursors = Signer(settings.cursor_secret.reveal(), "cursor")
        self._local_caches: dict[str, LocalCache[Any, Any]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        # HTTP requests running now (counted by the edge middleware), and what a shutdown waits on
        self.in_flight = 0
        self._drained: asyncio.Event | None = None

    def local_cache(
        self, topic: str, *, max_entries: int = 1000, ttl_s: float | None = None
    ) -> LocalCache[Any, Any]:
        """This worker's cache of decoded values for ``topic``, kept fresh by its invalidations
        (or, with ``ttl_s``, by a lifetime of its own)."""
        cache = self._local_caches.get(topic)
        if cache is None:
            cache = self._local_caches[topic] = LocalCache(
                self.bus,
                topic,
                ttl_s=self.settings.cache_memory_ttl_s if ttl_s is None else ttl_s,
                fallback_ttl_s=self.settings.cache_memory_fallback_ttl_s,
                max_entries=max_entries,
            )
        return cache

    def _pool_gauges(self) -> list[tuple[MetricSpec, tuple[str, ...], float]]:
        in_use, idle, maximum = self.db.pool_usage()
        return [(DB_POOL, ("in_use",), in_use), (DB_POOL, ("idle",), idle), (DB_POOL, ("max",), maximum)]

    async def _flush_metrics_forever(self) -> None:
        while True:
            await asyncio.sleep(METRICS_FLUSH_S)
            try:
                self.metrics.write_snapshot()
            except OSError as exc:
                logger.warning("cannot write metrics snapshot: %s", exc)

    def request_started(self) -> None:
        self.in_flight += 1

    def request_ended(self) -> None:
        self.in_flight -= 1
        if not self.in_flight and self._drained is not None:
            self._drained.set()

    async def drain(self, timeout_s: float = DRAIN_TIMEOUT_S) -> None:
        """Wait, bounded, for the requests still running. The server may start a shutdown while
        some run (those whose clients went away, for one): closing the pools under them would
        turn them into errors and cut short what they were writing."""
        if not self.in_flight:
            return
        self._drained = asyncio.Event()
        try:
            await asyncio.wait_for(self._drained.wait(), timeout_s)
        except TimeoutError:
            logger.warning("%d requests still running after %.0f s; shutting down", self.in_flight, timeout_s)

    def spawn(self, factory: Callable[[], Any], name: str) -> None:
        self._tasks.append(asyncio.create_task(factory(), name=name))

    @contextlib.asynccontextmanager
    async def lifespan(self, _app: Litestar) -> AsyncIterator[None]:
        await self.db.open()
        await self.nats.start()
        if self.settings.rate_limit_enabled:
            await self.api_limiter.start()
        if self.metrics.directory is not None:
            self.spawn(self._flush_metrics_forever, "metrics-flush")
        self.spawn(self.cache_versions.retry_forever, "cache-version-retry")
        self.spawn(self.tally.flush_forever, "tally-flush")
        try:
            yield
        finally:
            await self.drain()
            for task in self._tasks:
                task.cancel()
            if self._tasks:
                # bounded: a cancel lost inside a client library must not hold up a shutdown
                _, stuck = await asyncio.wait(self._tasks, timeout=TASK_STOP_TIMEOUT_S)
                for task in stuck:
                    logger.warning("background task %s did not stop in time", task.get_name())
            await self.api_limiter.stop()
            await self.tally.flush()
            with contextlib.suppress(OSError):
                self.metrics.write_snapshot()
            await self.nats.close()
            await self.cache_versions.link.close()
            if self.elasticsearch is not None:
                await self.elasticsearch.close()
            await self.redis.aclose()
            await self.db.close()


# --- dependencies for route handlers ---------------------------------------------------------------
# Handlers declare ``conn: Conn`` (a read connection), ``tx: Conn`` (a connection in a transaction)
# and ``runtime: RuntimeDep``; the parameter name picks the provider registered in ``app.py``.

Conn = NamedDependency[Connection]


def runtime_of(request: Request[Any, Any, Any]) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def provide_runtime(request: Request[Any, Any, Any]) -> Runtime:
    return runtime_of(request)


async def provide_tx(request: Request[Any, Any, Any]) -> AsyncIterator[Connection]:
    """A connection in a transaction for a write route: committed after the handler returns."""
    async with runtime_of(request).db.transaction() as conn:
        yield conn


async def provide_conn(request: Request[Any, Any, Any]) -> AsyncIterator[Connection]:
    """A connection without a transaction for a read route."""
    async with runtime_of(request).db.connection() as conn:
        yield conn


RuntimeDep = NamedDependency[Runtime]
