"""Live pushes: core NATS messages under ``citadel.live.>`` fanned out to this worker's sockets.

Whoever changes something publishes after commit to ``citadel.live.<topic>`` (the worker's
live consumers do, from the durable events); every API worker subscribes to the whole subtree
once and hands each message to the sockets following its topic, so a client connected to any
worker hears every change. Messages are ephemeral: a socket that cannot keep up loses the
oldest ones (its queue is bounded), and nothing is replayed after a disconnect.
"""

import asyncio
import contextlib
import logging
from typing import Any

from citadel.kit.db import LiveMessage, Publish
from citadel.kit.messaging import NatsLink

logger = logging.getLogger("citadel.live")

QUEUE_SIZE = 256


class Follower:
    """One socket's queue of pushes and the topics it follows."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes] = asyncio.Queue(QUEUE_SIZE)
        self.topics: set[str] = set()
        self.dropped = 0

    def push(self, payload: bytes) -> None:
        if self.queue.full():
            with contextlib.suppress(asyncio.QueueEmpty):
                self.queue.get_nowait()
            self.dropped += 1
        self.queue.put_nowait(payload)


class LiveHub:
    def __init__(self, link: NatsLink, subject_prefix: str) -> None:
        self.link = link
        self.prefix = subject_prefix  # "<ns>.citadel.live" or "citadel.live"
        self._followers: dict[str, set[Follower]] = {}
        self._subscribed = False
        link.on_state_change(self._state_changed)

    def _state_changed(self, up: bool) -> None:
        if up and not self._subscribed:
            asyncio.get_running_loop().create_task(self._subscribe())

    async def _subscribe(self) -> None:
        if self._subscribed:
            return
        self._subscribed = True
        try:
            await self.link.subscribe(f"{self.prefix}.>", self._on_message)
        except Exception:
            self._subscribed = False
            logger.exception("cannot subscribe to live messages")

    async def _on_message(self, msg: Any) -> None:
        for follower in self._followers.get(msg.subject[len(self.prefix) + 1 :], ()):
            follower.push(msg.data)

    def follow(self, follower: Follower, topic: str) -> None:
        follower.topics.add(topic)
        self._followers.setdefault(topic, set()).add(follower)

    def unfollow(self, follower: Follower, topic: str) -> None:
        follower.topics.discard(topic)
        followers = self._followers.get(topic)
        if followers is not None:
            followers.discard(follower)
            if not followers:
                del self._followers[topic]

    def leave(self, follower: Follower) -> None:
        for topic in list(follower.topics):
            self.unfollow(follower, topic)

    @property
    def sockets(self) -> int:
        return len({f for followers in self._followers.values() for f in followers})


def live_publisher(link: NatsLink, subject_prefix: str) -> Publish:
    """What a process does with a committed transaction's live messages (best effort)."""

    async def publish(messages: list[LiveMessage]) -> None:
        if not link.connected:
            return
        try:
            for topic, payload in messages:
                await link.client.publish(f"{subject_prefix}.{topic}", payload)
        except Exception as exc:  # noqa: BLE001 - a live push is ephemeral: losing one is allowed
            logger.warning("could not publish a live message: %s", type(exc).__name__)

    return publish
