"""The HTTP edge: problem+json for every bad input, request ids, security headers, limits, gzip, CORS."""

import asyncio
import gzip
import logging
import os
import re

import pytest
from litestar import Request, get

from citadel.app import create_app
from citadel.kit.http import gzipped
from citadel.kit.runtime import runtime_of
from citadel.settings import Settings
from tests.fixtures.app import AppClient, http_client, make_settings, running_app, start_lifespan
from tests.fixtures.factories import PASSWORD, Account, register
from tests.fixtures.servers import Servers

# Every route that takes a JSON body, with a valid body (bad input must never reach a 500).
JSON_ROUTES = [
    ("POST", "/api/v1/auth/register", {"email": "a@b.test", "password": PASSWORD, "name": "N"}, False),
    ("POST", "/api/v1/auth/login", {"email": "a@b.test", "password": PASSWORD}, False),
    ("POST", "/api/v1/auth/refresh", {"refreshToken": "x"}, False),
    ("POST", "/api/v1/auth/password/forgot", {"email": "a@b.test"}, False),
    ("POST", "/api/v1/auth/password/reset", {"token": "x", "newPassword": PASSWORD}, False),
    ("POST", "/api/v1/auth/email/verify", {"token": "x"}, False),
    ("POST", "/api/v1/me/password", {"currentPassword": PASSWORD, "newPassword": PASSWORD}, True),
    ("PATCH", "/api/v1/me", {"name": "N"}, True),
    (
        "POST",
        "/api/v1/me/addresses",
        {"kind": "billing", "fullName": "A", "line1": "B", "city": "C", "country": "US"},
        True,
    ),
]


@pytest.fixture(scope="module")
async def account(client: AppClient) -> Account:
    return await register(client)


def _problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == code
    assert problem["status"] == status
    assert problem["type"] == f"urn:citadel:problem:{code}"
    assert problem["title"] and problem["detail"]
    assert problem["requestId"] == response.headers["x-request-id"]
    return problem


@pytest.mark.parametrize(("method", "path", "body", "auth"), JSON_ROUTES, ids=[r[1] for r in JSON_ROUTES])
async def test_bad_bodies_are_4xx_problems(
    client: AppClient, account: Account, method: str, path: str, body: dict, auth: bool
) -> None:
    headers = {**(account.headers if auth else {}), "content-type": "application/json"}
    first_field = next(iter(body))
    optional_body = path == "/api/v1/auth/refresh"  # cookie sessions refresh with no body
    cases = [
        (b'{"unterminated', 400, "malformed_json"),
        (b"[1, 2", 400, "malformed_json"),
        (b"", 401, "invalid_refresh_token") if optional_body else (b"", 400, "malformed_json"),
        (b"[]", 422, "validation_failed"),
        (b'{"' + first_field.encode() + b'": 12345678}', 422, "validation_failed"),
        (
            ("{" + ", ".join(f'"{k}": "{v}"' for k, v in body.items()) + ', "surprise": true}').encode(),
            422,
            "validation_failed",
        ),
        (b"{}", 422, "validation_failed")
        if path not in {"/api/v1/me", "/api/v1/auth/refresh"}
        else (b"[]", 422, "validation_failed"),
    ]
    for content, status, code in cases:
        response = await client.request(method, path, content=content, headers=headers)
        problem = _problem(response, status, code)
        if status == 422:
            assert problem["errors"], content
            assert {"field", "message", "code", "source"} <= set(problem["errors"][0])


async def test_validation_lists_missing_unknown_and_wrong_fields_together(client: AppClient) -> None:
    response = await client.post("/api/v1/auth/register", json={"email": 5, "nickname": "x"})
    problem = _problem(response, 422, "validation_failed")
    assert {(e["field"], e["code"]) for e in problem["errors"]} == {
        ("nickname", "unknown_field"),
        ("email", "wrong_type"),
        ("password", "required"),
        ("name", "required"),
    }


async def test_oversize_bodies_are_refused(client: AppClient) -> None:
    big = b'{"email": "' + b"a" * (1_100_000) + b'"}'
    response = await client.post(
        "/api/v1/auth/password/forgot", content=big, headers={"content-type": "application/json"}
    )
    _problem(response, 413, "payload_too_large")


async def test_unknown_routes_and_methods(client: AppClient) -> None:
    _problem(await client.get("/api/v1/nothing-here"), 404, "not_found")
    _problem(await client.delete("/api/v1/auth/login"), 405, "method_not_allowed")


async def test_request_ids(client: AppClient) -> None:
    generated = await client.get("/healthz")
    assert re.fullmatch(r"[0-9a-f]{12}-[0-9a-f]+", generated.headers["x-request-id"])
    assert (await client.get("/healthz")).headers["x-request-id"] != generated.headers["x-request-id"]
    passed = await client.get("/healthz", headers={"X-Request-ID": "gw-1234.abc:7"})
    assert passed.headers["x-request-id"] == "gw-1234.abc:7"
    hostile = await client.get("/healthz", headers={"X-Request-ID": "bad id\r\nx"[:6] + "<script>"})
    assert re.fullmatch(r"[0-9a-f]{12}-[0-9a-f]+", hostile.headers["x-request-id"])
    error = await client.get("/api/v1/nothing", headers={"X-Request-ID": "trace-42"})
    assert error.json()["requestId"] == "trace-42"


async def test_security_headers_on_every_kind_of_response(client: AppClient) -> None:
    for response in (
        await client.get("/healthz"),
        await client.get("/api/v1/nope"),
        await client.post("/api/v1/auth/login", content=b"{"),
    ):
        headers = response.headers
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"
        assert headers["referrer-policy"] == "no-referrer"
        assert headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
        assert headers["cache-control"] == "no-store"
    docs = await client.get("/api/docs/openapi.json")
    assert "content-security-policy" not in docs.headers
    assert "strict-transport-security" not in docs.headers  # only in production, behind TLS


async def test_openapi_document(client: AppClient) -> None:
    response = await client.get("/api/docs/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.1")
    operations = [op for path in document["paths"].values() for op in path.values() if isinstance(op, dict)]
    ids = [op["operationId"] for op in operations]
    assert len(ids) == len(set(ids))
    assert {"register", "login", "refresh", "getMe", "listUsers", "createAddress"} <= set(ids)
    assert "RegisterInput" in document["components"]["schemas"]


async def test_large_responses_are_gzipped(servers: Servers, database_url: str) -> None:
    settings = make_settings(servers, database_url, gzip_min_bytes=200)
    async with running_app(settings) as app:
        small = await app.get("/healthz", headers={"Accept-Encoding": "gzip"})
        assert "content-encoding" not in small.headers
        zipped = await app.get("/api/docs/openapi.json", headers={"Accept-Encoding": "gzip"})
        assert zipped.headers["content-encoding"] == "gzip"
        assert zipped.headers["vary"] == "Accept-Encoding"
        assert zipped.json()["openapi"].startswith("3.1")  # httpx inflates it
        plain = await app.get("/api/docs/openapi.json", headers={"Accept-Encoding": "identity"})
        assert "content-encoding" not in plain.headers
        assert int(zipped.headers["content-length"]) < int(plain.headers["content-length"]) / 3
        assert zipped.content == plain.content


async def test_cors_for_configured_origins_only(servers: Servers, database_url: str) -> None:
    settings = make_settings(servers, database_url, cors_origins=("https://shop.example",))
    async with running_app(settings) as app:
        preflight = await app.options(
            "/api/v1/auth/login",
            headers={"Origin": "https://shop.example", "Access-Control-Request-Method": "POST",
                     "Access-Control-Request-Headers": "content-type, x-csrf-token"},
        )  # fmt: skip
        assert preflight.status_code in (200, 204)
        assert preflight.headers["access-control-allow-origin"] == "https://shop.example"
        assert preflight.headers["access-control-allow-credentials"] == "true"
        other = await app.get("/healthz", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers


async def test_hsts_in_production(servers: Servers, database_url: str) -> None:
    settings = make_settings(servers, database_url, hsts_seconds=600)
    async with running_app(settings) as app:
        response = await app.get("/healthz")
        assert response.headers["strict-transport-security"] == "max-age=600; includeSubDomains"


async def test_unexpected_errors_are_500_problems_without_details(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    @get("/api/v1/test-crash", operation_id="testCrash")
    async def crash() -> None:
        raise RuntimeError("secret internal detail")

    app = create_app(settings)
    app.register(crash)
    async with app.lifespan(), http_client(app) as http:
        with caplog.at_level(logging.ERROR, logger="citadel.errors"):
            response = await http.get("/api/v1/test-crash")
    problem = _problem(response, 500, "internal_error")
    assert "secret" not in response.text
    assert any("secret internal detail" in str(r.exc_info) for r in caplog.records)
    assert problem["requestId"]


async def test_a_shutdown_waits_for_the_requests_still_running(settings: Settings) -> None:
    """The server may begin a shutdown while requests run (those whose clients left, for one):
    the pools they use stay open until they end."""
    entered, release = asyncio.Event(), asyncio.Event()

    @get("/api/v1/test-slow", operation_id="testSlow")
    async def slow(request: Request) -> dict[str, int]:
        entered.set()
        await release.wait()
        async with runtime_of(request).db.connection() as conn:
            return {"one": await conn.fetchval("SELECT 1")}

    app = create_app(settings)
    app.register(slow)
    server, stop = await start_lifespan(app)
    async with http_client(app) as http:
        request = asyncio.create_task(http.get("/api/v1/test-slow"))
        await asyncio.wait_for(entered.wait(), 10)
        stop.set()
        await asyncio.sleep(0.3)
        assert not server.done()  # the shutdown waits for the request
        assert app.state.runtime.in_flight == 1
        release.set()
        response = await asyncio.wait_for(request, 10)
    assert response.status_code == 200, response.text
    assert response.json() == {"one": 1}
    await asyncio.wait_for(server, 10)
    assert app.state.runtime.in_flight == 0


async def test_health_and_readiness(client: AppClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "checks": {"postgres": "ok", "redis": "ok", "nats": "ok"}}
    info = await client.get("/api/v1/info")
    assert info.json()["name"] == "citadel"


def test_gzip_windows_sized_to_the_body_round_trip_at_every_size() -> None:
    for size in (0, 1, 511, 512, 513, 4_096, 40_000, 2_000_000):
        body = os.urandom(size // 2) + b'{"a":1}' * (size // 14)
        packed = gzipped(body, 6)
        assert packed[:2] == b"\x1f\x8b" and gzip.decompress(packed) == body
