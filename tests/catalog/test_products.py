"""Products and variants: who may write them, what a valid one is, and what a change announces."""

import uuid
from typing import Any

import asyncpg
import pytest

from citadel.kit.ids import uuid7
from tests.fixtures.app import AppClient
from tests.fixtures.catalog import Seller, create_product, create_seller, product_body, unique
from tests.fixtures.factories import Account, create_account, register


@pytest.fixture
async def seller(client: AppClient) -> Seller:
    return await create_seller(client)


async def _events(client: AppClient, product_id: str) -> list[tuple[str, dict[str, Any]]]:
    async with client.runtime.db.connection() as conn:
        rows = await conn.fetch(
            "SELECT event_type, data FROM outbox WHERE aggregate_id = $1 ORDER BY aggregate_sequence",
            product_id,
        )
    return [(row["event_type"], row["data"]) for row in rows]


async def test_a_product_with_variants_is_public_by_id_and_slug(client: AppClient, seller: Seller) -> None:
    created = await create_product(
        client,
        seller,
        name="Trail  Runner 2",
        brand="Kestrel",
        tags=["Running", "running", " Trail "],
        attributes={"material": "mesh", "drop_mm": 8, "waterproof": False},
        options=[{"name": "size", "values": ["42", "43"]}],
        images=[{"url": "https://img.example/a.jpg", "alt": "side"}],
        compareAtAmount=2999,
        variants=[
            {"sku": unique("TR-42"), "optionValues": {"size": "42"}},
            {"sku": unique("TR-43"), "optionValues": {"size": "43"}, "priceAdjustment": 150, "position": 1},
        ],
    )
    assert created["name"] == "Trail Runner 2"
    assert created["slug"].startswith("trail-runner-2")
    assert created["tags"] == ["running", "trail"]
    assert created["vendor"]["id"] == str(seller.vendor_id)
    assert [(v["name"], v["priceAmount"]) for v in created["variants"]] == [("42", 1999), ("43", 2149)]
    assert created["inStock"] is False
    by_id = await client.get(f"/api/v1/products/{created['id']}")
    by_slug = await client.get(f"/api/v1/products/{created['slug']}")
    assert by_id.status_code == by_slug.status_code == 200
    assert by_id.json() == by_slug.json()
    assert by_id.json()["attributes"] == {"material": "mesh", "drop_mm": 8, "waterproof": False}
    assert [e for e, _ in await _events(client, created["id"])] == ["catalog.product_created"]


async def test_a_page_lists_variants_by_position_then_id(client: AppClient, seller: Seller) -> None:
    product = await create_product(
        client, seller, options=[{"name": "size", "values": ["S", "M", "L"]}], sku=unique("ORD").upper()
    )
    path = f"/api/v1/products/{product['id']}"
    small, medium, large = (v["id"] for v in product["variants"])
    for variant, position in ((small, 7), (medium, 3), (large, 3)):
        moved = await client.patch(
            f"{path}/variants/{variant}", json={"position": position}, headers=seller.headers
        )
        assert moved.status_code == 200
    page = await client.get(path)
    tied = sorted((medium, large), key=uuid.UUID)  # the same position: by id
    assert [v["id"] for v in page.json()["variants"]] == [*tied, small]


async def test_one_sku_makes_one_variant_or_every_combination(client: AppClient, seller: Seller) -> None:
    single = await create_product(client, seller, sku="MUG-1" + unique("").upper())
    assert [v["name"] for v in single["variants"]] == [single["name"]]
    prefix = unique("TEE").upper()
    combos = await create_product(
        client,
        seller,
        sku=prefix,
        options=[{"name": "size", "values": ["S", "M"]}, {"name": "colour", "values": ["Red", "Sky Blue"]}],
    )
    assert [(v["sku"], v["name"]) for v in combos["variants"]] == [
        (f"{prefix}-S-RED", "S / Red"),
        (f"{prefix}-S-SKY-BLUE", "S / Sky Blue"),
        (f"{prefix}-M-RED", "M / Red"),
        (f"{prefix}-M-SKY-BLUE", "M / Sky Blue"),
    ]


async def test_generating_variants_adds_only_missing_combinations(client: AppClient, seller: Seller) -> None:
    product = await create_product(
        client,
        seller,
        options=[{"name": "size", "values": ["S", "M", "L"]}],
        variants=[{"sku": unique("ONE"), "optionValues": {"size": "M"}}],
    )
    path = f"/api/v1/products/{product['id']}/variants/generate"
    body = {"skuPrefix": unique("GEN"), "priceAdjustments": {"size": {"L": 300}}}
    generated = await client.post(path, json=body, headers=seller.headers)
    assert generated.status_code == 200, generated.text
    prices = {v["optionValues"]["size"]: v["priceAmount"] for v in generated.json()["variants"]}
    assert prices == {"S": 1999, "M": 1999, "L": 2299}
    again = await client.post(path, json=body, headers=seller.headers)
    assert len(again.json()["variants"]) == 3


async def test_drafts_are_previewed_by_their_vendor_and_admins_only(
    client: AppClient, seller: Seller
) -> None:
    draft = await create_product(client, seller, status="draft")
    assert (await client.get(f"/api/v1/products/{draft['id']}")).status_code == 404
    own = await client.get(f"/api/v1/products/{draft['slug']}", headers=seller.headers)
    assert own.status_code == 200
    assert own.headers["cache-control"] == "private, no-store"
    admin = await create_account(client, "admin")
    assert (await client.get(f"/api/v1/products/{draft['id']}", headers=admin.headers)).status_code == 200
    other = await create_seller(client)
    assert (await client.get(f"/api/v1/products/{draft['id']}", headers=other.headers)).status_code == 404
    customer = await register(client)
    assert (await client.get(f"/api/v1/products/{draft['id']}", headers=customer.headers)).status_code == 404
    assert (await client.get("/api/v1/products/no-such-product")).json()["code"] == "product_not_found"


async def test_vendors_write_only_their_own_products(client: AppClient, seller: Seller) -> None:
    product = await create_product(client, seller)
    other = await create_seller(client)
    for response in (
        await client.patch(
            f"/api/v1/products/{product['id']}", json={"name": "Mine now"}, headers=other.headers
        ),
        await client.delete(f"/api/v1/products/{product['id']}", headers=other.headers),
        await client.post(
            f"/api/v1/products/{product['id']}/variants", json={"sku": unique("X")}, headers=other.headers
        ),
    ):
        assert response.status_code == 404, response.text
    smuggled = await client.post(
        "/api/v1/products", json=product_body(vendorId=str(seller.vendor_id)), headers=other.headers
    )
    assert smuggled.status_code == 422
    assert smuggled.json()["errors"][0]["field"] == "vendorId"
    customer = await register(client)
    assert (
        await client.post("/api/v1/products", json=product_body(), headers=customer.headers)
    ).status_code == 403
    suspended = await create_seller(client, status="suspended")
    refused = await client.post("/api/v1/products", json=product_body(), headers=suspended.headers)
    assert refused.status_code == 403
    assert refused.json()["code"] == "vendor_not_active"


async def test_admins_name_the_vendor(client: AppClient, seller: Seller) -> None:
    admin = await create_account(client, "admin")
    missing = await client.post("/api/v1/products", json=product_body(), headers=admin.headers)
    assert missing.status_code == 422
    assert missing.json()["errors"][0] == {
        "field": "vendorId",
        "message": "Name the vendor the product belongs to.",
        "code": "required",
        "source": "body",
    }
    unknown = await client.post(
        "/api/v1/products", json=product_body(vendorId=str(uuid.uuid4())), headers=admin.headers
    )
    assert unknown.json()["errors"][0]["code"] == "vendor_not_found"
    made = await create_product(client, admin, vendorId=str(seller.vendor_id))
    edited = await client.patch(
        f"/api/v1/products/{made['id']}", json={"brand": "Admin Co"}, headers=admin.headers
    )
    assert edited.json()["brand"] == "Admin Co"


@pytest.mark.parametrize(
    ("changes", "field", "code"),
    [
        ({"priceAmount": -1}, "priceAmount", "out_of_range"),
        ({"priceAmount": "12.99"}, "priceAmount", "wrong_type"),
        ({"priceAmount": 10**12}, "priceAmount", "out_of_range"),
        ({"currency": "usd"}, "currency", "invalid_format"),
        ({"currency": "XYZ"}, "currency", "unknown_currency"),
        ({"compareAtAmount": 1999}, "compareAtAmount", "invalid_compare_at"),
        ({"name": None}, "name", "wrong_type"),
        ({"unitsSold30d": 900}, "unitsSold30d", "unknown_field"),
        ({"slug": "Bad Slug"}, "slug", "invalid_format"),
        ({"images": [{"url": "javascript:alert(1)"}]}, "images[0].url", "invalid_format"),
        ({"attributes": {"Bad Key": "x"}}, "attributes", "invalid_format"),
        ({"tags": ["x" * 41]}, "tags[0]", "invalid_length"),
        ({"sku": None}, "sku", "variants_required"),
        ({"options": [{"name": "size", "values": ["S", "S"]}]}, "options[0].values", "duplicate_value"),
        ({"categoryId": str(uuid.uuid4())}, "categoryId", "category_not_found"),
    ],
)
async def test_bad_products_are_refused_field_by_field(
    client: AppClient, seller: Seller, changes: dict, field: str, code: str
) -> None:
    response = await client.post("/api/v1/products", json=product_body(**changes), headers=seller.headers)
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"] == "application/problem+json"
    errors = [(e["field"], e["code"]) for e in response.json()["errors"]]
    assert (field, code) in errors, errors


@pytest.mark.parametrize(
    ("variants", "field", "code"),
    [
        (
            [
                {"sku": "DUP-1", "optionValues": {"size": "S"}},
                {"sku": "DUP-1", "optionValues": {"size": "M"}},
            ],
            "variants[1].sku",
            "duplicate_sku",
        ),
        (
            [{"sku": "A-1", "optionValues": {"size": "XXL"}}],
            "variants[0].optionValues",
            "invalid_option_value",
        ),
        ([{"sku": "A-1"}], "variants[0].optionValues", "incomplete_options"),
        (
            [{"sku": "A-1", "optionValues": {"size": "S"}}, {"sku": "A-2", "optionValues": {"size": "S"}}],
            "variants[1].optionValues",
            "duplicate_combination",
        ),
        ([{"sku": "has space"}], "variants[0].sku", "invalid_format"),
    ],
)
async def test_bad_variants_are_refused(
    client: AppClient, seller: Seller, variants: list, field: str, code: str
) -> None:
    body = product_body(options=[{"name": "size", "values": ["S", "M"]}], variants=variants)
    response = await client.post("/api/v1/products", json=body, headers=seller.headers)
    assert response.status_code == 422, response.text
    assert (field, code) in [(e["field"], e["code"]) for e in response.json()["errors"]]


async def test_skus_are_unique_per_vendor(client: AppClient, seller: Seller) -> None:
    sku = unique("SAME").upper()
    await create_product(client, seller, sku=sku)
    again = await client.post("/api/v1/products", json=product_body(sku=sku), headers=seller.headers)
    assert again.status_code == 409
    assert again.json()["errors"][0] == {
        "field": "variants[0].sku",
        "message": "Already used by another variant",
        "code": "sku_taken",
        "source": "body",
    }
    other = await create_seller(client)
    assert (await create_product(client, other, sku=sku))["variants"][0]["sku"] == sku


async def test_slugs_are_unique_and_stable(client: AppClient, seller: Seller) -> None:
    name = unique("Lamp")
    first = await create_product(client, seller, name=name)
    second = await create_product(client, seller, name=name)
    assert second["slug"] == f"{first['slug']}-2"
    renamed = await client.patch(
        f"/api/v1/products/{first['id']}", json={"name": "Brand New Name"}, headers=seller.headers
    )
    assert renamed.json()["slug"] == first["slug"]
    taken = await client.patch(
        f"/api/v1/products/{first['id']}", json={"slug": second["slug"]}, headers=seller.headers
    )
    assert taken.status_code == 409
    moved = await client.patch(
        f"/api/v1/products/{first['id']}", json={"slug": unique("lamp")}, headers=seller.headers
    )
    assert moved.status_code == 200
    assert (await client.get(f"/api/v1/products/{first['slug']}")).status_code == 404
    assert (await client.get(f"/api/v1/products/{moved.json()['slug']}")).status_code == 200


async def test_changes_announce_themselves(client: AppClient, seller: Seller) -> None:
    product = await create_product(client, seller)
    path = f"/api/v1/products/{product['id']}"
    repriced = await client.patch(
        path, json={"priceAmount": 2499, "description": "Now better"}, headers=seller.headers
    )
    assert repriced.json()["variants"][0]["priceAmount"] == 2499
    unchanged = await client.patch(path, json={"priceAmount": 2499}, headers=seller.headers)
    assert unchanged.status_code == 200
    variant = product["variants"][0]
    await client.patch(f"{path}/variants/{variant['id']}", json={"priceAmount": 2600}, headers=seller.headers)
    archived = await client.delete(path, headers=seller.headers)
    assert archived.status_code == 204
    assert (await client.get(path)).status_code == 404
    events = await _events(client, product["id"])
    assert [e for e, _ in events] == [
        "catalog.product_created",
        "catalog.product_updated",
        "catalog.price_changed",
        "catalog.price_changed",
        "catalog.product_updated",
        "catalog.product_updated",
        "catalog.product_archived",
    ]
    assert events[1][1]["changed"] == ["description", "priceAmount"]
    assert (events[2][1]["oldAmount"], events[2][1]["newAmount"], events[2][1]["variantId"]) == (
        1999,
        2499,
        None,
    )
    assert (events[3][1]["newAmount"], events[3][1]["variantId"]) == (2600, variant["id"])


async def test_variant_rules(client: AppClient, seller: Seller) -> None:
    product = await create_product(
        client, seller, options=[{"name": "size", "values": ["S", "M"]}], sku=unique("V").upper()
    )
    path = f"/api/v1/products/{product['id']}"
    first, second = product["variants"]
    clash = await client.patch(
        f"{path}/variants/{first['id']}", json={"sku": second["sku"]}, headers=seller.headers
    )
    assert clash.status_code == 409
    archived = await client.delete(f"{path}/variants/{first['id']}", headers=seller.headers)
    assert [v["id"] for v in archived.json()["variants"]] == [second["id"]]
    last = await client.delete(f"{path}/variants/{second['id']}", headers=seller.headers)
    assert last.status_code == 422
    assert last.json()["code"] == "validation_failed"
    assert last.json()["errors"][0]["code"] == "last_variant"
    in_use = await client.patch(
        path, json={"options": [{"name": "size", "values": ["S"]}]}, headers=seller.headers
    )
    assert in_use.json()["errors"][0]["code"] == "option_in_use"
    again = await client.post(
        f"{path}/variants", json={"sku": unique("V2"), "optionValues": {"size": "M"}}, headers=seller.headers
    )
    assert again.status_code == 422  # M is still the combination of the active second variant
    missing = await client.patch(
        f"{path}/variants/{uuid.uuid4()}", json={"position": 2}, headers=seller.headers
    )
    assert missing.json()["code"] == "variant_not_found"


async def test_a_product_goes_on_sale_only_with_variants(client: AppClient, seller: Seller) -> None:
    product = await create_product(client, seller, status="draft")
    path = f"/api/v1/products/{product['id']}"
    await client.delete(f"{path}/variants/{product['variants'][0]['id']}", headers=seller.headers)
    refused = await client.patch(path, json={"status": "active"}, headers=seller.headers)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["code"] == "no_active_variants"


async def test_malformed_and_oversized_bodies(client: AppClient, seller: Seller) -> None:
    broken = await client.post(
        "/api/v1/products",
        content=b'{"name": "x", ',
        headers={**seller.headers, "content-type": "application/json"},
    )
    assert broken.status_code == 400
    assert broken.json()["code"] == "malformed_json"
    huge = await client.post(
        "/api/v1/products",
        content=b'{"name": "' + b"x" * 1_100_000 + b'"}',
        headers={**seller.headers, "content-type": "application/json"},
    )
    assert huge.status_code == 413
    assert huge.json()["code"] == "payload_too_large"


async def test_vendors_list_their_products_of_every_status(client: AppClient, seller: Seller) -> None:
    draft = await create_product(client, seller, status="draft")
    live = await create_product(client, seller)
    mine = await client.get("/api/v1/vendor/products", headers=seller.headers)
    assert {p["id"] for p in mine.json()["items"]} == {draft["id"], live["id"]}
    drafts = await client.get("/api/v1/vendor/products", params={"status": "draft"}, headers=seller.headers)
    assert [p["id"] for p in drafts.json()["items"]] == [draft["id"]]
    other = await create_seller(client)
    peek = await client.get(
        "/api/v1/vendor/products", params={"vendorId": str(seller.vendor_id)}, headers=other.headers
    )
    assert peek.json()["items"] == []
    admin = await create_account(client, "admin")
    as_admin = await client.get(
        "/api/v1/vendor/products", params={"vendorId": str(seller.vendor_id)}, headers=admin.headers
    )
    assert len(as_admin.json()["items"]) == 2


async def test_admin_cannot_be_impersonated_by_a_customer_account(client: AppClient) -> None:
    customer: Account = await register(client)
    response = await client.get("/api/v1/vendor/products", headers=customer.headers)
    assert response.status_code == 403


async def test_a_variant_belongs_to_its_products_vendor(client: AppClient) -> None:
    """The database itself refuses a variant whose vendor is not its product's, and one whose
    product does not exist; deleting a product takes its variants."""
    owner, other = await create_seller(client), await create_seller(client)
    product = await create_product(client, owner)
    product_id = uuid.UUID(product["id"])
    insert = (
        "INSERT INTO product_variants (id, product_id, vendor_id, sku, name) VALUES ($1, $2, $3, $4, 'X')"
    )
    async with client.runtime.db.connection() as conn:
        with pytest.raises(asyncpg.ForeignKeyViolationError):
            await conn.execute(insert, uuid7(), product_id, other.vendor_id, unique("SKU"))
        with pytest.raises(asyncpg.ForeignKeyViolationError):
            await conn.execute(insert, uuid7(), uuid7(), owner.vendor_id, unique("SKU"))
        await conn.execute(insert, uuid7(), product_id, owner.vendor_id, unique("SKU"))
        assert (
            await conn.fetchval("SELECT count(*) FROM product_variants WHERE product_id = $1", product_id)
            >= 2
        )
        await conn.execute("DELETE FROM products WHERE id = $1", product_id)
        assert (
            await conn.fetchval("SELECT count(*) FROM product_variants WHERE product_id = $1", product_id)
            == 0
        )
