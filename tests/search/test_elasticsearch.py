"""The Elasticsearch backend: its index, documents, bulk actions and queries, checked body by body.

No Elasticsearch server can run on these machines, so these tests check the exact requests the
backend sends and parse a response of the documented shape. ``test_live_round_trip`` runs
against a real server when ``CITADEL_ELASTICSEARCH_URL`` is set.
"""

import os
import secrets
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from citadel.catalog.models import ProductFilters
from citadel.kit.db import Database
from citadel.search.models import SearchRequest
from citadel.search.service import elasticsearch as es
from citadel.settings import Secret
from tests.fixtures.app import AppClient, make_settings
from tests.fixtures.catalog import create_product, create_seller
from tests.fixtures.servers import NAMESPACE, Servers

PRODUCT = uuid.UUID("01a23377-0000-7000-8000-000000000001")
VENDOR = uuid.UUID("01a23377-0000-7000-8000-0000000000aa")
CATEGORY = uuid.UUID("01a23377-0000-7000-8000-0000000000cc")
ROOT = uuid.UUID("01a23377-0000-7000-8000-0000000000c0")
CREATED = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
IMAGE = {"url": "https://img.example/1.jpg", "alt": ""}


def _row(**changes: Any) -> dict[str, Any]:
    row = {
        "id": PRODUCT, "slug": "trail-runner", "name": "Trail Runner", "description": "Light.",
        "brand": "Kestrel", "tags": ["running"], "status": "active",
        "attributes": {"drop_mm": 8, "waterproof": True, "colour": "red"},
        "vendor_id": VENDOR, "vendor_name": "Kestrel Sports", "category_id": CATEGORY,
        "category_path": [ROOT, CATEGORY], "category_name": "Shoes", "price_amount": 9900,
        "compare_at_amount": None, "currency": "USD", "image": IMAGE,
        "created_at": CREATED, "units_sold_30d": 4, "in_stock": True,
    }  # fmt: skip
    row.update(changes)
    return row


def test_the_index_is_created_with_strict_mappings_and_analyzers() -> None:
    body = es.index_body()
    assert body["mappings"]["dynamic"] == "strict"
    props = body["mappings"]["properties"]
    assert props["name"]["analyzer"] == "citadel_text"
    assert props["name"]["fields"]["autocomplete"] == {
        "type": "text",
        "analyzer": "citadel_autocomplete",
        "search_analyzer": "citadel_autocomplete_search",
    }
    assert props["summary"] == {"type": "object", "enabled": False}
    assert body["settings"]["analysis"]["filter"]["citadel_edge_ngram"] == {
        "type": "edge_ngram", "min_gram": 2, "max_gram": 20,
    }  # fmt: skip


def test_a_product_document() -> None:
    assert es.document(_row()) == {
        "id": str(PRODUCT),
        "slug": "trail-runner",
        "name": "Trail Runner",
        "brand": "Kestrel",
        "description": "Light.",
        "tags": ["running"],
        "category_id": str(CATEGORY),
        "category_path": [str(ROOT), str(CATEGORY)],
        "category_name": "Shoes",
        "vendor_id": str(VENDOR),
        "vendor_label": f"{VENDOR}|Kestrel Sports",
        "attribute_pairs": ["colour=red", "drop_mm=8", "waterproof=true"],
        "price_amount": 9900,
        "currency": "USD",
        "in_stock": True,
        "created_at": "2026-11-30T12:00:00+00:00",
        "units_sold_30d": 4,
        "summary": {
            "id": str(PRODUCT), "slug": "trail-runner", "name": "Trail Runner", "brand": "Kestrel",
            "vendorId": str(VENDOR), "categoryId": str(CATEGORY), "status": "active", "priceAmount": 9900,
            "compareAtAmount": None, "currency": "USD", "image": IMAGE,
            "tags": ["running"], "inStock": True, "createdAt": "2026-11-30T12:00:00Z",
        },
    }  # fmt: skip


def test_bulk_actions_index_active_products_and_delete_the_rest() -> None:
    archived = uuid.UUID(int=PRODUCT.int + 1)
    gone = uuid.UUID(int=PRODUCT.int + 2)
    actions = es.bulk_actions(
        "products", [_row(), _row(id=archived, status="archived")], [PRODUCT, archived, gone]
    )
    assert [(a["_op_type"], a["_id"]) for a in actions] == [
        ("index", str(PRODUCT)),
        ("delete", str(archived)),
        ("delete", str(gone)),
    ]
    assert actions[0]["_index"] == "products" and actions[0]["_source"]["name"] == "Trail Runner"


def _request(**changes: Any) -> SearchRequest:
    values: dict[str, Any] = {
        "text": "trail shoos",
        "words": ("trail", "shoos"),
        "filters": ProductFilters(
            category_ids=(ROOT, CATEGORY),
            vendor_id=VENDOR,
            min_price=1000,
            max_price=20000,
            currency="USD",
            in_stock=True,
            tags=("running",),
            attributes=(("waterproof", ("true", True)),),
        ),
        "facet_currency": "USD",
        "sort": "relevance",
        "offset": 20,
        "limit": 10,
    }
    values.update(changes)
    return SearchRequest(**values)


def test_the_search_body() -> None:
    body = es.search_body(_request())
    assert body["query"]["bool"]["must"][0]["bool"]["should"] == [
        {
            "multi_match": {
                "query": "trail shoos",
                "fields": ["name^3", "brand^3", "tags.text^2", "category_name^2", "description"],
                "type": "best_fields",
                "operator": "and",
                "fuzziness": "AUTO",
                "prefix_length": 1,
            }
        },
        {"match_bool_prefix": {"name.autocomplete": {"query": "trail shoos", "operator": "and"}}},
    ]
    assert body["query"]["bool"]["filter"] == [
        {"terms": {"category_id": [str(ROOT), str(CATEGORY)]}},
        {"term": {"vendor_id": str(VENDOR)}},
        {"range": {"price_amount": {"gte": 1000, "lte": 20000}}},
        {"term": {"currency": "USD"}},
        {"term": {"in_stock": True}},
        {"term": {"tags": "running"}},
        {"terms": {"attribute_pairs": ["waterproof=true"]}},
    ]
    assert (body["from"], body["size"], body["track_total_hits"]) == (20, 10, True)
    assert body["sort"] == ["_score", {"units_sold_30d": "desc"}, {"id": "desc"}]
    assert body["_source"] == ["summary"]
    assert body["aggs"]["price"]["aggs"]["buckets"]["range"]["ranges"] == [
        {"from": 0, "to": 1000}, {"from": 1000, "to": 2500}, {"from": 2500, "to": 5000},
        {"from": 5000, "to": 10000}, {"from": 10000, "to": 25000}, {"from": 25000, "to": 50000},
        {"from": 50000, "to": 100000}, {"from": 100000},
    ]  # fmt: skip
    unfiltered = es.search_body(_request(filters=ProductFilters(), sort="price_asc", offset=0))
    assert unfiltered["query"]["bool"]["filter"] == []
    assert unfiltered["sort"] == [{"price_amount": "asc"}, {"id": "desc"}]


def test_price_buckets_follow_the_currency_exponent() -> None:
    assert es.price_ranges("JPY")[:2] == [{"from": 0, "to": 10}, {"from": 10, "to": 25}]
    assert es.price_ranges("KWD")[-1] == {"from": 1_000_000}


def test_a_response_becomes_results() -> None:
    hit = {"_source": {"summary": es.document(_row())["summary"]}}
    price = [{"from": 5000, "to": 10000, "doc_count": 31}, {"from": 10000, "doc_count": 0}]
    colours = [{"key": "colour=red", "doc_count": 20}, {"key": "colour=blue", "doc_count": 11}]
    response = {
        "hits": {"total": {"value": 31, "relation": "eq"}, "hits": [hit]},
        "aggregations": {
            "categories": {"buckets": [{"key": str(CATEGORY), "doc_count": 31}]},
            "vendors": {"buckets": [{"key": f"{VENDOR}|Kestrel Sports", "doc_count": 31}]},
            "price": {"buckets": {"buckets": price}},
            "attributes": {"buckets": colours},
        },
    }
    results = es.parse_results(_request(), response, {str(CATEGORY): "Shoes"})
    assert results.total == 31
    assert results.items[0].id == PRODUCT
    assert [(c.label, c.count) for c in results.facets.categories] == [("Shoes", 31)]
    assert [(v.value, v.label) for v in results.facets.vendors] == [(str(VENDOR), "Kestrel Sports")]
    assert [(b.min_amount, b.max_amount, b.count) for b in results.facets.price] == [(5000, 10000, 31)]
    assert [(a.value, a.count) for a in results.facets.attributes["colour"]] == [("red", 20), ("blue", 11)]


def test_the_suggest_body() -> None:
    assert es.suggest_body(("trail", "run"), 5) == {
        "size": 5,
        "query": {
            "match": {"name.autocomplete": {"query": "trail run", "operator": "and", "fuzziness": "AUTO"}}
        },
        "sort": ["_score", {"units_sold_30d": "desc"}, {"id": "desc"}],
        "_source": ["id", "slug", "name"],
    }


@pytest.mark.skipif(
    not os.environ.get("CITADEL_ELASTICSEARCH_URL"),
    reason="no Elasticsearch server here: set CITADEL_ELASTICSEARCH_URL to run the live round trip",
)
async def test_live_round_trip(client: AppClient, servers: Servers, database_url: str) -> None:
    from elasticsearch import AsyncElasticsearch

    settings = make_settings(
        servers,
        database_url,
        namespace=f"{NAMESPACE}_{secrets.token_hex(3)}",
        search_backend="elasticsearch",
        elasticsearch_url=Secret(os.environ["CITADEL_ELASTICSEARCH_URL"]),
    )
    seller = await create_seller(client)
    product = await create_product(client, seller, name="Glacier Trekking Boot")
    elastic = AsyncElasticsearch(os.environ["CITADEL_ELASTICSEARCH_URL"])
    db = Database(database_url, pool_size=1)
    await db.open()
    try:
        async with db.connection() as conn:
            assert await es.reindex(elastic, settings, conn) >= 1
        await elastic.indices.refresh(index=es.alias_name(settings))
        request = _request(text="glacer boot", words=("glacer", "boot"), filters=ProductFilters(), offset=0)
        response = await elastic.search(index=es.alias_name(settings), body=es.search_body(request))
        results = es.parse_results(request, dict(response), {})
        assert str(results.items[0].id) == product["id"]
    finally:
        await db.close()
        await elastic.indices.delete(index=f"{es.alias_name(settings)}_*")
        await elastic.close()
