"""Vendors' lifecycle (apply, approve, reject, suspend, reinstate), profiles, and API keys."""

import hashlib

from tests.fixtures.app import AppClient
from tests.fixtures.catalog import create_seller, product_body, unique
from tests.fixtures.factories import create_account
from tests.fixtures.vendors import bulk, issue_key, key_headers


async def test_apply_approve_sell(client: AppClient) -> None:
    admin = await create_account(client, "admin")
    user = await create_account(client)
    name = unique("Acme Tools")
    applied = await client.post(
        "/api/v1/vendors", json={"name": name, "contactEmail": "sales@acme.test"}, headers=user.headers
    )
    assert applied.status_code == 201, applied.text
    vendor = applied.json()
    assert (vendor["status"], vendor["commissionRatePpm"]) == ("pending", 150_000)
    again = await client.post("/api/v1/vendors", json={"name": unique("Other")}, headers=user.headers)
    assert (again.status_code, again.json()["code"]) == (409, "vendor_exists")
    # not yet a vendor: its own application is readable, products are not writable
    mine = await client.get("/api/v1/vendor", headers=user.headers)
    assert mine.json()["status"] == "pending"
    early = await client.post("/api/v1/products", json=product_body(), headers=user.headers)
    assert (early.status_code, early.json()["code"]) == (403, "role_required")
    refused = await client.post(f"/api/v1/vendors/{vendor['id']}/approve", json={}, headers=user.headers)
    assert (refused.status_code, refused.json()["code"]) == (403, "role_required")
    listed = await client.get("/api/v1/vendors?status=pending&limit=100", headers=admin.headers)
    assert vendor["id"] in {v["id"] for v in listed.json()["items"]}
    approved = await client.post(
        f"/api/v1/vendors/{vendor['id']}/approve", json={"commissionRatePpm": 120_000}, headers=admin.headers
    )
    assert approved.status_code == 200, approved.text
    assert (approved.json()["status"], approved.json()["commissionRatePpm"]) == ("active", 120_000)
    # the same token now carries the vendor role (role comes from the principal cache, not the token)
    created = await client.post("/api/v1/products", json=product_body(), headers=user.headers)
    assert created.status_code == 201, created.text
    twice = await client.post(f"/api/v1/vendors/{vendor['id']}/approve", json={}, headers=admin.headers)
    assert (twice.status_code, twice.json()["code"]) == (409, "invalid_transition")
    suspended = await client.post(
        f"/api/v1/vendors/{vendor['id']}/suspend", json={"reason": "Chargebacks"}, headers=admin.headers
    )
    assert (suspended.json()["status"], suspended.json()["statusReason"]) == ("suspended", "Chargebacks")
    blocked = await client.post("/api/v1/products", json=product_body(), headers=user.headers)
    assert (blocked.status_code, blocked.json()["code"]) == (403, "vendor_not_active")
    back = await client.post(f"/api/v1/vendors/{vendor['id']}/reinstate", json={}, headers=admin.headers)
    assert back.json()["status"] == "active" and back.json()["commissionRatePpm"] == 120_000


async def test_rejection_and_bad_input(client: AppClient) -> None:
    admin = await create_account(client, "admin")
    user = await create_account(client)
    empty = await client.post("/api/v1/vendors", json={"name": ""}, headers=user.headers)
    assert (empty.status_code, empty.json()["code"]) == (422, "validation_failed")
    unknown = await client.post("/api/v1/vendors", json={"name": "X", "owner": "me"}, headers=user.headers)
    assert unknown.status_code == 422
    vendor = (
        await client.post("/api/v1/vendors", json={"name": unique("Nope")}, headers=user.headers)
    ).json()
    rejected = await client.post(
        f"/api/v1/vendors/{vendor['id']}/reject", json={"reason": "Incomplete"}, headers=admin.headers
    )
    assert rejected.json()["status"] == "rejected"
    suspend = await client.post(f"/api/v1/vendors/{vendor['id']}/suspend", json={}, headers=admin.headers)
    assert (suspend.status_code, suspend.json()["code"]) == (409, "invalid_transition")
    rate = await client.patch(
        f"/api/v1/vendors/{vendor['id']}", json={"commissionRatePpm": 2_000_000}, headers=admin.headers
    )
    assert rate.status_code == 422
    missing = await client.post(
        "/api/v1/vendors/00000000-0000-0000-0000-000000000000/approve", json={}, headers=admin.headers
    )
    assert (missing.status_code, missing.json()["code"]) == (404, "vendor_not_found")


async def test_profile_and_settings(client: AppClient) -> None:
    seller = await create_seller(client)
    changed = await client.patch(
        "/api/v1/vendor",
        json={
            "description": "Hand tools",
            "settings": {"lowStockAlerts": False, "handlingDays": 3},
            "payoutMethod": "paypal",
            "payoutAccount": "payouts@acme.test",
        },
        headers=seller.headers,
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert body["settings"]["handlingDays"] == 3 and body["settings"]["lowStockAlerts"] is False
    assert body["payoutAccount"] == "•••• test"  # never shown whole
    bad = await client.patch(
        "/api/v1/vendor", json={"settings": {"handlingDays": 99}}, headers=seller.headers
    )
    assert bad.status_code == 422
    stranger = await create_account(client)
    none = await client.get("/api/v1/vendor", headers=stranger.headers)
    assert (none.status_code, none.json()["code"]) == (404, "vendor_not_found")


async def test_api_keys_are_scoped_hashed_and_revocable(client: AppClient) -> None:
    seller = await create_seller(client)
    issued = await issue_key(client, seller, "prices:write", "products:read")
    secret = issued["secret"]
    assert secret.startswith("cvk_") and issued["key"]["prefix"] in secret
    async with client.runtime.db.connection() as conn:
        stored = await conn.fetchrow(
            "SELECT secret_hash FROM vendor_api_keys WHERE id = $1", issued["key"]["id"]
        )
    assert stored["secret_hash"] == hashlib.sha256(secret.encode()).digest()
    listed = (await client.get("/api/v1/vendor/api-keys", headers=seller.headers)).json()["items"]
    assert [k["id"] for k in listed] == [issued["key"]["id"]] and "secret" not in listed[0]
    headers = key_headers(issued)
    ok = await bulk(client, headers, "prices", [{"sku": "NOPE-1", "priceAmount": 100}])
    assert ok.status_code == 200 and ok.json()["summary"]["errors"] == 1
    assert (await client.get("/api/v1/vendor/products", headers=headers)).status_code == 200
    no_scope = await bulk(client, headers, "stock", [{"sku": "A", "warehouse": "W", "onHand": 1}])
    assert (no_scope.status_code, no_scope.json()["code"]) == (403, "scope_required")
    for method, path in (
        ("GET", "/api/v1/vendor/api-keys"),
        ("GET", "/api/v1/me"),
        ("GET", "/api/v1/cart"),
        ("GET", "/api/v1/orders"),
    ):
        refused = await client.request(method, path, headers=headers)
        assert (refused.status_code, refused.json()["code"]) == (403, "scope_required"), path
    bad_scope = await client.post(
        "/api/v1/vendor/api-keys", json={"name": "x", "scopes": ["admin:all"]}, headers=seller.headers
    )
    assert bad_scope.status_code == 422
    minted_by_key = await client.post(
        "/api/v1/vendor/api-keys", json={"name": "x", "scopes": ["prices:write"]}, headers=headers
    )
    assert minted_by_key.status_code == 403
    revoked = await client.delete(f"/api/v1/vendor/api-keys/{issued['key']['id']}", headers=seller.headers)
    assert revoked.json()["revokedAt"]
    gone = await bulk(client, headers, "prices", [{"sku": "NOPE-1", "priceAmount": 100}])
    assert (gone.status_code, gone.json()["code"]) == (401, "invalid_api_key")
    forged = await bulk(client, {"Authorization": "Bearer cvk_abcd_forged"}, "prices", [])
    assert (forged.status_code, forged.json()["code"]) == (401, "invalid_api_key")
    other = await create_seller(client)
    theirs = await client.delete(f"/api/v1/vendor/api-keys/{issued['key']['id']}", headers=other.headers)
    assert (theirs.status_code, theirs.json()["code"]) == (404, "api_key_not_found")


async def test_a_suspended_vendors_keys_pause(client: AppClient) -> None:
    admin = await create_account(client, "admin")
    seller = await create_seller(client)
    headers = key_headers(await issue_key(client, seller, "prices:write"))
    await client.post(f"/api/v1/vendors/{seller.vendor_id}/suspend", json={}, headers=admin.headers)
    paused = await bulk(client, headers, "prices", [{"sku": "A", "priceAmount": 1}])
    assert (paused.status_code, paused.json()["code"]) == (403, "vendor_not_active")
    await client.post(f"/api/v1/vendors/{seller.vendor_id}/reinstate", json={}, headers=admin.headers)
    assert (await bulk(client, headers, "prices", [{"sku": "A", "priceAmount": 1}])).status_code == 200
