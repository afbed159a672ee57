"""Categories: the tree, slugs, moves without cycles, deletes that keep nothing orphaned, visibility."""

from typing import Any

import pytest

from tests.fixtures.app import AppClient
from tests.fixtures.catalog import create_category, create_product, create_seller, unique
from tests.fixtures.factories import Account, create_account, register


@pytest.fixture
async def admin(client: AppClient) -> Account:
    return await create_account(client, "admin")


def _find(nodes: list[dict[str, Any]], category_id: str) -> dict[str, Any] | None:
    for node in nodes:
        if node["id"] == category_id:
            return node
        found = _find(node["children"], category_id)
        if found:
            return found
    return None


async def test_a_three_level_tree_with_breadcrumbs(client: AppClient, admin: Account) -> None:
    root = await create_category(client, admin, name=unique("Sports"))
    mid = await create_category(client, admin, name=unique("Cycling"), parentId=root["id"])
    leaf = await create_category(client, admin, name=unique("Helmets"), parentId=mid["id"], position=3)
    assert leaf["depth"] == 3
    assert [c["id"] for c in leaf["breadcrumbs"]] == [root["id"], mid["id"], leaf["id"]]
    tree = await client.get("/api/v1/categories")
    assert tree.status_code == 200
    assert tree.headers["cache-control"].startswith("public, max-age=")
    node = _find(tree.json()["items"], root["id"])
    assert node is not None
    assert [c["id"] for c in node["children"]] == [mid["id"]]
    assert node["children"][0]["children"][0]["id"] == leaf["id"]
    by_slug = await client.get(f"/api/v1/categories/{mid['slug']}")
    assert by_slug.json()["children"] == [{"id": leaf["id"], "name": leaf["name"], "slug": leaf["slug"]}]
    by_id = await client.get(f"/api/v1/categories/{leaf['id']}")
    assert by_id.json()["breadcrumbs"] == leaf["breadcrumbs"]


async def test_slugs_are_unique_derived_or_refused(client: AppClient, admin: Account) -> None:
    name = unique("Garden Tools")
    first = await create_category(client, admin, name=name)
    second = await create_category(client, admin, name=name)
    assert second["slug"] == f"{first['slug']}-2"
    taken = await client.post(
        "/api/v1/categories", json={"name": "Other", "slug": first["slug"]}, headers=admin.headers
    )
    assert taken.status_code == 409
    assert taken.json()["code"] == "slug_taken"
    bad = await client.post(
        "/api/v1/categories", json={"name": "X", "slug": "Not A Slug"}, headers=admin.headers
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "slug"


async def test_moves_keep_the_tree_a_tree(client: AppClient, admin: Account) -> None:
    a = await create_category(client, admin)
    b = await create_category(client, admin, parentId=a["id"])
    c = await create_category(client, admin, parentId=b["id"])
    cycle = await client.post(
        f"/api/v1/categories/{a['id']}/move", json={"parentId": c["id"]}, headers=admin.headers
    )
    assert cycle.status_code == 422
    assert cycle.json()["code"] == "invalid_parent"
    onto_itself = await client.post(
        f"/api/v1/categories/{a['id']}/move", json={"parentId": a["id"]}, headers=admin.headers
    )
    assert onto_itself.status_code == 422
    other = await create_category(client, admin)
    moved = await client.post(
        f"/api/v1/categories/{b['id']}/move", json={"parentId": other["id"]}, headers=admin.headers
    )
    assert moved.status_code == 200, moved.text
    below = await client.get(f"/api/v1/categories/{c['id']}")
    assert [x["id"] for x in below.json()["breadcrumbs"]] == [other["id"], b["id"], c["id"]]
    to_top = await client.post(
        f"/api/v1/categories/{b['id']}/move", json={"parentId": None}, headers=admin.headers
    )
    assert to_top.json()["depth"] == 1
    assert (await client.get(f"/api/v1/categories/{c['id']}")).json()["depth"] == 2


async def test_depth_is_bounded(client: AppClient, admin: Account) -> None:
    parent = None
    for _ in range(6):
        parent = await create_category(client, admin, **({"parentId": parent["id"]} if parent else {}))
    assert parent is not None
    too_deep = await client.post(
        "/api/v1/categories", json={"name": "Seventh", "parentId": parent["id"]}, headers=admin.headers
    )
    assert too_deep.status_code == 422
    assert too_deep.json()["code"] == "category_too_deep"


async def test_delete_refuses_a_non_empty_category_unless_reassigned(
    client: AppClient, admin: Account
) -> None:
    seller = await create_seller(client)
    doomed = await create_category(client, admin)
    child = await create_category(client, admin, parentId=doomed["id"])
    product = await create_product(client, seller, categoryId=doomed["id"])
    refused = await client.delete(f"/api/v1/categories/{doomed['id']}", headers=admin.headers)
    assert refused.status_code == 409
    assert refused.json()["code"] == "category_not_empty"
    target = await create_category(client, admin)
    inside = await client.delete(
        f"/api/v1/categories/{doomed['id']}", params={"reassignTo": child["id"]}, headers=admin.headers
    )
    assert inside.status_code == 422
    deleted = await client.delete(
        f"/api/v1/categories/{doomed['id']}", params={"reassignTo": target["id"]}, headers=admin.headers
    )
    assert deleted.status_code == 204, deleted.text
    assert (await client.get(f"/api/v1/categories/{doomed['id']}")).status_code == 404
    moved_child = (await client.get(f"/api/v1/categories/{child['id']}")).json()
    assert moved_child["parentId"] == target["id"]
    assert [b["id"] for b in moved_child["breadcrumbs"]] == [target["id"], child["id"]]
    page = (await client.get(f"/api/v1/products/{product['id']}")).json()
    assert page["category"]["id"] == target["id"]
    empty = await create_category(client, admin)
    assert (
        await client.delete(f"/api/v1/categories/{empty['id']}", headers=admin.headers)
    ).status_code == 204


async def test_inactive_categories_are_hidden_from_shoppers(client: AppClient, admin: Account) -> None:
    parent = await create_category(client, admin)
    hidden = await create_category(client, admin, parentId=parent["id"], isActive=False)
    assert (await client.get(f"/api/v1/categories/{hidden['id']}")).status_code == 404
    node = _find((await client.get("/api/v1/categories")).json()["items"], parent["id"])
    assert node is not None and node["children"] == []
    full = await client.get("/api/v1/admin/categories", headers=admin.headers)
    node = _find(full.json()["items"], parent["id"])
    assert node is not None and [c["id"] for c in node["children"]] == [hidden["id"]]
    shown = await client.patch(
        f"/api/v1/categories/{hidden['id']}", json={"isActive": True}, headers=admin.headers
    )
    assert shown.status_code == 200
    assert (await client.get(f"/api/v1/categories/{hidden['id']}")).status_code == 200


async def test_products_of_a_category_include_its_descendants(client: AppClient, admin: Account) -> None:
    seller = await create_seller(client)
    top = await create_category(client, admin)
    sub = await create_category(client, admin, parentId=top["id"])
    elsewhere = await create_category(client, admin)
    in_top = await create_product(client, seller, categoryId=top["id"])
    in_sub = await create_product(client, seller, categoryId=sub["id"])
    await create_product(client, seller, categoryId=elsewhere["id"])
    page = await client.get(f"/api/v1/categories/{top['slug']}/products")
    assert page.status_code == 200
    assert {p["id"] for p in page.json()["items"]} == {in_top["id"], in_sub["id"]}
    assert (await client.get("/api/v1/categories/no-such-thing/products")).status_code == 422


async def test_renaming_a_category_updates_pages_that_show_it(client: AppClient, admin: Account) -> None:
    seller = await create_seller(client)
    category = await create_category(client, admin)
    product = await create_product(client, seller, categoryId=category["id"])
    before = await client.get(f"/api/v1/products/{product['id']}")
    assert before.json()["category"]["name"] == category["name"]
    renamed = await client.patch(
        f"/api/v1/categories/{category['id']}", json={"name": "Fresh Name"}, headers=admin.headers
    )
    assert renamed.json()["slug"] == category["slug"]  # slugs are stable across renames
    after = await client.get(f"/api/v1/products/{product['id']}")
    assert after.json()["category"]["name"] == "Fresh Name"
    assert after.headers["etag"] != before.headers["etag"]


async def test_only_admins_change_categories(client: AppClient) -> None:
    customer = await register(client)
    seller = await create_seller(client)
    body = {"name": "Nope"}
    assert (await client.post("/api/v1/categories", json=body)).status_code == 401
    for who in (customer, seller):
        response = await client.post("/api/v1/categories", json=body, headers=who.headers)
        assert response.status_code == 403
        assert response.json()["code"] == "role_required"


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({}, "name", "required"),
        ({"name": ""}, "name", "invalid_length"),
        ({"name": "A", "position": -1}, "position", "out_of_range"),
        ({"name": "A", "parentId": "not-a-uuid"}, "parentId", "invalid"),
        ({"name": "A", "colour": "red"}, "colour", "unknown_field"),
    ],
)
async def test_bad_category_bodies(
    client: AppClient, admin: Account, body: dict, field: str, code: str
) -> None:
    response = await client.post("/api/v1/categories", json=body, headers=admin.headers)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert (field, code) in [(e["field"], e["code"]) for e in response.json()["errors"]]


async def test_an_unknown_parent_is_reported_on_its_field(client: AppClient, admin: Account) -> None:
    response = await client.post(
        "/api/v1/categories",
        json={"name": "Orphan", "parentId": "01a23377-015f-73ac-beaf-b3166a7d6b3f"},
        headers=admin.headers,
    )
    assert response.status_code == 404
    assert response.json()["errors"][0]["field"] == "parentId"
