"""Search on Elasticsearch 8: the index, its documents, query bodies, syncing and reindexing.

The index (behind an alias, so a full reindex swaps it atomically) holds one document per
active product: its text fields with an English analyzer and an edge n-gram field for
suggestions, its filters as keywords and numbers, and the ``ProductSummary`` a result shows
(stored, not indexed), so a search needs no PostgreSQL round trip. Typos are matched by
fuzziness ``AUTO``; the last word also matches as a prefix. Documents follow the catalog through
the outbox: a consumer of catalog events reloads the products they name and writes them with
the bulk API (deleting those no longer active).

Every body is built by a plain function, so tests check them exactly; no server is needed for
that. The client is the official async one, pinned to 8.x like the server in ``deploy/``.
"""

import itertools
import uuid
from collections.abc import Iterable
from typing import Any

import asyncpg
import msgspec

from citadel.catalog import service as catalog
from citadel.catalog.models import Image, ProductSummary
from citadel.kit.db import Connection, load_queries
from citadel.kit.money import exponent
from citadel.kit.runtime import Runtime
from citadel.search.models import (
    Facets,
    FacetValue,
    PriceBucket,
    SearchRequest,
    SearchResults,
    Suggestion,
)
from citadel.search.service.postgres import PRICE_EDGES, Found
from citadel.settings import Settings

Q = load_queries(__file__)

REINDEX_BATCH = 1000
TEXT_FIELDS = ["name^3", "brand^3", "tags.text^2", "category_name^2", "description"]

INDEX_SETTINGS: dict[str, Any] = {
    "number_of_shards": 1,
    "analysis": {
        "filter": {
            "citadel_english_stemmer": {"type": "stemmer", "language": "english"},
            "citadel_edge_ngram": {"type": "edge_ngram", "min_gram": 2, "max_gram": 20},
        },
        "analyzer": {
            "citadel_text": {
                "type": "custom",
                "tokenizer": "standard",
                "filter": ["lowercase", "asciifolding", "citadel_english_stemmer"],
            },
            "citadel_autocomplete": {
                "type": "custom",
                "tokenizer": "standard",
                "filter": ["lowercase", "asciifolding", "citadel_edge_ngram"],
            },
            "citadel_autocomplete_search": {
                "type": "custom",
                "tokenizer": "standard",
                "filter": ["lowercase", "asciifolding"],
            },
        },
    },
}

MAPPINGS: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "id": {"type": "keyword"},
        "slug": {"type": "keyword"},
        "name": {
            "type": "text",
            "analyzer": "citadel_text",
            "fields": {
                "autocomplete": {
                    "type": "text",
                    "analyzer": "citadel_autocomplete",
                    "search_analyzer": "citadel_autocomplete_search",
                },
                "keyword": {"type": "keyword", "ignore_above": 256},
            },
        },
        "brand": {"type": "text", "analyzer": "citadel_text", "fields": {"keyword": {"type": "keyword"}}},
        "description": {"type": "text", "analyzer": "citadel_text"},
        "tags": {"type": "keyword", "fields": {"text": {"type": "text", "analyzer": "citadel_text"}}},
        "category_id": {"type": "keyword"},
        "category_path": {"type": "keyword"},
        "category_name": {"type": "text", "analyzer": "citadel_text"},
        "vendor_id": {"type": "keyword"},
        "vendor_label": {"type": "keyword"},  # "<id>|<name>": the vendor facet needs both
        "attribute_pairs": {"type": "keyword"},  # "<key>=<value>", for filters and facets
        "price_amount": {"type": "long"},
        "currency": {"type": "keyword"},
        "in_stock": {"type": "boolean"},
        "created_at": {"type": "date"},
        "units_sold_30d": {"type": "integer"},
        "summary": {"type": "object", "enabled": False},
    },
}

_SORTS: dict[str, list[Any]] = {
    "relevance": ["_score", {"units_sold_30d": "desc"}, {"id": "desc"}],
    "newest": [{"created_at": "desc"}, {"id": "desc"}],
    "price_asc": [{"price_amount": "asc"}, {"id": "desc"}],
    "price_desc": [{"price_amount": "desc"}, {"id": "desc"}],
    "popular": [{"units_sold_30d": "desc"}, {"id": "desc"}],
}


def alias_name(settings: Settings) -> str:
    return settings.index_name(settings.elasticsearch_index)


def index_body() -> dict[str, Any]:
    return {"settings": INDEX_SETTINGS, "mappings": MAPPINGS}


def _pair_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def document(row: asyncpg.Record | dict[str, Any]) -> dict[str, Any]:
    """The index document of a product (a ``product_documents`` row)."""
    image = row["image"]
    summary = ProductSummary(
        id=row["id"],
        slug=row["slug"],
        name=row["name"],
        brand=row["brand"],
        vendor_id=row["vendor_id"],
        category_id=row["category_id"],
        status=row["status"],
        price_amount=row["price_amount"],
        compare_at_amount=row["compare_at_amount"],
        currency=row["currency"],
        image=msgspec.convert(image, Image) if image else None,
        tags=list(row["tags"]),
        in_stock=row["in_stock"],
        created_at=row["created_at"],
    )
    return {
        "id": str(row["id"]),
        "slug": row["slug"],
        "name": row["name"],
        "brand": row["brand"],
        "description": row["description"],
        "tags": list(row["tags"]),
        "category_id": str(row["category_id"]) if row["category_id"] else None,
        "category_path": [str(c) for c in row["category_path"] or []],
        "category_name": row["category_name"],
        "vendor_id": str(row["vendor_id"]),
        "vendor_label": f"{row['vendor_id']}|{row['vendor_name']}",
        "attribute_pairs": sorted(f"{k}={_pair_text(v)}" for k, v in row["attributes"].items()),
        "price_amount": row["price_amount"],
        "currency": row["currency"],
        "in_stock": row["in_stock"],
        "created_at": row["created_at"].isoformat(),
        "units_sold_30d": row["units_sold_30d"],
        "summary": msgspec.to_builtins(summary),
    }


def bulk_actions(
    index: str, rows: Iterable[asyncpg.Record | dict[str, Any]], wanted: Iterable[uuid.UUID]
) -> list[dict[str, Any]]:
    """Index the active products among ``rows``; delete every other wanted id from the index."""
    actions: list[dict[str, Any]] = []
    active: set[uuid.UUID] = set()
    for row in rows:
        if row["status"] == "active":
            active.add(row["id"])
            actions.append(
                {"_op_type": "index", "_index": index, "_id": str(row["id"]), "_source": document(row)}
            )
    actions += [
        {"_op_type": "delete", "_index": index, "_id": str(product_id)}
        for product_id in sorted(set(wanted) - active)
    ]
    return actions


def _filters(request: SearchRequest) -> list[dict[str, Any]]:
    f = request.filters
    clauses: list[dict[str, Any]] = []
    if f.category_ids is not None:
        clauses.append({"terms": {"category_id": [str(c) for c in f.category_ids]}})
    if f.vendor_id is not None:
        clauses.append({"term": {"vendor_id": str(f.vendor_id)}})
    if f.min_price is not None or f.max_price is not None:
        bounds = {k: v for k, v in (("gte", f.min_price), ("lte", f.max_price)) if v is not None}
        clauses.append({"range": {"price_amount": bounds}})
    if f.currency is not None:
        clauses.append({"term": {"currency": f.currency}})
    if f.in_stock is not None:
        clauses.append({"term": {"in_stock": f.in_stock}})
    clauses.extend({"term": {"tags": tag}} for tag in f.tags)
    clauses.extend(
        {"terms": {"attribute_pairs": sorted({f"{key}={_pair_text(v)}" for v in values})}}
        for key, values in f.attributes
    )
    return clauses


def price_ranges(currency: str) -> list[dict[str, int]]:
    edges = [edge * 10 ** exponent(currency) for edge in PRICE_EDGES]
    ranges = [{"from": low, "to": high} for low, high in itertools.pairwise(edges)]
    return [*ranges, {"from": edges[-1]}]


def search_body(request: SearchRequest) -> dict[str, Any]:
    text = " ".join(request.words)
    return {
        "query": {
            "bool": {
                "must": [
                    {
                        "bool": {
                            "should": [
                                {
                                    "multi_match": {
                                        "query": text,
                                        "fields": TEXT_FIELDS,
                                        "type": "best_fields",
                                        "operator": "and",
                                        "fuzziness": "AUTO",
                                        "prefix_length": 1,
                                    }
                                },
                                {
                                    "match_bool_prefix": {
                                        "name.autocomplete": {"query": text, "operator": "and"}
                                    }
                                },
                            ],
                            "minimum_should_match": 1,
                        }
                    }
                ],
                "filter": _filters(request),
            }
        },
        "sort": _SORTS[request.sort],
        "from": request.offset,
        "size": request.limit,
        "track_total_hits": True,
        "_source": ["summary"],
        "aggs": {
            "categories": {"terms": {"field": "category_id", "size": 30}},
            "vendors": {"terms": {"field": "vendor_label", "size": 20}},
            "price": {
                "filter": {"term": {"currency": request.facet_currency}},
                "aggs": {
                    "buckets": {
                        "range": {"field": "price_amount", "ranges": price_ranges(request.facet_currency)}
                    }
                },
            },
            "attributes": {"terms": {"field": "attribute_pairs", "size": 200}},
        },
    }


def suggest_body(words: tuple[str, ...], limit: int) -> dict[str, Any]:
    return {
        "size": limit,
        "query": {
            "match": {"name.autocomplete": {"query": " ".join(words), "operator": "and", "fuzziness": "AUTO"}}
        },
        "sort": ["_score", {"units_sold_30d": "desc"}, {"id": "desc"}],
        "_source": ["id", "slug", "name"],
    }


def parse_results(request: SearchRequest, response: dict[str, Any], labels: dict[str, str]) -> SearchResults:
    """A search response as ``SearchResults`` (``labels``: category names by id)."""
    hits = response["hits"]
    aggs = response.get("aggregations", {})
    attributes: dict[str, list[FacetValue]] = {}
    for bucket in aggs.get("attributes", {}).get("buckets", []):
        key, _, value = str(bucket["key"]).partition("=")
        values = attributes.setdefault(key, [])
        if len(values) < 10:
            values.append(FacetValue(value=value, label=value, count=bucket["doc_count"]))
    vendors = []
    for bucket in aggs.get("vendors", {}).get("buckets", []):
        vendor_id, _, name = str(bucket["key"]).partition("|")
        vendors.append(FacetValue(value=vendor_id, label=name, count=bucket["doc_count"]))
    price = [
        PriceBucket(
            min_amount=int(b.get("from", 0)),
            max_amount=int(b["to"]) if "to" in b else None,
            count=b["doc_count"],
        )
        for b in aggs.get("price", {}).get("buckets", {}).get("buckets", [])
        if b["doc_count"]
    ]
    return SearchResults(
        total=int(hits["total"]["value"]),
        query=request.text,
        corrected_query=None,
        items=[msgspec.convert(hit["_source"]["summary"], ProductSummary) for hit in hits["hits"]],
        facets=Facets(
            categories=[
                FacetValue(value=b["key"], label=labels.get(b["key"], b["key"]), count=b["doc_count"])
                for b in aggs.get("categories", {}).get("buckets", [])
            ],
            vendors=vendors,
            price=price,
            price_currency=request.facet_currency,
            attributes=attributes,
        ),
        next_cursor=None,
    )


class ElasticsearchSearch:
    def __init__(self, runtime: Runtime) -> None:
        if runtime.elasticsearch is None:
            raise RuntimeError("CITADEL_SEARCH_BACKEND=elasticsearch needs CITADEL_ELASTICSEARCH_URL")
        self.runtime = runtime
        self.client: Any = runtime.elasticsearch
        self.alias = alias_name(runtime.settings)

    async def search(self, request: SearchRequest) -> Found:
        response = await self.client.search(index=self.alias, body=search_body(request))
        index = await catalog.category_index(self.runtime)
        labels = {str(row.id): row.name for row in index.rows.values()}
        return Found(parse_results(request, dict(response), labels), exact=False)

    async def key_lexeme(self, words: tuple[str, ...]) -> str | None:
        return None  # fuzzy matches hold no word for certain: every product change drops the page

    async def suggest(self, words: tuple[str, ...], limit: int) -> list[Suggestion]:
        response = await self.client.search(index=self.alias, body=suggest_body(words, limit))
        return [
            Suggestion(
                text=h["_source"]["name"],
                kind="product",
                id=uuid.UUID(h["_source"]["id"]),
                slug=h["_source"]["slug"],
            )
            for h in response["hits"]["hits"]
        ]


# --- keeping the index in step ---------------------------------------------------------------------


async def sync_products(
    client: Any, index: str, conn: Connection, product_ids: Iterable[uuid.UUID], *, visible: bool = False
) -> int:
    """Write the current state of these products to the index (bulk); the number of actions.
    With ``visible``, returns only once a search sees them (at the index's next refresh), so that
    search pages dropped next cannot be refilled from the old documents."""
    from elasticsearch.helpers import async_bulk  # noqa: PLC0415 - the optional extra, only for this backend

    wanted = list(dict.fromkeys(product_ids))
    if not wanted:
        return 0
    rows = await conn.fetch(Q.product_documents, wanted)
    actions = bulk_actions(index, rows, wanted)
    await async_bulk(
        client,
        actions,
        raise_on_error=True,
        ignore_status=(404,),
        refresh="wait_for" if visible else False,
    )
    return len(actions)


async def products_of_categories(conn: Connection, category_ids: list[uuid.UUID]) -> list[uuid.UUID]:
    return [row["id"] for row in await conn.fetch(Q.products_of_categories, category_ids)]


async def reindex(client: Any, settings: Settings, conn: Connection) -> int:
    """A new index with every active product, then the alias moved to it and the old one dropped."""
    alias = alias_name(settings)
    fresh = f"{alias}_{uuid.uuid4().hex[:12]}"
    await client.indices.create(index=fresh, **index_body())
    total, after = 0, uuid.UUID(int=0)
    while True:
        ids = [row["id"] for row in await conn.fetch(Q.all_product_ids_after, after, REINDEX_BATCH)]
        if not ids:
            break
        total += await sync_products(client, fresh, conn, ids)
        after = ids[-1]
    old = []
    if await client.indices.exists_alias(name=alias):
        old = list(dict(await client.indices.get_alias(name=alias)))
    actions = [{"remove": {"index": name, "alias": alias}} for name in old]
    await client.indices.update_aliases(actions=[*actions, {"add": {"index": fresh, "alias": alias}}])
    for name in old:
        await client.indices.delete(index=name)
    return total


async def ensure_index(client: Any, settings: Settings) -> None:
    """The alias and an index behind it, made with the mapping when there is none yet."""
    alias = alias_name(settings)
    if not await client.indices.exists_alias(name=alias):
        await client.indices.create(
            index=f"{alias}_{uuid.uuid4().hex[:12]}", aliases={alias: {}}, **index_body()
        )
