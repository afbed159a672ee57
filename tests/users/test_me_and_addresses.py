"""The caller's profile and addresses: CRUD, one default per kind, limits, and no access to others'."""

import asyncio
import uuid

import pytest

from tests.fixtures.app import AppClient
from tests.fixtures.factories import Account, register

HOME = {
    "kind": "shipping",
    "fullName": "Ann Lee",
    "line1": "1 Main Street",
    "city": "Springfield",
    "country": "us",
    "postalCode": "12345",
}


async def _add(client: AppClient, account: Account, **changes: object) -> dict:
    response = await client.post("/api/v1/me/addresses", json={**HOME, **changes}, headers=account.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def test_profile_read_and_update(client: AppClient) -> None:
    account = await register(client, name="Old Name")
    response = await client.patch("/api/v1/me", json={"name": "  New   Name "}, headers=account.headers)
    assert response.status_code == 200
    assert response.json()["name"] == "New Name"
    unchanged = await client.patch("/api/v1/me", json={}, headers=account.headers)
    assert unchanged.json()["name"] == "New Name"
    me = await client.get("/api/v1/me", headers=account.headers)
    assert me.json()["name"] == "New Name"
    assert me.headers["cache-control"] == "no-store"


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"name": ""}, "name", "invalid_length"),
        ({"name": "x" * 101}, "name", "invalid_length"),
        ({"name": 5}, "name", "wrong_type"),
        ({"email": "new@example.test"}, "email", "unknown_field"),
        ({"role": "admin"}, "role", "unknown_field"),
    ],
)
async def test_profile_update_rejects_bad_fields(
    client: AppClient, body: dict, field: str, code: str
) -> None:
    account = await register(client)
    response = await client.patch("/api/v1/me", json=body, headers=account.headers)
    assert response.status_code == 422
    assert [(e["field"], e["code"]) for e in response.json()["errors"]] == [(field, code)]
    me = await client.get("/api/v1/me", headers=account.headers)
    assert me.json()["role"] == "customer"


async def test_address_lifecycle(client: AppClient) -> None:
    account = await register(client)
    created = await _add(client, account, isDefault=True)
    assert created["country"] == "US"
    assert created["isDefault"] is True
    assert created["line2"] is None
    fetched = await client.get(f"/api/v1/me/addresses/{created['id']}", headers=account.headers)
    assert fetched.json() == created
    patched = await client.patch(
        f"/api/v1/me/addresses/{created['id']}",
        json={"line2": "Apt 4", "city": " Shelbyville "},
        headers=account.headers,
    )
    assert patched.status_code == 200
    assert (patched.json()["line2"], patched.json()["city"], patched.json()["line1"]) == (
        "Apt 4",
        "Shelbyville",
        "1 Main Street",
    )
    cleared = await client.patch(
        f"/api/v1/me/addresses/{created['id']}", json={"line2": None}, headers=account.headers
    )
    assert cleared.json()["line2"] is None
    listing = await client.get("/api/v1/me/addresses", headers=account.headers)
    assert [a["id"] for a in listing.json()["items"]] == [created["id"]]
    deleted = await client.delete(f"/api/v1/me/addresses/{created['id']}", headers=account.headers)
    assert deleted.status_code == 204
    gone = await client.get(f"/api/v1/me/addresses/{created['id']}", headers=account.headers)
    assert (gone.status_code, gone.json()["code"]) == (404, "address_not_found")


async def test_one_default_address_per_kind(client: AppClient) -> None:
    account = await register(client)
    first = await _add(client, account, isDefault=True)
    billing = await _add(client, account, kind="billing", isDefault=True)
    second = await _add(client, account, line1="2 Side Street", isDefault=True)
    items = {
        a["id"]: a
        for a in (await client.get("/api/v1/me/addresses", headers=account.headers)).json()["items"]
    }
    assert items[first["id"]]["isDefault"] is False
    assert items[second["id"]]["isDefault"] is True
    assert items[billing["id"]]["isDefault"] is True
    await client.patch(
        f"/api/v1/me/addresses/{first['id']}", json={"isDefault": True}, headers=account.headers
    )
    items = {
        a["id"]: a
        for a in (await client.get("/api/v1/me/addresses", headers=account.headers)).json()["items"]
    }
    assert (items[first["id"]]["isDefault"], items[second["id"]]["isDefault"]) == (True, False)


async def test_concurrent_defaults_leave_exactly_one(client: AppClient) -> None:
    account = await register(client)
    await asyncio.gather(*(_add(client, account, line1=f"{n} Race Road", isDefault=True) for n in range(8)))
    items = (await client.get("/api/v1/me/addresses", headers=account.headers)).json()["items"]
    assert len(items) == 8
    assert sum(a["isDefault"] for a in items) == 1


@pytest.mark.parametrize(
    ("changes", "errors"),
    [
        ({"country": "XX"}, [("country", "invalid_country")]),
        ({"country": "USA"}, [("country", "invalid_country")]),
        ({"kind": "home"}, [("kind", "invalid")]),
        ({"line1": "   "}, [("line1", "required")]),
        ({"postalCode": "1" * 21}, [("postalCode", "invalid_length")]),
        ({"fullName": None}, [("fullName", "wrong_type")]),
    ],
)
async def test_bad_addresses_are_refused(client: AppClient, changes: dict, errors: list) -> None:
    account = await register(client)
    response = await client.post("/api/v1/me/addresses", json={**HOME, **changes}, headers=account.headers)
    assert response.status_code == 422
    assert [(e["field"], e["code"]) for e in response.json()["errors"]] == errors
    assert (await client.get("/api/v1/me/addresses", headers=account.headers)).json()["items"] == []


async def test_missing_address_fields_are_all_listed(client: AppClient) -> None:
    account = await register(client)
    response = await client.post("/api/v1/me/addresses", json={"kind": "billing"}, headers=account.headers)
    assert response.status_code == 422
    assert {e["field"] for e in response.json()["errors"] if e["code"] == "required"} == {
        "fullName", "line1", "city", "country"
    }  # fmt: skip


async def test_address_limit(client: AppClient) -> None:
    account = await register(client)
    async with client.runtime.db.transaction() as conn:
        await conn.executemany(
            "INSERT INTO addresses (id, user_id, kind, full_name, line1, city, country) "
            "VALUES ($1, $2, 'shipping', 'A', 'B', 'C', 'US')",
            [(uuid.uuid4(), account.user_id) for _ in range(50)],
        )
    response = await client.post("/api/v1/me/addresses", json=HOME, headers=account.headers)
    assert (response.status_code, response.json()["code"]) == (422, "address_limit_reached")


async def test_another_users_address_is_not_found_for_every_verb(client: AppClient) -> None:
    owner = await register(client)
    intruder = await register(client)
    address = await _add(client, owner)
    path = f"/api/v1/me/addresses/{address['id']}"
    for response in (
        await client.get(path, headers=intruder.headers),
        await client.patch(path, json={"city": "Stolen"}, headers=intruder.headers),
        await client.delete(path, headers=intruder.headers),
    ):
        assert response.status_code == 404
        assert response.json()["code"] == "address_not_found"
    assert (await client.get("/api/v1/me/addresses", headers=intruder.headers)).json()["items"] == []
    mine = await client.get(path, headers=owner.headers)
    assert mine.json() == address


async def test_malformed_address_id_is_a_validation_error(client: AppClient) -> None:
    account = await register(client)
    response = await client.get("/api/v1/me/addresses/not-a-uuid", headers=account.headers)
    assert response.status_code == 404
