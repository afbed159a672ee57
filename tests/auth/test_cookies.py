"""Cookie sessions for browsers: httpOnly token cookies, CSRF on unsafe requests."""

import contextlib
from collections.abc import AsyncIterator

import httpx

from tests.fixtures.app import AppClient, http_client
from tests.fixtures.factories import PASSWORD, register


@contextlib.asynccontextmanager
async def _cookie_login(
    client: AppClient, email: str
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.Response]]:
    """A browser-like client (its own cookie jar) signed in with cookies."""
    async with http_client(client.app) as browser:
        response = await browser.post(
            "/api/v1/auth/login", json={"email": email, "password": PASSWORD, "tokenTransport": "cookie"}
        )
        assert response.status_code == 200
        yield browser, response


async def test_cookie_login_sets_httponly_cookies_and_hides_the_tokens(client: AppClient) -> None:
    account = await register(client)
    async with _cookie_login(client, account.email) as (browser, response):
        body = response.json()
        assert body["accessToken"] is None and body["refreshToken"] is None
        assert body["csrfToken"]
        cookies = {c.split("=", 1)[0]: c for c in response.headers.get_list("set-cookie")}
        assert set(cookies) == {"citadel_access", "citadel_refresh", "citadel_csrf"}
        assert "HttpOnly" in cookies["citadel_access"] and "HttpOnly" in cookies["citadel_refresh"]
        assert "HttpOnly" not in cookies["citadel_csrf"]
        assert "Path=/api/v1/auth" in cookies["citadel_refresh"]
        assert "SameSite=lax" in cookies["citadel_access"]
        assert (await browser.get("/api/v1/me")).status_code == 200


async def test_unsafe_requests_of_cookie_sessions_need_the_csrf_header(client: AppClient) -> None:
    account = await register(client)
    async with _cookie_login(client, account.email) as (browser, response):
        csrf = response.json()["csrfToken"]
        missing = await browser.patch("/api/v1/me", json={"name": "Forged"})
        assert (missing.status_code, missing.json()["code"]) == (403, "csrf_failed")
        forged = ("y" if csrf[0] == "x" else "x") + csrf[1:]  # always differs from the real token
        wrong = await browser.patch("/api/v1/me", json={"name": "Forged"}, headers={"X-CSRF-Token": forged})
        assert wrong.status_code == 403
        ok = await browser.patch("/api/v1/me", json={"name": "Real"}, headers={"X-CSRF-Token": csrf})
        assert ok.status_code == 200
        assert ok.json()["name"] == "Real"


async def test_cookie_refresh_rotates_cookies_and_needs_csrf(client: AppClient) -> None:
    account = await register(client)
    async with _cookie_login(client, account.email) as (browser, response):
        csrf = response.json()["csrfToken"]
        refused = await browser.post("/api/v1/auth/refresh")
        assert (refused.status_code, refused.json()["code"]) == (403, "csrf_failed")
        refreshed = await browser.post("/api/v1/auth/refresh", headers={"X-CSRF-Token": csrf})
        assert refreshed.status_code == 200
        assert refreshed.json()["csrfToken"] == csrf  # bound to the session, which continues
        assert (await browser.get("/api/v1/me")).status_code == 200


async def test_cookie_logout_clears_the_cookies(client: AppClient) -> None:
    account = await register(client)
    async with _cookie_login(client, account.email) as (browser, response):
        csrf = response.json()["csrfToken"]
        out = await browser.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf})
        assert out.status_code == 204
        assert all("Max-Age=0" in c for c in out.headers.get_list("set-cookie"))
        assert (await browser.get("/api/v1/me")).status_code == 401


async def test_bearer_requests_need_no_csrf(client: AppClient) -> None:
    account = await register(client)
    response = await client.patch("/api/v1/me", json={"name": "Bearer"}, headers=account.headers)
    assert response.status_code == 200
