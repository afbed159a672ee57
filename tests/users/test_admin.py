"""User administration: only admins; search, filters and keyset pages; role and status changes."""

import asyncio
import itertools

import pytest

from tests.fixtures.app import AppClient
from tests.fixtures.factories import Account, create_account, register, unique_email

ADMIN_ROUTES = [
    ("GET", "/api/v1/users"),
    ("GET", "/api/v1/users/{id}"),
    ("PATCH", "/api/v1/users/{id}/role"),
    ("POST", "/api/v1/users/{id}/deactivate"),
    ("POST", "/api/v1/users/{id}/reactivate"),
]


@pytest.fixture(scope="module")
async def admin(client: AppClient) -> Account:
    return await create_account(client, "admin")


@pytest.mark.parametrize("role", ["customer", "vendor"])
async def test_only_admins_reach_admin_routes(client: AppClient, role: str) -> None:
    caller = await create_account(client, role)  # type: ignore[arg-type]
    target = await register(client)
    for method, path in ADMIN_ROUTES:
        response = await client.request(
            method,
            path.format(id=target.user_id),
            json={"role": "admin"} if "role" in path else None,
            headers=caller.headers,
        )
        assert response.status_code == 403, (method, path)
        assert response.json()["code"] == "role_required"
    me = await client.get("/api/v1/me", headers=target.headers)
    assert me.json()["role"] == "customer"
    assert me.json()["status"] == "active"


async def test_admin_routes_need_a_token_at_all(client: AppClient) -> None:
    for method, path in ADMIN_ROUTES:
        response = await client.request(method, path.format(id="00000000-0000-0000-0000-000000000000"))
        assert response.status_code == 401


async def test_search_filter_and_page_through_users(client: AppClient, admin: Account) -> None:
    tag = unique_email("pager").split("@")[0]
    emails = [f"{tag}-{n}@example.test" for n in range(7)]
    for email in emails:
        await register(client, email=email, name=f"Pager {tag}")
    seen: list[str] = []
    cursor = None
    while True:
        params = {"q": tag, "limit": 3, **({"cursor": cursor} if cursor else {})}
        response = await client.get("/api/v1/users", params=params, headers=admin.headers)
        assert response.status_code == 200
        page = response.json()
        seen += [item["email"] for item in page["items"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert seen == list(reversed(emails))  # newest first
    by_email = await client.get(
        "/api/v1/users", params={"q": tag, "sort": "email", "limit": 100}, headers=admin.headers
    )
    assert [u["email"] for u in by_email.json()["items"]] == sorted(emails)


async def test_filters_by_role_and_status(client: AppClient, admin: Account) -> None:
    vendor = await create_account(client, "vendor")
    response = await client.get(
        "/api/v1/users", params={"role": "vendor", "limit": 100}, headers=admin.headers
    )
    assert response.status_code == 200
    items = response.json()["items"]
    assert {u["role"] for u in items} == {"vendor"}
    assert str(vendor.user_id) in {u["id"] for u in items}
    bad = await client.get("/api/v1/users", params={"role": "owner"}, headers=admin.headers)
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "role"
    assert bad.json()["errors"][0]["source"] == "query"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 101}, "limit"),
        ({"limit": 0}, "limit"),
        ({"sort": "random"}, "sort"),
        ({"cursor": "forged.cursor"}, "cursor"),
    ],
)
async def test_list_parameters_are_validated(
    client: AppClient, admin: Account, params: dict, field: str
) -> None:
    response = await client.get("/api/v1/users", params=params, headers=admin.headers)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == field


async def test_a_cursor_only_continues_its_own_list(client: AppClient, admin: Account) -> None:
    for _ in range(3):
        await register(client)
    page = (await client.get("/api/v1/users", params={"limit": 1}, headers=admin.headers)).json()
    other = await client.get(
        "/api/v1/users",
        params={"limit": 1, "sort": "email", "cursor": page["nextCursor"]},
        headers=admin.headers,
    )
    assert other.status_code == 422
    assert other.json()["errors"][0]["code"] == "invalid_cursor"
    tampered = page["nextCursor"][:-3] + ("AAA" if not page["nextCursor"].endswith("AAA") else "BBB")
    refused = await client.get(
        "/api/v1/users", params={"limit": 1, "cursor": tampered}, headers=admin.headers
    )
    assert refused.json()["errors"][0]["code"] == "invalid_cursor"


async def test_search_text_is_a_value_not_sql(client: AppClient, admin: Account) -> None:
    for q in ["%", "_", "' OR 1=1 --", "\\"]:
        response = await client.get("/api/v1/users", params={"q": q}, headers=admin.headers)
        assert response.status_code == 200
        assert all(q.lower() in (u["email"] + " " + u["name"].lower()) for u in response.json()["items"])


async def test_change_role_takes_effect_on_the_next_request(client: AppClient, admin: Account) -> None:
    account = await register(client)
    assert (await client.get("/api/v1/users", headers=account.headers)).status_code == 403
    response = await client.patch(
        f"/api/v1/users/{account.user_id}/role", json={"role": "admin"}, headers=admin.headers
    )
    assert response.status_code == 200
    assert response.json()["role"] == "admin"
    assert (await client.get("/api/v1/users", headers=account.headers)).status_code == 200
    back = await client.patch(
        f"/api/v1/users/{account.user_id}/role", json={"role": "customer"}, headers=admin.headers
    )
    assert back.json()["role"] == "customer"
    assert (await client.get("/api/v1/users", headers=account.headers)).status_code == 403


async def test_deactivation_ends_sessions_at_once_and_reactivation_needs_a_new_login(
    client: AppClient, admin: Account
) -> None:
    account = await register(client)
    response = await client.post(f"/api/v1/users/{account.user_id}/deactivate", headers=admin.headers)
    assert (response.status_code, response.json()["status"]) == (200, "deactivated")
    me = await client.get("/api/v1/me", headers=account.headers)
    assert (me.status_code, me.json()["code"]) == (401, "token_revoked")
    refresh = await client.post("/api/v1/auth/refresh", json={"refreshToken": account.refresh_token})
    assert refresh.status_code == 401
    again = await client.post(f"/api/v1/users/{account.user_id}/reactivate", headers=admin.headers)
    assert again.json()["status"] == "active"
    assert (await client.get("/api/v1/me", headers=account.headers)).status_code == 401
    login = await client.post(
        "/api/v1/auth/login", json={"email": account.email, "password": account.password}
    )
    assert login.status_code == 200


async def test_admins_cannot_change_themselves(client: AppClient, admin: Account) -> None:
    for response in (
        await client.patch(
            f"/api/v1/users/{admin.user_id}/role", json={"role": "customer"}, headers=admin.headers
        ),
        await client.post(f"/api/v1/users/{admin.user_id}/deactivate", headers=admin.headers),
    ):
        assert (response.status_code, response.json()["code"]) == (409, "cannot_change_own_account")


async def test_unknown_users_and_bad_roles(client: AppClient, admin: Account) -> None:
    missing = "00000000-0000-7000-8000-000000000000"
    assert (await client.get(f"/api/v1/users/{missing}", headers=admin.headers)).json()[
        "code"
    ] == "user_not_found"
    account = await register(client)
    bad = await client.patch(
        f"/api/v1/users/{account.user_id}/role", json={"role": "root"}, headers=admin.headers
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "role"


async def test_concurrent_role_changes_serialise(client: AppClient, admin: Account) -> None:
    account = await register(client)
    roles = ["vendor", "admin", "customer", "vendor", "admin"]
    responses = await asyncio.gather(
        *(
            client.patch(f"/api/v1/users/{account.user_id}/role", json={"role": r}, headers=admin.headers)
            for r in roles
        )
    )
    assert all(r.status_code == 200 for r in responses)
    final = (await client.get(f"/api/v1/users/{account.user_id}", headers=admin.headers)).json()["role"]
    async with client.runtime.db.connection() as conn:
        changes = await conn.fetch(
            "SELECT data FROM outbox WHERE event_type = 'users.role_changed' AND aggregate_id = $1"
            " ORDER BY aggregate_sequence",
            str(account.user_id),
        )
    # every recorded change starts where the previous one ended: no lost update
    chain = [(c["data"]["oldRole"], c["data"]["newRole"]) for c in changes]
    for (_, new), (old, _) in itertools.pairwise(chain):
        assert new == old
    assert chain[-1][1] == final
