"""Registration and login: happy paths, the password policy, lockout, mass assignment."""

import asyncio

import pytest

from tests.fixtures.app import AppClient
from tests.fixtures.factories import PASSWORD, create_account, register, unique_email


async def test_register_returns_a_session_and_a_customer(client: AppClient) -> None:
    email = unique_email()
    response = await client.post(
        "/api/v1/auth/register",
        json={"email": f"  {email.upper()} ", "password": PASSWORD, "name": "  Ann   Lee "},
    )
    assert response.status_code == 201
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["user"]["email"] == email
    assert body["user"]["name"] == "Ann Lee"
    assert body["user"]["role"] == "customer"
    assert body["user"]["emailVerified"] is False
    assert body["tokenType"] == "Bearer"
    assert body["expiresIn"] == 3600
    assert 7 * 86400 - 5 <= body["refreshExpiresIn"] <= 7 * 86400
    me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {body['accessToken']}"})
    assert me.status_code == 200
    assert me.json()["id"] == body["user"]["id"]


async def test_register_twice_is_a_conflict(client: AppClient) -> None:
    account = await register(client)
    response = await client.post(
        "/api/v1/auth/register", json={"email": account.email, "password": PASSWORD, "name": "Again"}
    )
    assert response.status_code == 409
    problem = response.json()
    assert problem["code"] == "email_taken"
    assert problem["errors"] == [
        {"field": "email", "message": "Already registered", "code": "email_taken", "source": "body"}
    ]


async def test_concurrent_registrations_of_one_address_create_one_account(client: AppClient) -> None:
    email = unique_email()
    body = {"email": email, "password": PASSWORD, "name": "Racer"}
    responses = await asyncio.gather(*(client.post("/api/v1/auth/register", json=body) for _ in range(8)))
    assert sorted(r.status_code for r in responses) == [201] + [409] * 7


@pytest.mark.parametrize(
    ("password", "codes"),
    [
        ("short1", ["password_too_short"]),
        ("x" * 127 + "1" + "y", ["password_too_long"]),
        ("12345678", ["password_needs_letter"]),
        ("abcdefgh", ["password_needs_digit"]),
        ("abc\tdef12", ["password_not_printable"]),
        ("abc", ["password_too_short", "password_needs_digit"]),
    ],
)
async def test_password_policy_reports_every_failing_rule(
    client: AppClient, password: str, codes: list[str]
) -> None:
    response = await client.post(
        "/api/v1/auth/register", json={"email": unique_email(), "password": password, "name": "Pat"}
    )
    assert response.status_code == 422
    problem = response.json()
    assert problem["code"] == "validation_failed"
    assert [e["code"] for e in problem["errors"] if e["field"] == "password"] == codes


@pytest.mark.parametrize(
    "password", ["correct horse battery 1", "ünïcödé-päss-1", "!@#$%^&*()_+1a", "a1" * 64]
)
async def test_any_printable_password_within_the_policy_is_accepted(client: AppClient, password: str) -> None:
    account = await register(client, password=password)
    response = await client.post("/api/v1/auth/login", json={"email": account.email, "password": password})
    assert response.status_code == 200


async def test_register_reports_every_invalid_field_at_once(client: AppClient) -> None:
    response = await client.post(
        "/api/v1/auth/register", json={"email": "not-an-email", "password": "abc", "name": " "}
    )
    assert response.status_code == 422
    fields = {(e["field"], e["code"]) for e in response.json()["errors"]}
    assert fields == {
        ("email", "invalid_email"),
        ("name", "invalid_length"),
        ("password", "password_too_short"),
        ("password", "password_needs_digit"),
    }


async def test_a_role_in_the_register_body_is_refused_and_creates_nothing(
    client: AppClient, database_url: str
) -> None:
    email = unique_email("mass")
    response = await client.post(
        "/api/v1/auth/register",
        json={"email": email, "password": PASSWORD, "name": "Mallory", "role": "admin"},
    )
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"field": "role", "message": "Unknown field", "code": "unknown_field", "source": "body"}
    ]
    async with client.runtime.db.connection() as conn:
        assert await conn.fetchval("SELECT count(*) FROM users WHERE email = $1", email) == 0


async def test_login_with_the_right_password(client: AppClient) -> None:
    account = await register(client)
    response = await client.post(
        "/api/v1/auth/login", json={"email": account.email.upper(), "password": PASSWORD}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["user"]["id"] == str(account.user_id)
    assert body["accessToken"] and body["refreshToken"]


async def test_wrong_password_and_unknown_email_get_the_same_answer(client: AppClient) -> None:
    account = await register(client)
    wrong = await client.post("/api/v1/auth/login", json={"email": account.email, "password": "wrong-pass-1"})
    unknown = await client.post(
        "/api/v1/auth/login", json={"email": unique_email(), "password": "wrong-pass-1"}
    )
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "invalid_credentials"
        assert response.json()["detail"] == "Wrong e-mail address or password"


async def _fail_login(client: AppClient, email: str) -> int:
    response = await client.post("/api/v1/auth/login", json={"email": email, "password": "not-it-123"})
    return response.status_code


async def test_five_failures_in_the_window_lock_the_account(client: AppClient) -> None:
    account = await register(client)
    assert [await _fail_login(client, account.email) for _ in range(5)] == [401] * 5
    locked = await client.post("/api/v1/auth/login", json={"email": account.email, "password": PASSWORD})
    assert locked.status_code == 423
    assert locked.json()["code"] == "account_locked"
    assert 890 <= int(locked.headers["retry-after"]) <= 901


async def test_concurrent_failures_are_all_counted(client: AppClient) -> None:
    account = await register(client)
    statuses = await asyncio.gather(*(_fail_login(client, account.email) for _ in range(12)))
    assert set(statuses) <= {401, 423}
    assert statuses.count(401) >= 5
    locked = await client.post("/api/v1/auth/login", json={"email": account.email, "password": PASSWORD})
    assert locked.status_code == 423


async def test_unknown_addresses_lock_the_same_way(client: AppClient) -> None:
    email = unique_email("ghost")
    assert [await _fail_login(client, email) for _ in range(6)] == [401] * 5 + [423]


async def test_failures_outside_the_window_do_not_count_and_a_success_resets(client: AppClient) -> None:
    account = await register(client)
    async with client.runtime.db.transaction() as conn:
        await conn.execute(
            "INSERT INTO login_throttle (email, recent_failures) VALUES ($1, ARRAY["
            "now() - interval '31 minutes', now() - interval '40 minutes',"
            " now() - interval '50 minutes', now() - interval '59 minutes'])",
            account.email,
        )
    assert [await _fail_login(client, account.email) for _ in range(4)] == [401] * 4
    ok = await client.post("/api/v1/auth/login", json={"email": account.email, "password": PASSWORD})
    assert ok.status_code == 200
    assert [await _fail_login(client, account.email) for _ in range(4)] == [401] * 4
    assert (
        await client.post("/api/v1/auth/login", json={"email": account.email, "password": PASSWORD})
    ).status_code == 200


async def test_an_expired_lock_lets_the_user_in_again(client: AppClient) -> None:
    account = await register(client)
    for _ in range(5):
        await _fail_login(client, account.email)
    async with client.runtime.db.transaction() as conn:
        await conn.execute(
            "UPDATE login_throttle SET locked_until = now() - interval '1 second' WHERE email = $1",
            account.email,
        )
    response = await client.post("/api/v1/auth/login", json={"email": account.email, "password": PASSWORD})
    assert response.status_code == 200


async def test_a_deactivated_account_cannot_sign_in(client: AppClient) -> None:
    admin = await create_account(client, "admin")
    account = await register(client)
    response = await client.post(f"/api/v1/users/{account.user_id}/deactivate", headers=admin.headers)
    assert response.status_code == 200
    login = await client.post("/api/v1/auth/login", json={"email": account.email, "password": PASSWORD})
    assert login.status_code == 403
    assert login.json()["code"] == "account_deactivated"
    wrong = await client.post("/api/v1/auth/login", json={"email": account.email, "password": "nope-nope-1"})
    assert wrong.json()["code"] == "invalid_credentials"  # status is only told to the password holder
