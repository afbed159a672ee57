"""Per-worker caches kept fresh by invalidations broadcast over core NATS.

A write records ``(topic, key)`` invalidations on its connection; after COMMIT they are applied
to this worker at once and published on ``citadel.cache.<topic>`` so every other worker (and
replica) drops its copy too. Entries live long while the bus is connected; while it is not, an
invalidation may be missed, so entries fall back to a short lifetime and every cache is cleared
when the connection drops and again when it returns.
"""

import asyncio
import collections
import contextlib
import functools
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Generic, Literal, TypeVar

import hiredis
import msgspec

from citadel.kit.db import Invalidation
from citadel.kit.messaging import NatsLink
from citadel.kit.redislink import RedisLink, RedisUnavailable

logger = logging.getLogger("citadel.cache")

K = TypeVar("K")
V = TypeVar("V")

InvalidationHandler = Callable[[str], None]

# The per-worker cache of what every authenticated request checks about its user (role, status,
# tokens-valid-after, revoked sessions), keyed by user id.
PRINCIPALS_TOPIC = "principals"


class InvalidationBus:
    def __init__(self, link: NatsLink, subject_prefix: str) -> None:
        self.link = link
        self.prefix = subject_prefix  # "<ns>.citadel.cache" or "citadel.cache"
        self._handlers: dict[str, list[InvalidationHandler]] = {}
        self._on_outage: list[Callable[[], None]] = []
        self._subscribed = False
        self.healthy = False
        link.on_state_change(self._state_changed)

    def subscribe(self, topic: str, handler: InvalidationHandler, *, on_outage: Callable[[], None]) -> None:
        self._handlers.setdefault(topic, []).append(handler)
        self._on_outage.append(on_outage)

    def _state_changed(self, up: bool) -> None:
        # Whatever happened while the link was down is unknown: forget everything either way.
        for clear in self._on_outage:
            clear()
        self.healthy = up and self._subscribed
        if up and not self._subscribed:
            asyncio.get_running_loop().create_task(self._subscribe())

    async def _subscribe(self) -> None:
        try:
            await self.link.subscribe(f"{self.prefix}.>", self._on_message)
        except Exception:
            logger.exception("cannot subscribe to cache invalidations")
            return
        self._subscribed = True
        self.healthy = self.link.connected

    async def _on_message(self, msg: Any) -> None:
        topic = msg.subject[len(self.prefix) + 1 :]
        for key in msg.data.decode().split("\n"):  # one message carries many keys of a topic
            self._apply(topic, key)

    def _apply(self, topic: str, key: str) -> None:
        for handler in self._handlers.get(topic, ()):
            handler(key)

    async def publish(self, invalidations: list[Invalidation]) -> None:
        """Apply here at once, then tell every other worker (best effort: see the module doc)."""
        for topic, key in invalidations:
            self._apply(topic, key)
        if not self.link.connected:
            return
        keys: dict[str, dict[str, None]] = {}
        for topic, key in invalidations:
            keys.setdefault(topic, {})[key] = None
        try:
            for topic, named in keys.items():
                for payload in _payloads(list(named)):
                    await self.link.client.publish(f"{self.prefix}.{topic}", payload)
        except Exception as exc:  # noqa: BLE001 - a lost message is covered by the fallback lifetime
            logger.warning("could not broadcast an invalidation: %s", type(exc).__name__)


MAX_PAYLOAD = 60_000  # bytes of keys per message, under the server's default 1 MB limit


def _payloads(keys: list[str]) -> list[bytes]:
    """Keys (which never hold a newline) packed newline-separated into messages: a bulk write of
    10,000 products is a few messages, not 10,000."""
    out: list[bytes] = []
    batch: list[str] = []
    size = 0
    for key in keys:
        if batch and size + len(key) + 1 > MAX_PAYLOAD:
            out.append("\n".join(batch).encode())
            batch, size = [], 0
        batch.append(key)
        size += len(key) + 1
    if batch:
        out.append("\n".join(batch).encode())
    return out


class LocalCache(Generic[K, V]):
    """A small per-process cache with two lifetimes: long while invalidations flow, short otherwise."""

    def __init__(
        self, bus: InvalidationBus, topic: str, *, ttl_s: float, fallback_ttl_s: float, max_entries: int
    ):
        self.bus = bus
        self.ttl_s = ttl_s
        self.fallback_ttl_s = fallback_ttl_s
        self.max_entries = max_entries
        self._entries: dict[K, tuple[float, V]] = {}
        # Bumped by every drop: a value loaded across a drop may be stale and is not kept.
        self._generation = 0
        self._key_type: Callable[[str], K] | None = None
        bus.subscribe(topic, self._drop_text, on_outage=self.clear)

    def key_from_text(self, parse: Callable[[str], K]) -> None:
        self._key_type = parse

    def _drop_text(self, text: str) -> None:
        key = self._key_type(text) if self._key_type else text
        self.drop(key)  # type: ignore[arg-type]

    def drop(self, key: K) -> None:
        self._generation += 1
        self._entries.pop(key, None)

    def clear(self) -> None:
        self._generation += 1
        self._entries.clear()

    async def get(self, key: K, load: Callable[[K], Awaitable[V]]) -> V:
        now = time.monotonic()
        hit = self._entries.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        generation = self._generation
        value = await load(key)
        if generation != self._generation:
            return value
        ttl = self.ttl_s if self.bus.healthy else self.fallback_ttl_s
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[key] = (now + ttl, value)
        return value


# --- pre-encoded responses in two tiers --------------------------------------------------------
#
# An entry is named by (topic, key) and depends on one or more scopes of its topic: a scope is
# what one write invalidates (a product's id; "*" for every page of a list; a vendor's or a
# category's part of the lists) and ``key`` tells entries apart (the filters of a list page). A
# read names the candidate scopes of its key; its loader may answer that the body depends on
# only some of them (``Loaded``). Tier 1 is this worker's memory (LRU, bounded by entries and
# bytes); tier 2 is Redis, where each scope has a version number and each entry records the
# versions it was loaded under ("<v1>.<v2>...\n<etag><body>", "-" for a candidate it does not
# depend on). A read fetches the candidates' versions and the entry in one MGET and uses the
# entry only if every version it depends on agrees. A write bumps the versions after COMMIT
# (before the NATS broadcast, so a worker that drops its copy cannot refill it from Redis's old
# one); a loader that read an old version writes an entry stamped with it, which no reader
# accepts. Redis failures degrade to loading from PostgreSQL, never to errors; a bump that failed
# is retried until Redis answers again.

CacheTier = Literal["memory", "redis"]

ETAG_LENGTH = 16
_QUOTED_ETAG = ETAG_LENGTH + 2


class CachedBody(msgspec.Struct, frozen=True):
    """Encoded bytes and what a response of them needs, computed once when they are cached."""

    body: bytes
    etag: bytes  # quoted, ready for the ETag header
    length: bytes  # the body's length, ready for Content-Length

    @classmethod
    def of(cls, body: bytes, etag: bytes | None = None) -> "CachedBody":
        if etag is None:
            etag = b'"' + hashlib.blake2b(body, digest_size=ETAG_LENGTH // 2).hexdigest().encode() + b'"'
        return cls(body, etag, str(len(body)).encode())


class CacheVersions:
    """The Redis side of invalidation: version keys of the scopes of the cached topics."""

    def __init__(
        self, link: RedisLink, *, key_prefix: str, topics: Iterable[str], version_ttl_s: float
    ) -> None:
        self.link = link
        self.key_prefix = key_prefix
        self.topics = frozenset(topics)
        self.version_ttl_s = int(version_ttl_s)
        self._retry: set[Invalidation] = set()

    def version_key(self, topic: str, scope: str) -> str:
        # the braces keep a topic's keys in one Redis Cluster slot, as the one-MGET read needs
        return f"{self.key_prefix}{{{topic}}}:v:{scope}"

    def data_key(self, topic: str, key: str) -> str:
        return f"{self.key_prefix}{{{topic}}}:d:{key}"

    async def bump(self, invalidations: Iterable[Invalidation]) -> None:
        """New versions for the scopes written; what fails now is retried by ``retry_forever``."""
        todo = {(t, s) for t, s in invalidations if t in self.topics} | self._retry
        if not todo:
            return
        commands: list[tuple[Any, ...]] = []
        for topic, scope in todo:
            key = self.version_key(topic, scope)
            commands += [("INCR", key), ("EXPIRE", key, self.version_ttl_s)]
        try:
            await self.link.pipeline(commands)
        except (RedisUnavailable, hiredis.ReplyError) as exc:
            if not self._retry:
                logger.warning("cannot bump cache versions (%s); retrying", type(exc).__name__)
            self._retry = todo
        else:
            self._retry = set()

    async def retry_forever(self, interval_s: float = 0.5) -> None:
        while True:
            await asyncio.sleep(interval_s)
            if self._retry:
                await self.bump(())


Stamp = tuple[int, ...]  # (epoch of the whole cache, generation of each scope)
Scopes = tuple[str, ...]


class Loaded(msgspec.Struct, frozen=True):
    """A loader's body that depends on only some of the scopes its read named."""

    body: bytes
    scopes: Scopes


Loader = Callable[[], Awaitable["bytes | Loaded | None"]]


class _Entry(msgspec.Struct):
    expires: float
    scopes: Scopes
    stamp: Stamp
    value: CachedBody
    size: int


class ResponseCache:
    def __init__(
        self,
        bus: InvalidationBus,
        versions: CacheVersions,
        *,
        tiers: Iterable[CacheTier],
        memory_ttl_s: float,
        fallback_ttl_s: float,
        redis_ttl_s: float,
        max_entries: int,
        max_bytes: int,
        on_lookup: Callable[[str, str, str], None] | None = None,
    ) -> None:
        self.bus = bus
        self.versions = versions
        tiers = frozenset(tiers)
        self.memory = "memory" in tiers
        self.redis = "redis" in tiers
        self.memory_ttl_s = memory_ttl_s
        self.fallback_ttl_s = fallback_ttl_s
        self.redis_ttl_s = int(redis_ttl_s)
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.on_lookup = on_lookup
        self._entries: collections.OrderedDict[tuple[str, str], _Entry] = collections.OrderedDict()
        self._bytes = 0
        self._inflight: dict[
            tuple[str, str], tuple[tuple[Scopes, Stamp], asyncio.Future[CachedBody | None]]
        ] = {}
        # bumped per (topic, scope) by an invalidation, and all at once by a clear: an entry
        # (or a load in flight) stamped before is stale
        self._generations: dict[tuple[str, str], int] = {}
        self._epoch = 0
        for topic in versions.topics:
            bus.subscribe(topic, functools.partial(self._invalidate, topic), on_outage=self.clear)

    def _invalidate(self, topic: str, scope: str) -> None:
        key = (topic, scope)
        self._generations[key] = self._generations.get(key, 0) + 1
        if len(self._generations) > 4 * self.max_entries:  # keep the bookkeeping bounded too
            self.clear()

    def clear(self) -> None:
        self._entries.clear()
        self._bytes = 0
        self._generations = {}
        self._epoch += 1

    def _stamp(self, topic: str, scopes: Scopes) -> Stamp:
        generations = self._generations
        if len(scopes) == 1:  # every read of a product page: no list to build
            return self._epoch, generations.get((topic, scopes[0]), 0)
        return (self._epoch, *[generations.get((topic, scope), 0) for scope in scopes])

    def _count(self, topic: str, tier: str, result: str) -> None:
        if self.on_lookup is not None:
            self.on_lookup(topic, tier, result)

    def peek(self, topic: str, key: str) -> CachedBody | None:
        """The entry in this worker's memory, if it is there and current (no I/O, no miss counted)."""
        entry = self._entries.get((topic, key))
        if (
            entry is None
            or entry.expires <= time.monotonic()
            or entry.stamp != self._stamp(topic, entry.scopes)
        ):
            return None
        self._entries.move_to_end((topic, key))
        self._count(topic, "memory", "hit")
        return entry.value

    async def get(self, topic: str, scopes: str | Scopes, key: str, load: Loader) -> CachedBody | None:
        """The cached body, or ``load()``'s (kept in both tiers); None when ``load`` finds nothing.
        ``scopes`` are those the body may depend on (``load`` may narrow them with ``Loaded``)."""
        candidates = (scopes,) if isinstance(scopes, str) else scopes
        if self.memory:
            entry = self._entries.get((topic, key))
            if entry is not None:
                if entry.expires > time.monotonic() and entry.stamp == self._stamp(topic, entry.scopes):
                    self._entries.move_to_end((topic, key))
                    self._count(topic, "memory", "hit")
                    return entry.value
                self._drop((topic, key))
            self._count(topic, "memory", "miss")
        stamp = self._stamp(topic, candidates)
        # one load per entry at a time in this worker: a burst of misses (a popular page just
        # invalidated) waits for the first one's answer instead of each running the query
        flight, wanted = (topic, key), (candidates, stamp)
        while (pending := self._inflight.get(flight)) is not None and pending[0] == wanted:
            try:
                return await asyncio.shield(pending[1])
            except asyncio.CancelledError:
                reader = asyncio.current_task()
                if not pending[1].cancelled() or (reader is not None and reader.cancelling()):
                    raise  # this reader was cancelled, not (only) the load it waited for
                # the reader that ran the load went away before it ended: load here instead
        # the first reader loads in its own task (no task of its own per miss: this is every
        # uncached read's path); the others wait on its answer
        answer: asyncio.Future[CachedBody | None] = asyncio.get_running_loop().create_future()
        self._inflight[flight] = (wanted, answer)
        try:
            value = await self._fill(topic, candidates, key, stamp, load)
        except asyncio.CancelledError:
            answer.cancel()  # the waiting readers load for themselves
            raise
        except Exception as exc:
            answer.set_exception(exc)  # the waiting readers fail as this one does
            answer.exception()  # (seen: with no reader waiting, nothing to report)
            raise
        else:
            answer.set_result(value)
            return value
        finally:
            if (current := self._inflight.get(flight)) is not None and current[1] is answer:
                del self._inflight[flight]

    async def _fill(
        self, topic: str, candidates: Scopes, key: str, stamp: Stamp, load: Loader
    ) -> CachedBody | None:
        """A missed entry from Redis, or from ``load()``, kept in both tiers."""
        versions: list[bytes] | None = None  # the candidates' versions, when Redis answered
        if self.redis:
            data_key = self.versions.data_key(topic, key)
            try:
                *found, raw = await self.versions.link.execute(
                    "MGET", *[self.versions.version_key(topic, s) for s in candidates], data_key
                )
            except (RedisUnavailable, hiredis.ReplyError):
                self._count(topic, "redis", "error")
            else:
                versions = [v or b"0" for v in found]
                if raw is not None and (hit := _current(raw, versions, candidates)) is not None:
                    self._count(topic, "redis", "hit")
                    value, depends = hit
                    self._keep(topic, depends, key, _narrow(stamp, candidates, depends), value)
                    return value
                self._count(topic, "redis", "miss")
        loaded = await load()
        if loaded is None:
            return None
        if isinstance(loaded, Loaded):
            body, depends = loaded.body, tuple(s for s in candidates if s in loaded.scopes)
        else:
            body, depends = loaded, candidates
        value = CachedBody.of(body)
        if versions is not None:
            header = b".".join(v if s in depends else b"-" for s, v in zip(candidates, versions, strict=True))
            with contextlib.suppress(RedisUnavailable, hiredis.ReplyError):
                await self.versions.link.execute(
                    "SET", data_key, header + b"\n" + value.etag + value.body, "EX", self.redis_ttl_s
                )
        self._keep(topic, depends, key, _narrow(stamp, candidates, depends), value)
        return value

    def _keep(self, topic: str, scopes: Scopes, key: str, stamp: Stamp, value: CachedBody) -> None:
        if not self.memory or stamp != self._stamp(topic, scopes):
            return  # invalidated while it loaded: it may already be stale
        ttl = self.memory_ttl_s if self.bus.healthy else self.fallback_ttl_s
        size = len(value.body) + 200
        self._drop((topic, key))
        self._entries[(topic, key)] = _Entry(time.monotonic() + ttl, scopes, stamp, value, size)
        self._bytes += size
        while self._entries and (len(self._entries) > self.max_entries or self._bytes > self.max_bytes):
            _, evicted = self._entries.popitem(last=False)
            self._bytes -= evicted.size

    def _drop(self, entry_key: tuple[str, str]) -> None:
        entry = self._entries.pop(entry_key, None)
        if entry is not None:
            self._bytes -= entry.size


def _narrow(stamp: Stamp, candidates: Scopes, depends: Scopes) -> Stamp:
    """The part of a stamp of ``candidates`` that covers ``depends`` (a subset, in their order)."""
    if depends == candidates:
        return stamp
    return (stamp[0], *[g for s, g in zip(candidates, stamp[1:], strict=True) if s in depends])


def _current(raw: bytes, versions: list[bytes], candidates: Scopes) -> tuple[CachedBody, Scopes] | None:
    """A Redis entry and the scopes it depends on, if each of their versions is still current."""
    end = raw.find(b"\n")
    stamped = raw[:end].split(b".")
    start = end + 1
    if end < 0 or len(stamped) != len(candidates) or len(raw) < start + _QUOTED_ETAG:
        return None
    depends: list[str] = []
    for scope, had, now in zip(candidates, stamped, versions, strict=True):
        if had == b"-":
            continue
        if had != now:
            return None
        depends.append(scope)
    body = CachedBody.of(raw[start + _QUOTED_ETAG :], raw[start : start + _QUOTED_ETAG])
    return body, (candidates if len(depends) == len(candidates) else tuple(depends))


def after_commit(
    versions: CacheVersions, bus: InvalidationBus
) -> Callable[[list[Invalidation]], Awaitable[None]]:
    """What a process does with a committed transaction's invalidations: Redis first, then NATS."""

    async def broadcast(invalidations: list[Invalidation]) -> None:
        await versions.bump(invalidations)
        await bus.publish(invalidations)

    return broadcast
