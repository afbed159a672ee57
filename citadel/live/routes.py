"""``/ws``: live pushes for storefronts and apps.

The socket authenticates as DESIGN.md says: with the access cookie at connect, or with a first
message ``{"type": "auth", "token": "<access token>"}`` (``"token": null`` connects a guest,
who may follow stock only). A browser's ``Origin`` must be the storefront's, a CORS origin or
one of ``CITADEL_LIVE_ORIGINS``; any other is refused before the handshake completes. A signed-in
socket follows its user's orders at once; ``{"type": "subscribe", "productIds": [...]}``
follows products' stock (``unsubscribe`` stops). The socket closes with 4401 when its token
expires (reconnect with a fresh one), 4400 after a malformed first message, 4408 when none comes.
"""

import asyncio
import contextlib
import time
import uuid
from typing import Any
from urllib.parse import urlsplit

import msgspec
from litestar import WebSocket, websocket
from litestar.exceptions import WebSocketDisconnect

from citadel.auth.guards import ACCESS_COOKIE, verify_access
from citadel.auth.models import Principal
from citadel.kit.errors import CitadelError
from citadel.kit.live import Follower
from citadel.kit.runtime import Runtime
from citadel.live.models import (
    MAX_SUBSCRIPTIONS,
    Auth,
    ClientMessage,
    ErrorMessage,
    Ping,
    Pong,
    Ready,
    Subscribe,
    Subscribed,
    orders_topic,
    stock_topic,
)

AUTH_TIMEOUT_S = 10.0
_decoder = msgspec.json.Decoder(ClientMessage)
_encoder = msgspec.json.Encoder()


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def allowed_origins(runtime: Runtime) -> frozenset[str]:
    settings = runtime.settings
    return frozenset(
        _origin(o) for o in (settings.storefront_url, *settings.cors_origins, *settings.live_origins) if o
    )


async def _send(socket: WebSocket[Any, Any, Any], message: msgspec.Struct) -> None:
    await socket.send_data(_encoder.encode(message).decode(), mode="text")


async def _authenticate(
    socket: WebSocket[Any, Any, Any], runtime: Runtime
) -> tuple[Principal | None, int | None] | None:
    """The socket's user and token expiry (None, None: a guest), or None when it was closed."""
    cookie = socket.cookies.get(ACCESS_COOKIE)
    token, via_cookie = (cookie, True) if cookie else (None, False)
    if token is None:
        try:
            first = _decoder.decode(await asyncio.wait_for(socket.receive_data(mode="text"), AUTH_TIMEOUT_S))
        except TimeoutError:
            await socket.close(code=4408, reason="send an auth message first")
            return None
        except (msgspec.DecodeError, msgspec.ValidationError):
            await socket.close(code=4400, reason="the first message is {type: auth, token}")
            return None
        if not isinstance(first, Auth):
            await socket.close(code=4400, reason="the first message is {type: auth, token}")
            return None
        if first.token is None:
            return None, None
        token = first.token
    try:
        principal, expires_at = await verify_access(runtime, token, via_cookie=via_cookie)
    except CitadelError as exc:
        await socket.close(code=4401, reason=exc.code)
        return None
    return principal, expires_at


async def _pump(socket: WebSocket[Any, Any, Any], follower: Follower) -> None:
    while True:
        await socket.send_data((await follower.queue.get()).decode(), mode="text")


async def _read(socket: WebSocket[Any, Any, Any], runtime: Runtime, follower: Follower) -> None:
    while True:
        raw = await socket.receive_data(mode="text")
        try:
            message = _decoder.decode(raw)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            await _send(socket, ErrorMessage(code="bad_message", detail=str(exc)))
            continue
        if isinstance(message, Ping):
            await _send(socket, Pong())
        elif isinstance(message, Auth):
            await _send(
                socket, ErrorMessage(code="already_authenticated", detail="Reconnect to change users.")
            )
        else:
            topics = {stock_topic(p) for p in message.product_ids}
            if isinstance(message, Subscribe):
                following = {t for t in follower.topics if t.startswith("stock.")}
                if len(following | topics) > MAX_SUBSCRIPTIONS:
                    await _send(
                        socket,
                        ErrorMessage(
                            code="too_many_subscriptions", detail=f"At most {MAX_SUBSCRIPTIONS} products."
                        ),
                    )
                    continue
                for topic in topics:
                    runtime.live.follow(follower, topic)
            else:
                for topic in topics:
                    runtime.live.unfollow(follower, topic)
            products = sorted(t.removeprefix("stock.") for t in follower.topics if t.startswith("stock."))
            await _send(socket, Subscribed(product_ids=[uuid.UUID(p) for p in products]))


@websocket("/ws", name="live")
async def live(socket: WebSocket[Any, Any, Any]) -> None:
    runtime: Runtime = socket.app.state.runtime
    origin = socket.headers.get("origin")
    if origin is not None and _origin(origin) not in allowed_origins(runtime):
        await socket.close(code=4403, reason="origin not allowed")
        return
    await socket.accept()
    found = await _authenticate(socket, runtime)
    if found is None:
        return  # closed with its reason
    principal, expires_at = found
    follower = Follower()
    if principal is not None:
        runtime.live.follow(follower, orders_topic(principal.user_id))
    try:
        await _send(socket, Ready(user_id=principal.user_id if principal else None, expires_at=expires_at))
        tasks = [
            asyncio.ensure_future(_pump(socket, follower)),
            asyncio.ensure_future(_read(socket, runtime, follower)),
        ]
        timeout = max(0.0, expires_at - time.time()) if expires_at is not None else None
        done, _ = await asyncio.wait(tasks, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect):
                await task
        if not done:
            await socket.close(code=4401, reason="token_expired")
    except WebSocketDisconnect:
        pass
    finally:
        runtime.live.leave(follower)
