"""Forgot / reset password (through the outbox and a consumer), change password, e-mail verification."""

import asyncio
import re
import uuid

from citadel.worker import Worker
from tests.fixtures.app import AppClient, eventually
from tests.fixtures.factories import PASSWORD, bearer, fetch_notifications, login, register, unique_email

NEW_PASSWORD = "a brand new one 7"


async def _mail(client: AppClient, user_id: uuid.UUID, template: str, count: int = 1) -> list:
    async def check() -> list:
        async with client.runtime.db.connection() as conn:
            found = [n for n in await fetch_notifications(conn, user_id) if n.template == template]
        return found if len(found) >= count else []

    return await eventually(check)


def _token(body: str) -> str:
    match = re.search(r"token=([A-Za-z0-9_\-]+)", body)
    assert match, body
    return match.group(1)


async def test_forgot_then_reset_password(client: AppClient, worker: Worker) -> None:
    account = await register(client)
    other_session = await login(client, account.email)
    response = await client.post("/api/v1/auth/password/forgot", json={"email": account.email.upper()})
    assert response.status_code == 202
    (mail,) = await _mail(client, account.user_id, "password_reset")
    assert mail.recipient == account.email
    assert "/reset-password?token=" in mail.body
    token = _token(mail.body)

    reset = await client.post(
        "/api/v1/auth/password/reset", json={"token": token, "newPassword": NEW_PASSWORD}
    )
    assert reset.status_code == 204
    # every earlier session has ended
    for session in (account, other_session):
        me = await client.get("/api/v1/me", headers=session.headers)
        assert me.json()["code"] == "token_revoked"
        refresh = await client.post("/api/v1/auth/refresh", json={"refreshToken": session.refresh_token})
        assert refresh.status_code == 401
    assert (
        await client.post("/api/v1/auth/login", json={"email": account.email, "password": PASSWORD})
    ).status_code == 401
    await login(client, account.email, NEW_PASSWORD)
    # single use
    again = await client.post(
        "/api/v1/auth/password/reset", json={"token": token, "newPassword": "another one 8"}
    )
    assert again.status_code == 422
    assert again.json()["code"] == "invalid_token"
    assert again.json()["errors"][0]["field"] == "token"


async def test_reset_link_is_refused_after_an_hour(client: AppClient, worker: Worker) -> None:
    account = await register(client)
    await client.post("/api/v1/auth/password/forgot", json={"email": account.email})
    (mail,) = await _mail(client, account.user_id, "password_reset")
    async with client.runtime.db.transaction() as conn:
        await conn.execute(
            "UPDATE account_tokens SET expires_at = now() - interval '1 second' WHERE user_id = $1",
            account.user_id,
        )
    response = await client.post(
        "/api/v1/auth/password/reset", json={"token": _token(mail.body), "newPassword": NEW_PASSWORD}
    )
    assert response.json()["code"] == "invalid_token"


async def test_a_newer_reset_link_replaces_the_older(client: AppClient, worker: Worker) -> None:
    account = await register(client)
    await client.post("/api/v1/auth/password/forgot", json={"email": account.email})
    await _mail(client, account.user_id, "password_reset")
    await client.post("/api/v1/auth/password/forgot", json={"email": account.email})
    mails = await _mail(client, account.user_id, "password_reset", count=2)
    newest, oldest = mails[0], mails[1]
    old = await client.post(
        "/api/v1/auth/password/reset", json={"token": _token(oldest.body), "newPassword": NEW_PASSWORD}
    )
    assert old.json()["code"] == "invalid_token"
    new = await client.post(
        "/api/v1/auth/password/reset", json={"token": _token(newest.body), "newPassword": NEW_PASSWORD}
    )
    assert new.status_code == 204


async def test_concurrent_use_of_one_reset_link_succeeds_once(client: AppClient, worker: Worker) -> None:
    account = await register(client)
    await client.post("/api/v1/auth/password/forgot", json={"email": account.email})
    (mail,) = await _mail(client, account.user_id, "password_reset")
    token = _token(mail.body)
    responses = await asyncio.gather(
        *(
            client.post(
                "/api/v1/auth/password/reset", json={"token": token, "newPassword": f"parallel pw {i}"}
            )
            for i in range(6)
        )
    )
    assert sorted(r.status_code for r in responses) == [204] + [422] * 5


async def test_forgot_password_answers_the_same_for_unknown_addresses(client: AppClient) -> None:
    response = await client.post("/api/v1/auth/password/forgot", json={"email": unique_email("nobody")})
    assert response.status_code == 202
    bad = await client.post("/api/v1/auth/password/forgot", json={"email": "nope"})
    assert (bad.status_code, bad.json()["code"]) == (422, "validation_failed")


async def test_reset_checks_the_password_policy_before_using_the_link(
    client: AppClient, worker: Worker
) -> None:
    account = await register(client)
    await client.post("/api/v1/auth/password/forgot", json={"email": account.email})
    (mail,) = await _mail(client, account.user_id, "password_reset")
    weak = await client.post(
        "/api/v1/auth/password/reset", json={"token": _token(mail.body), "newPassword": "short"}
    )
    assert weak.status_code == 422
    assert {e["field"] for e in weak.json()["errors"]} == {"newPassword"}
    ok = await client.post(
        "/api/v1/auth/password/reset", json={"token": _token(mail.body), "newPassword": NEW_PASSWORD}
    )
    assert ok.status_code == 204


async def test_a_reset_unlocks_a_locked_account(client: AppClient, worker: Worker) -> None:
    account = await register(client)
    for _ in range(5):
        await client.post("/api/v1/auth/login", json={"email": account.email, "password": "wrong-one-1"})
    await client.post("/api/v1/auth/password/forgot", json={"email": account.email})
    (mail,) = await _mail(client, account.user_id, "password_reset")
    await client.post(
        "/api/v1/auth/password/reset", json={"token": _token(mail.body), "newPassword": NEW_PASSWORD}
    )
    await login(client, account.email, NEW_PASSWORD)


async def test_change_password_keeps_this_session_and_ends_the_others(client: AppClient) -> None:
    account = await register(client)
    other = await login(client, account.email)
    response = await client.post(
        "/api/v1/me/password",
        json={"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD},
        headers=account.headers,
    )
    assert response.status_code == 200
    fresh = response.json()
    assert (await client.get("/api/v1/me", headers=bearer(fresh["accessToken"]))).status_code == 200
    for session in (account, other):
        assert (await client.get("/api/v1/me", headers=session.headers)).json()["code"] == "token_revoked"
    refreshed = await client.post("/api/v1/auth/refresh", json={"refreshToken": fresh["refreshToken"]})
    assert refreshed.status_code == 200
    await login(client, account.email, NEW_PASSWORD)


async def test_change_password_needs_the_current_one(client: AppClient) -> None:
    account = await register(client)
    response = await client.post(
        "/api/v1/me/password",
        json={"currentPassword": "not-it-123", "newPassword": NEW_PASSWORD},
        headers=account.headers,
    )
    assert response.status_code == 422
    assert response.json()["errors"][0] == {
        "field": "currentPassword",
        "message": "Wrong password",
        "code": "wrong_current_password",
        "source": "body",
    }
    assert (await client.get("/api/v1/me", headers=account.headers)).status_code == 200


async def test_verify_email_from_the_registration_mail(client: AppClient, worker: Worker) -> None:
    account = await register(client)
    (mail,) = await _mail(client, account.user_id, "email_verification")
    assert "/verify-email?token=" in mail.body
    response = await client.post("/api/v1/auth/email/verify", json={"token": _token(mail.body)})
    assert response.status_code == 200
    assert response.json()["emailVerified"] is True
    me = await client.get("/api/v1/me", headers=account.headers)
    assert me.json()["emailVerified"] is True
    again = await client.post("/api/v1/auth/email/verify", json={"token": _token(mail.body)})
    assert again.json()["code"] == "invalid_token"
    resend = await client.post("/api/v1/auth/email/resend", headers=account.headers)
    assert (resend.status_code, resend.json()["code"]) == (409, "email_already_verified")


async def test_resend_verification_is_throttled(client: AppClient, worker: Worker) -> None:
    account = await register(client)
    response = await client.post("/api/v1/auth/email/resend", headers=account.headers)
    assert response.status_code == 429
    assert response.json()["code"] == "rate_limited"
    assert 1 <= int(response.headers["retry-after"]) <= 60
    async with client.runtime.db.transaction() as conn:
        await conn.execute(
            "UPDATE account_tokens SET created_at = now() - interval '2 minutes' WHERE user_id = $1",
            account.user_id,
        )
    assert (await client.post("/api/v1/auth/email/resend", headers=account.headers)).status_code == 202
    mails = await _mail(client, account.user_id, "email_verification", count=2)
    first_link = _token(mails[1].body)
    stale = await client.post("/api/v1/auth/email/verify", json={"token": first_link})
    assert stale.json()["code"] == "invalid_token"
    ok = await client.post("/api/v1/auth/email/verify", json={"token": _token(mails[0].body)})
    assert ok.status_code == 200
