"""The edge of every HTTP request: request id, client IP, rate limits, security headers, gzip, metrics.

``EdgeMiddleware`` wraps the whole Litestar ASGI handler (outside routing and exception
handling), so 404s, 405s and errors get the same treatment as routed responses. It is one plain
ASGI callable rather than a stack of middlewares, to keep the per-request cost to a few
microseconds: one pass over the request headers, one dict update for metrics, and a fixed,
pre-encoded list of response headers. Gzip lives here too: Litestar's compression middleware
cost 3.5 µs on every request, compressed or not (measured in process); here a request that does
not accept gzip pays nothing, and one that does pays a scan of the response headers.
"""

import ipaddress
import itertools
import logging
import os
import re
import time
import zlib
from collections import OrderedDict
from collections.abc import Iterable
from typing import Annotated, Any
from urllib.parse import parse_qsl

import msgspec
from litestar.enums import ScopeType
from litestar.params import QueryParameter
from litestar.types import (
    ASGIApp,
    HTTPResponseBodyEvent,
    HTTPResponseStartEvent,
    Message,
    Receive,
    Scope,
    Send,
)

from citadel.kit.cache import CachedBody
from citadel.kit.errors import PROBLEM_MEDIA_TYPE, FieldError, ValidationFailed, problem_body
from citadel.kit.observability import request_id_var
from citadel.kit.runtime import Runtime

access_logger = logging.getLogger("citadel.access")

PageSize = Annotated[int, QueryParameter(ge=1, le=100, description="Items per page (at most 100).")]
Cursor = Annotated[str | None, QueryParameter(max_length=1000, description="nextCursor of the previous page")]

_VALID_REQUEST_ID = re.compile(rb"^[A-Za-z0-9._:-]{1,128}$")
CLIENT_IP_KEY = "citadel.client_ip"
AUTH_PREFIX = "/api/v1/auth/"
DOCS_PREFIX = "/api/docs"


class TrustedProxies:
    """Decides the client IP: the peer, or from ``X-Forwarded-For`` when the peer is trusted."""

    def __init__(self, cidrs: Iterable[str]) -> None:
        self.networks = [ipaddress.ip_network(c.strip(), strict=False) for c in cidrs if c.strip()]
        self._verdicts: dict[str, bool] = {}

    def trusts(self, address: str) -> bool:
        verdict = self._verdicts.get(address)
        if verdict is None:
            try:
                ip = ipaddress.ip_address(address)
            except ValueError:
                verdict = False
            else:
                verdict = any(ip in net for net in self.networks)
            if len(self._verdicts) > 10_000:
                self._verdicts.clear()
            self._verdicts[address] = verdict
        return verdict

    def client_ip(self, peer: str, forwarded_for: bytes | None) -> str:
        if forwarded_for is None or not self.networks or not self.trusts(peer):
            return peer
        # Walk from the nearest hop back; the first address we do not trust is the client.
        hops = [h.strip() for h in forwarded_for.decode("latin-1").split(",") if h.strip()]
        for hop in reversed(hops):
            if not self.trusts(hop):
                return hop
        return hops[0] if hops else peer


def _security_headers(hsts_seconds: int, *, docs: bool) -> list[tuple[bytes, bytes]]:
    headers = [
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"no-referrer"),
        (b"x-frame-options", b"DENY"),
    ]
    if docs:  # the API documentation page loads its viewer's scripts and styles
        headers.append((b"cross-origin-opener-policy", b"same-origin"))
    else:
        headers.append((b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"))
    if hsts_seconds > 0:
        headers.append((b"strict-transport-security", f"max-age={hsts_seconds}; includeSubDomains".encode()))
    return headers


def gzipped(body: bytes, level: int) -> bytes:
    """``body`` in gzip format, with a window no larger than the body needs.

    zlib's default state (a 32 KiB window, memory level 8) is about 256 KiB to set up, which for
    a response of a few KiB costs more than the compression: sized to the body, a 4 KiB page
    compresses in a quarter of the time, to the same size.
    """
    bits = min(15, max(9, (len(body) - 1).bit_length()))
    packer = zlib.compressobj(level, zlib.DEFLATED, 16 + bits, min(8, bits - 7))
    return packer.compress(body) + packer.flush()


class _Compressed:
    """The gzipped bytes of bodies sent with an ETag, kept per worker (LRU, bounded in bytes).

    Cached pages are sent as the very same ``bytes`` object each time, whose hash Python keeps,
    so a hit costs a dictionary lookup instead of a compression (measured under the mixed load
    profile: compression was 5% of a worker's CPU). Bodies without an ETag are compressed each
    time and not kept.
    """

    def __init__(self, max_bytes: int = 32 * 2**20) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self.entries: OrderedDict[bytes, bytes] = OrderedDict()

    def get(self, body: bytes, level: int) -> bytes:
        found = self.entries.get(body)
        if found is not None:
            self.entries.move_to_end(body)
            return found
        compressed = gzipped(body, level)
        self.entries[body] = compressed
        self.size += len(body) + len(compressed)
        while self.size > self.max_bytes and self.entries:
            old, packed = self.entries.popitem(last=False)
            self.size -= len(old) + len(packed)
        return compressed


_COMPRESSED = _Compressed()


class _Gzip:
    """Compresses one response body when the client accepts gzip and the body is large enough.

    Decided from the response start (its content length and type); a streamed body (more than
    one message) passes through as it is.
    """

    __slots__ = ("level", "minimum", "start", "tagged")

    def __init__(self, minimum: int, level: int = 6) -> None:
        self.minimum = minimum
        self.level = level
        self.start: HTTPResponseStartEvent | None = None
        self.tagged = False

    def wants(self, headers: list[tuple[bytes, bytes]]) -> bool:
        length = -1
        compressible = encoded = False
        for name, value in headers:
            if name == b"content-length":
                length = int(value)
            elif name == b"content-type":
                compressible = b"json" in value or value.startswith(b"text/")
            elif name == b"content-encoding":
                encoded = True
            elif name == b"etag":
                self.tagged = True
        return compressible and not encoded and length >= self.minimum

    async def body(self, message: HTTPResponseBodyEvent, send: Send) -> None:
        start, self.start = self.start, None
        assert start is not None
        if message.get("more_body", False):
            await send(start)
            await send(message)
            return
        body = message.get("body", b"")
        compressed = _COMPRESSED.get(body, self.level) if self.tagged else gzipped(body, self.level)
        start["headers"] = [
            *((n, v) for n, v in start["headers"] if n != b"content-length"),
            (b"content-length", str(len(compressed)).encode()),
            (b"content-encoding", b"gzip"),
        ]
        await send(start)
        await send({"type": "http.response.body", "body": compressed, "more_body": False})


def _final_headers(
    headers: Iterable[tuple[bytes, bytes]],
    extra: list[tuple[bytes, bytes]],
    request_id: bytes,
    *,
    weak_etag: bool,
) -> list[tuple[bytes, bytes]]:
    """The route's headers and the common ones; ``no-store`` unless the route set a Cache-Control."""
    final: list[tuple[bytes, bytes]] = []
    cacheable = False
    for name, value in headers:
        if name == b"cache-control":
            cacheable = True
        elif name == b"etag" and weak_etag and not value.startswith(b"W/"):
            # this client may get the gzipped bytes: its validator is weak, for a 200 or a 304
            value = b"W/" + value  # noqa: PLW2901
        final.append((name, value))
    final += extra
    if not cacheable:
        final.append((b"cache-control", b"no-store"))
    final.append((b"x-request-id", request_id))
    return final


class EdgeMiddleware:
    def __init__(self, app: ASGIApp, runtime: Runtime) -> None:
        self.app = app
        self.runtime = runtime
        settings = runtime.settings
        self.metrics = runtime.metrics
        self.proxies = TrustedProxies(settings.trusted_proxies)
        self.limits_on = settings.rate_limit_enabled
        self.api_limiter = runtime.api_limiter
        self.auth_limiter = runtime.auth_limiter
        self.access_log = settings.access_log
        self.gzip_minimum = settings.gzip_min_bytes
        self.headers = _security_headers(settings.hsts, docs=False)
        self.docs_headers = _security_headers(settings.hsts, docs=True)
        # request ids: unique per process by a random prefix, then a counter (no syscall per request)
        self._id_prefix = os.urandom(6).hex() + "-"
        self._ids = itertools.count(1)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id, forwarded_for, accepts_gzip = self._scan(scope["headers"])
        token = request_id_var.set(request_id.decode())
        client = scope.get("client")
        peer = client[0] if client else "unknown"
        ip = self.proxies.client_ip(peer, forwarded_for) if forwarded_for else peer
        scope[CLIENT_IP_KEY] = ip  # type: ignore[literal-required]
        path: str = scope["path"]
        extra = self.docs_headers if path.startswith(DOCS_PREFIX) else self.headers
        gzipper = _Gzip(self.gzip_minimum) if accepts_gzip and self.gzip_minimum > 0 else None
        status = 500
        self.runtime.request_started()

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                final = _final_headers(
                    message.get("headers", []), extra, request_id, weak_etag=gzipper is not None
                )
                message["headers"] = final
                if gzipper is not None and gzipper.wants(final):
                    final.append((b"vary", b"Accept-Encoding"))
                    gzipper.start = message
                    return
            elif (
                gzipper is not None and gzipper.start is not None and message["type"] == "http.response.body"
            ):
                await gzipper.body(message, send)
                return
            await send(message)

        try:
            if self.limits_on and path.startswith("/api/"):
                retry_after = 0 if self.api_limiter.allow(ip) else 1
                if not retry_after and path.startswith(AUTH_PREFIX):
                    allowed, wait = await self.auth_limiter.check(ip)
                    retry_after = 0 if allowed else max(1, wait)
                if retry_after:
                    await self._refuse(send_with_headers, retry_after)
                    return
            await self.app(scope, receive, send_with_headers)
        finally:
            self.runtime.request_ended()
            route = scope.get("path_template") or ("<rate_limited>" if status == 429 else "<unmatched>")
            elapsed = time.perf_counter() - started
            self.metrics.observe_request(route, scope["method"], status, elapsed)
            if self.access_log:
                access_logger.info(
                    "%s %s %d",
                    scope["method"],
                    route,
                    status,
                    extra={"ip": ip, "path": path, "status": status, "ms": round(elapsed * 1000, 2)},
                )
            request_id_var.reset(token)

    def _scan(self, headers: Iterable[tuple[bytes, bytes]]) -> tuple[bytes, bytes | None, bool]:
        """One pass over the request headers: (request id, X-Forwarded-For, accepts gzip)."""
        request_id: bytes | None = None
        forwarded_for: bytes | None = None
        accepts_gzip = False
        for name, value in headers:
            if name == b"x-request-id":
                request_id = value if _VALID_REQUEST_ID.match(value) else None
            elif name == b"x-forwarded-for":
                forwarded_for = value
            elif name == b"accept-encoding":
                accepts_gzip = b"gzip" in value
        if request_id is None:
            request_id = f"{self._id_prefix}{next(self._ids):x}".encode()
        return request_id, forwarded_for, accepts_gzip

    @staticmethod
    async def _refuse(send: Send, retry_after: int) -> None:
        body = problem_body(
            429, "rate_limited", "Too many requests", "Slow down; retry after the given delay."
        )
        await send(
            {
                "type": "http.response.start",
                "status": 429,
                "headers": [
                    (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
                    (b"content-length", str(len(body)).encode()),
                    (b"retry-after", str(retry_after).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body, "more_body": False})


def client_ip(scope: Any) -> str:
    """The client IP the edge decided for this request."""
    return str(scope.get(CLIENT_IP_KEY, "unknown"))


# --- cached reads --------------------------------------------------------------------------------


class BodyResponse:
    """A response already encoded: status, header pairs and body bytes, sent as they are.

    Route handlers return it for cached reads, so a hit builds no response object of the
    framework's; the edge middleware still adds the common headers.
    """

    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes = b"") -> None:
        self.status = status
        self.headers = headers
        self.body = body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status, "headers": self.headers})
        await send({"type": "http.response.body", "body": self.body, "more_body": False})


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return value
    return None


def etag_matches(if_none_match: bytes, etag: bytes) -> bool:
    """RFC 9110 weak comparison of an If-None-Match list against our (strong) ETag."""
    if if_none_match.strip() == b"*":
        return True
    return any(candidate.strip().removeprefix(b"W/") == etag for candidate in if_none_match.split(b","))


def json_bytes(scope: Scope, cached: CachedBody, cache_control: bytes) -> BodyResponse:
    """A cached JSON body with its ETag, or 304 when the client already holds it."""
    sent = _header(scope, b"if-none-match")
    if sent is not None and etag_matches(sent, cached.etag):
        return BodyResponse(304, [(b"etag", cached.etag), (b"cache-control", cache_control)])
    headers = [
        (b"etag", cached.etag),
        (b"cache-control", cache_control),
        (b"content-type", b"application/json"),
        (b"content-length", cached.length),
    ]
    return BodyResponse(200, headers, cached.body)


_private_encoder = msgspec.json.Encoder()


def private_json(value: Any) -> BodyResponse:
    """A per-user JSON answer: never stored by a browser or a shared cache."""
    body = _private_encoder.encode(value)
    return BodyResponse(
        200,
        [
            (b"cache-control", b"private, no-store"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
        body,
    )


def reject_unknown_query(scope: Scope, allowed: frozenset[str]) -> None:
    """A 422 naming every query parameter the route does not know (none is silently ignored)."""
    query = scope.get("query_string", b"")
    if not query:
        return
    unknown = sorted(
        {name for name, _ in parse_qsl(query.decode("latin-1"), keep_blank_values=True)} - allowed
    )
    if unknown:
        raise ValidationFailed(
            f"Unknown query parameter(s): {', '.join(unknown)}.",
            errors=[
                FieldError(field=name, message="Unknown parameter", code="unknown_parameter", source="query")
                for name in unknown
            ],
        )
