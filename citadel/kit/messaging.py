"""One NATS connection per process, connecting in the background and reconnecting forever.

A process never fails to start because NATS is down: ``NatsLink`` keeps trying, reports its
state to listeners (caches shorten their lifetimes while it is away), and hands out the client
once connected. JetStream work (relay, consumers) waits for it; requests never do.
"""

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext

logger = logging.getLogger("citadel.messaging")

StateListener = Callable[[bool], None]


class NatsLink:
    def __init__(self, url: str, *, name: str, connect_timeout: float = 2.0) -> None:
        self.url = url
        self.name = name
        self.connect_timeout = connect_timeout
        self._client: Client | None = None
        self._task: asyncio.Task[None] | None = None
        self._listeners: list[StateListener] = []
        self._connected = asyncio.Event()
        # JetStream contexts, made once per client: each one that publishes asynchronously holds
        # a reply subscription of its own for its acks, which lives as long as the client
        self._contexts: dict[int, JetStreamContext] = {}
        self._contexts_of: Client | None = None

    def on_state_change(self, listener: StateListener) -> None:
        self._listeners.append(listener)

    @property
    def connected(self) -> bool:
        return self._client is not None and self._client.is_connected

    @property
    def client(self) -> Client:
        if self._client is None:
            raise ConnectionError("NATS is not connected")
        return self._client

    def jetstream(self, *, publish_pending: int = 4000) -> JetStreamContext:
        """The client's JetStream context (one per ``publish_pending``: the number of
        asynchronous publishes it lets wait for their acks)."""
        client = self.client
        if self._contexts_of is not client:
            self._contexts, self._contexts_of = {}, client
        context = self._contexts.get(publish_pending)
        if context is None:
            context = self._contexts[publish_pending] = client.jetstream(
                publish_async_max_pending=publish_pending
            )
        return context

    async def start(self) -> None:
        self._task = asyncio.create_task(self._connect_forever(), name=f"nats-connect-{self.name}")

    async def wait_connected(self, timeout: float | None = None) -> bool:
        try:
            await asyncio.wait_for(self._connected.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._client is not None:
            with contextlib.suppress(Exception):
                await self._client.drain()
            self._client = None

    def _notify(self, up: bool) -> None:
        if up:
            self._connected.set()
        else:
            self._connected.clear()
        for listener in self._listeners:
            listener(up)

    async def _connect_forever(self) -> None:
        delay = 0.2
        while True:
            try:
                self._client = await nats.connect(
                    # a cluster is named by its servers' URLs separated by commas
                    servers=[u.strip() for u in self.url.split(",") if u.strip()],
                    name=self.name,
                    connect_timeout=self.connect_timeout,
                    allow_reconnect=True,
                    max_reconnect_attempts=-1,
                    reconnect_time_wait=0.5,
                    disconnected_cb=self._on_disconnected,
                    reconnected_cb=self._on_reconnected,
                    error_cb=self._on_error,
                )
            except Exception as exc:  # noqa: BLE001 - any failure to connect means: try again later
                logger.warning("NATS not reachable (%s); retrying in %.1fs", type(exc).__name__, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            logger.info("connected to NATS")
            self._notify(True)
            return

    async def _on_disconnected(self) -> None:
        logger.warning("NATS connection lost")
        self._notify(False)

    async def _on_reconnected(self) -> None:
        logger.info("NATS connection restored")
        self._notify(True)

    async def _on_error(self, exc: Exception) -> None:
        logger.debug("NATS client error: %s", exc)

    async def subscribe(self, subject: str, handler: Callable[[Any], Any]) -> None:
        await self.client.subscribe(subject, cb=handler)
