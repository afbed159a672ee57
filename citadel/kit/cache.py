"""Per-worker caches kept fresh by invalidations broadcast over core NATS.

A write records ``(topic, key)`` invalidations on its connection; after COMMIT they are applied
to this worker at once and published on ``citadel.cache.<topic>`` so every other worker (and
replica) drops its copy too. Entries live long while the bus is connected; while it is not, an
invalidation may be missed, so entries fall back to a short lifetime and every cache is cleared
when the connection drops and again when it returns.
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

from citadel.kit.db import Invalidation
from citadel.kit.messaging import NatsLink

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
        self._apply(topic, msg.data.decode())

    def _apply(self, topic: str, key: str) -> None:
        for handler in self._handlers.get(topic, ()):
            handler(key)

    async def publish(self, invalidations: list[Invalidation]) -> None:
        """Apply here at once, then tell every other worker (best effort: see the module doc)."""
        for topic, key in invalidations:
            self._apply(topic, key)
        if not self.link.connected:
            return
        try:
            for topic, key in invalidations:
                await self.link.client.publish(f"{self.prefix}.{topic}", key.encode())
        except Exception as exc:  # noqa: BLE001 - a lost message is covered by the fallback lifetime
            logger.warning("could not broadcast an invalidation: %s", type(exc).__name__)


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
