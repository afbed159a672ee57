"""The real nginx, with deploy/nginx/nginx.conf, in front of a real Citadel server on loopback:
TLS, per-IP rate limits, WebSocket upgrades, the request id and client address passed through
(the app believes the gateway, not the client's claim), short caching of public answers but never
of credentialed ones, long-lived assets, and no /metrics from outside."""

import asyncio
import json
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import asyncpg
import httpx
import pytest

from citadel.settings import Settings
from tests.deploy.gateway import WebSocket, render_nginx
from tests.fixtures.servers import free_port, server_env, wait_for_port

CLIENT = "127.0.0.5"  # the shopper's address: loopback, but not the gateway's (127.0.0.1)


class Gateway:
    def __init__(self, https: str, app: str, port: int, http_port: int, settings: Settings) -> None:
        self.https, self.app, self.port, self.http_port, self.settings = https, app, port, http_port, settings

    def client(self, **kwargs: object) -> httpx.Client:
        transport = httpx.HTTPTransport(local_address=CLIENT, verify=False)
        return httpx.Client(base_url=self.https, transport=transport, timeout=10, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def gateway(settings: Settings, tmp_path: Path) -> Iterator[Gateway]:
    app_port, http_port, https_port = free_port(), free_port(), free_port()
    env = server_env(
        settings, tmp_path, CITADEL_TRUSTED_PROXIES="127.0.0.1/32",
        CITADEL_RATE_LIMIT_API_PER_SECOND="100000", CITADEL_RATE_LIMIT_AUTH_PER_SECOND="100000",
        CITADEL_RATE_LIMIT_AUTH_BURST="100000", CITADEL_METRICS_DIR=str(tmp_path / "metrics"),
    )  # fmt: skip
    app = subprocess.Popen(
        [sys.executable, "-m", "citadel", "serve", "--workers", "1", "--port", str(app_port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    nginx_dir = tmp_path / "nginx"
    nginx_dir.mkdir()
    config = render_nginx(nginx_dir, upstream_port=app_port, http_port=http_port, https_port=https_port)
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    nginx = subprocess.Popen(
        [binary, "-p", str(nginx_dir), "-c", str(config), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_for_port(app_port, timeout=20)
        wait_for_port(https_port, timeout=10)
        yield Gateway(
            f"https://127.0.0.1:{https_port}", f"http://127.0.0.1:{app_port}", https_port, http_port, settings
        )
    finally:
        for proc in (nginx, app):
            proc.send_signal(signal.SIGTERM if proc is nginx else signal.SIGINT)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


def test_tls_headers_and_the_request_id(gateway: Gateway) -> None:
    with gateway.client() as http:
        answer = http.get("/api/v1/info", headers={"X-Request-Id": "trace-42"})
        assert answer.status_code == 200 and answer.http_version == "HTTP/1.1"
        assert answer.headers["x-request-id"] == "trace-42"  # passed to the app and answered back
        assert answer.headers["strict-transport-security"].startswith("max-age=31536000")
        for header in ("x-content-type-options", "x-frame-options", "referrer-policy"):
            assert header in answer.headers
        assert "server" not in answer.headers or "nginx/" not in answer.headers["server"]
        made = http.get("/api/v1/info")
        assert len(made.headers["x-request-id"]) >= 16  # one made at the gateway
    redirect = httpx.get(f"http://127.0.0.1:{gateway.http_port}/api/v1/info?x=1")
    assert redirect.status_code == 308 and redirect.headers["location"].startswith("https://")
    plain = httpx.get(f"http://127.0.0.1:{gateway.port}/api/v1/info")
    assert plain.status_code == 400  # plain HTTP on the TLS port is refused, not served


def test_the_client_address_is_the_gateways_word(gateway: Gateway) -> None:
    email = f"gw-{uuid.uuid4().hex[:10]}@example.test"
    with gateway.client() as http:
        made = http.post(
            "/api/v1/auth/register",
            json={"email": email, "password": "gateway-password-1", "name": "Gate"},
            headers={"X-Forwarded-For": "203.0.113.7"},  # a claim the gateway passes on, with the truth
        )
        assert made.status_code == 201, made.text

    async def seen() -> str:
        conn = await asyncpg.connect(gateway.settings.database_url.reveal())
        try:
            ip = await conn.fetchval(
                "SELECT host(f.ip) FROM refresh_families f JOIN users u ON u.id = f.user_id"
                " WHERE u.email = $1",
                email,
            )
        finally:
            await conn.close()
        return str(ip)

    assert asyncio.run(seen()) == CLIENT


def test_rate_limits_per_address(gateway: Gateway) -> None:
    body = {"email": "nobody@example.test", "password": "wrong-password-xx"}
    with gateway.client() as http, ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda _: http.post("/api/v1/auth/login", json=body).status_code, range(60)))
    assert statuses.count(429) >= 20  # 10/s with a burst of 20 on sign-in
    assert set(statuses) <= {401, 423, 429}  # 423: the app locks the account after failed sign-ins
    with gateway.client() as http, ThreadPoolExecutor(8) as pool:
        api = list(pool.map(lambda _: http.get("/api/v1/info").status_code, range(150)))
    assert api.count(200) >= 150 - 5  # the API's 100/s with a burst of 200 lets these through
    time.sleep(1.1)
    with gateway.client() as http:
        assert http.post("/api/v1/auth/login", json=body).status_code in {401, 423}  # the bucket refills


def test_websocket_upgrade_on_ws(gateway: Gateway) -> None:
    socket = WebSocket("127.0.0.1", gateway.port, "/ws", gateway.settings.storefront_url)
    try:
        assert (socket.status, socket.accepted) == (101, True)
        socket.send_text(json.dumps({"type": "auth", "token": "not-a-token"}))
        opcode, payload = socket.receive()
        assert opcode == 8 and int.from_bytes(payload[:2], "big") == 4401  # the app's close, through nginx
    finally:
        socket.close()


def test_public_answers_are_cached_briefly_but_never_credentialed_ones(gateway: Gateway) -> None:
    with gateway.client() as http:
        first = http.get("/api/v1/categories")
        second = http.get("/api/v1/categories")
        assert (first.headers["x-cache-status"], second.headers["x-cache-status"]) == ("MISS", "HIT")
        signed = http.get("/api/v1/categories", headers={"Authorization": "Bearer whatever"})
        assert signed.headers["x-cache-status"] == "BYPASS"
        cookie = http.get("/api/v1/categories", headers={"Cookie": "citadel_access=x"})
        assert cookie.headers["x-cache-status"] == "BYPASS"
        private = http.get("/api/v1/cart")  # no-store: never kept
        again = http.get("/api/v1/cart")
        assert again.headers.get("x-cache-status") != "HIT" and private.status_code == again.status_code
        asset = http.get("/assets/app.3f9a1c.js")
        assert asset.status_code == 200 and "immutable" in asset.headers["cache-control"]
        assert http.get("/metrics").status_code == 404  # not from outside
        assert http.get("/api/v1/info", headers={"Accept-Encoding": "gzip"}).status_code == 200
    assert httpx.get(f"{gateway.app}/metrics").status_code == 200  # the inner network scrapes it
