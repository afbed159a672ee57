"""Sessions: refresh rotation and reuse detection, logout, logout everywhere, token checks."""

import asyncio
import base64
import json
import time
import uuid

import jwt
import pytest

from citadel.kit.security import TokenCodec
from tests.fixtures.app import AppClient
from tests.fixtures.factories import PASSWORD, bearer, login, register


async def _refresh(client: AppClient, token: str) -> tuple[int, dict]:
    response = await client.post("/api/v1/auth/refresh", json={"refreshToken": token})
    return response.status_code, response.json()


async def test_refresh_rotates_the_pair(client: AppClient) -> None:
    account = await register(client)
    status, body = await _refresh(client, account.refresh_token)
    assert status == 200
    assert body["refreshToken"] != account.refresh_token
    assert body["accessToken"] != account.access_token
    assert (await client.get("/api/v1/me", headers=bearer(body["accessToken"]))).status_code == 200
    status, _again = await _refresh(client, body["refreshToken"])
    assert status == 200


async def test_a_reused_refresh_token_revokes_the_whole_family(client: AppClient) -> None:
    account = await register(client)
    _, first = await _refresh(client, account.refresh_token)
    status, problem = await _refresh(client, account.refresh_token)
    assert status == 401
    assert problem["code"] == "refresh_token_reused"
    # the token issued by the legitimate rotation is dead too, and so is its access token
    status, problem = await _refresh(client, first["refreshToken"])
    assert (status, problem["code"]) == (401, "session_revoked")
    me = await client.get("/api/v1/me", headers=bearer(first["accessToken"]))
    assert (me.status_code, me.json()["code"]) == (401, "token_revoked")


async def test_concurrent_use_of_one_refresh_token_lets_exactly_one_win(client: AppClient) -> None:
    account = await register(client)
    results = await asyncio.gather(*(_refresh(client, account.refresh_token) for _ in range(10)))
    statuses = sorted(status for status, _ in results)
    assert statuses == [200] + [401] * 9
    assert {body["code"] for status, body in results if status == 401} == {"refresh_token_reused"}
    winner = next(body for status, body in results if status == 200)
    status, problem = await _refresh(client, winner["refreshToken"])
    assert (status, problem["code"]) == (401, "session_revoked")
    async with client.runtime.db.connection() as conn:
        reason = await conn.fetchval(
            "SELECT revoke_reason FROM refresh_families WHERE user_id = $1", account.user_id
        )
    assert reason == "refresh_token_reused"


async def test_other_sessions_survive_a_reuse_in_one(client: AppClient) -> None:
    account = await register(client)
    other = await login(client, account.email)
    await _refresh(client, account.refresh_token)
    await _refresh(client, account.refresh_token)
    assert (await client.get("/api/v1/me", headers=other.headers)).status_code == 200
    assert (await _refresh(client, other.refresh_token))[0] == 200


@pytest.mark.parametrize("token", ["", "garbage", "x" * 43])
async def test_unknown_refresh_tokens_are_refused(client: AppClient, token: str) -> None:
    response = await client.post("/api/v1/auth/refresh", json={"refreshToken": token})
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_refresh_token"


async def test_an_expired_refresh_token_is_refused(client: AppClient) -> None:
    account = await register(client)
    async with client.runtime.db.transaction() as conn:
        await conn.execute(
            "UPDATE refresh_tokens SET expires_at = now() - interval '1 second' "
            "WHERE family_id IN (SELECT id FROM refresh_families WHERE user_id = $1)",
            account.user_id,
        )
    status, problem = await _refresh(client, account.refresh_token)
    assert (status, problem["code"]) == (401, "session_revoked")


async def test_logout_ends_this_session_at_once(client: AppClient) -> None:
    account = await register(client)
    other = await login(client, account.email)
    response = await client.post("/api/v1/auth/logout", headers=account.headers)
    assert response.status_code == 204
    me = await client.get("/api/v1/me", headers=account.headers)
    assert (me.status_code, me.json()["code"]) == (401, "token_revoked")
    assert (await _refresh(client, account.refresh_token))[1]["code"] == "session_revoked"
    assert (await client.get("/api/v1/me", headers=other.headers)).status_code == 200


async def test_logout_everywhere_ends_every_session_at_once(client: AppClient) -> None:
    account = await register(client)
    other = await login(client, account.email)
    assert (await client.post("/api/v1/auth/logout-all", headers=other.headers)).status_code == 204
    for session in (account, other):
        me = await client.get("/api/v1/me", headers=session.headers)
        assert (me.status_code, me.json()["code"]) == (401, "token_revoked")
        assert (await _refresh(client, session.refresh_token))[0] == 401
    fresh = await login(client, account.email)
    assert (await client.get("/api/v1/me", headers=fresh.headers)).status_code == 200


def _forge(claims: dict, key: str, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, key, algorithm=algorithm)


def _claims(account_id: uuid.UUID, **changes: object) -> dict:
    now = time.time()
    claims = {"iss": "citadel", "sub": str(account_id), "sid": str(uuid.uuid4()), "typ": "access",
              "iat": now, "exp": int(now) + 600}  # fmt: skip
    claims.update(changes)
    return claims


def _unsigned(claims: dict) -> str:
    def part(value: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
async def test_bad_access_tokens_are_refused(client: AppClient) -> None:
    account = await register(client)
    secret = client.runtime.settings.jwt_secret.reveal()
    header, payload, signature = account.access_token.split(".")
    tampered_payload = (
        base64.urlsafe_b64encode(
            json.dumps(
                {**json.loads(base64.urlsafe_b64decode(payload + "==")), "sub": str(uuid.uuid4())}
            ).encode()
        )
        .rstrip(b"=")
        .decode()
    )
    cases = {
        "expired": (
            _forge(_claims(account.user_id, iat=time.time() - 7200, exp=int(time.time()) - 3600), secret),
            "token_expired",
        ),
        "tampered signature": (
            f"{header}.{payload}.{signature[:-2]}{'BA' if signature[-2:] == 'AA' else 'AA'}",
            "invalid_token",
        ),
        "tampered claims": (f"{header}.{tampered_payload}.{signature}", "invalid_token"),
        "alg none": (_unsigned(_claims(account.user_id)), "invalid_token"),
        "other algorithm": (_forge(_claims(account.user_id), secret, "HS512"), "invalid_token"),
        "other key": (
            _forge(_claims(account.user_id), "another-secret-0123456789abcdef0123"),
            "invalid_token",
        ),
        "refresh token as access": (account.refresh_token, "invalid_token"),
        "wrong kind": (_forge(_claims(account.user_id, typ="refresh"), secret), "invalid_token"),
        "no kind": (
            _forge({k: v for k, v in _claims(account.user_id).items() if k != "typ"}, secret),
            "invalid_token",
        ),
        "other issuer": (_forge(_claims(account.user_id, iss="elsewhere"), secret), "invalid_token"),
        "not a uuid": (_forge(_claims(account.user_id, sub="42"), secret), "invalid_token"),
        "unknown user": (_forge(_claims(uuid.uuid4()), secret), "invalid_token"),
    }
    for name, (token, code) in cases.items():
        response = await client.get("/api/v1/me", headers=bearer(token))
        assert response.status_code == 401, name
        assert response.json()["code"] == code, name
        assert response.headers["www-authenticate"] == 'Bearer realm="citadel"', name


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer   ", "token abc"])
async def test_malformed_authorization_headers_are_refused(client: AppClient, header: str) -> None:
    response = await client.get("/api/v1/me", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"


async def test_no_credentials_at_all(client: AppClient) -> None:
    response = await client.get("/api/v1/me")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


async def test_tokens_issued_just_after_a_revocation_are_valid(client: AppClient) -> None:
    account = await register(client)
    await client.post("/api/v1/auth/logout-all", headers=account.headers)
    fresh = await login(client, account.email, PASSWORD)
    codec = TokenCodec(client.runtime.settings.jwt_secret.reveal(), 3600)
    assert codec.verify(fresh.access_token).user_id == account.user_id
    assert (await client.get("/api/v1/me", headers=fresh.headers)).status_code == 200
