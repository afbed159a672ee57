"""Search on PostgreSQL: weighted full text (tsvector, GIN), typo correction (pg_trgm), facets.

A query's words must all match, ranked by ``ts_rank`` over the weighted document (name and
brand, then tags and category, then the description). When no active product holds the words,
the last one is taken as a prefix (a search sent half typed: "headph"); when nothing matches
that either, each word is replaced by the nearest word of the catalog's dictionary (trigram
distance, similarity at least ``CORRECTION_SIMILARITY``), and the answer says which words it
searched for. Words some active product holds are never replaced: when only the filters leave
nothing, nothing is found. All of it is one statement: the choice, then total, page and facets
over one materialized set of matches; a page sorted otherwise than by relevance computes no
rank."""

import uuid
from typing import Any, NamedTuple

import msgspec

from citadel._fast import facets
from citadel.catalog import service as catalog
from citadel.catalog.models import ProductSummary
from citadel.kit.db import Database, load_queries
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

Q = load_queries(__file__)

CORRECTION_SIMILARITY = 0.3
MAX_CATEGORY_FACETS = 30
MAX_VENDOR_FACETS = 20
MAX_ATTRIBUTE_VALUES = 10
# price bucket edges in major units (scaled by each currency's exponent)
PRICE_EDGES = (0, 10, 25, 50, 100, 250, 500, 1000)

_items = msgspec.json.Decoder(list[ProductSummary])

# a facet code's meaning: (kind, key, value, vendor name or None)
Label = tuple[str, str, str, str | None]
FACET_LABELS_TOPIC = "facet_labels"
MAX_FACET_LABELS = 200_000


def tsquery(words: tuple[str, ...], *, prefix: bool = False) -> str:
    """All words (the last as a prefix, if asked). Words are ``\\w+`` runs: no tsquery syntax gets in."""
    if not words:
        return ""
    return " & ".join([*words[:-1], f"{words[-1]}:*"]) if prefix else " & ".join(words)


def price_edges(currency: str) -> list[int]:
    scale = 10 ** exponent(currency)
    return [edge * scale for edge in PRICE_EDGES]


def filter_arguments(request: SearchRequest) -> list[object]:
    """Arguments $2 to $9 of the search statements: each filter, or NULL."""
    f = request.filters
    groups = [[{key: value} for value in values] for key, values in f.attributes] if f.attributes else None
    return [
        list(f.category_ids) if f.category_ids is not None else None,
        f.vendor_id,
        f.min_price,
        f.max_price,
        f.currency,
        list(f.tags) or None,
        groups,
        f.in_stock,
    ]


class Found(NamedTuple):
    results: SearchResults
    exact: bool  # found among the products holding every word, as typed


class PostgresSearch:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.db: Database = runtime.db

    async def search(self, request: SearchRequest) -> Found:
        results, found_by, corrected = await self._run(request)
        if found_by == "corrected" and results.total:
            results.corrected_query = " ".join(corrected)
        return Found(results, exact=found_by == "whole" and results.total > 0)

    async def key_lexeme(self, words: tuple[str, ...]) -> str | None:
        """The longest lexeme of the words (the rarest, as a rule): a product matching all the
        words holds every lexeme of them, this one too."""
        async with self.db.connection() as conn:
            lexeme: str | None = await conn.fetchval(Q.key_lexeme, " ".join(words))
        return lexeme

    async def _run(self, request: SearchRequest) -> tuple[SearchResults, str, tuple[str, ...]]:
        """The search, in one statement: the results, what was searched ("whole", "prefix" or
        "corrected") and the corrected words."""
        words = request.words
        edges = price_edges(request.facet_currency)
        # its generic plan: planning this statement for each search's values costs more than the
        # plans it picks gain (measured: 0.3-0.6 ms of a 0.4-2 ms search)
        async with self.db.generic_plans() as conn:
            row = await conn.fetchrow(
                Q.search_products, tsquery(words), *filter_arguments(request), request.sort,
                request.limit, request.offset, request.facet_currency, edges, tsquery(words, prefix=True),
                list(words), CORRECTION_SIMILARITY,
            )  # fmt: skip
        assert row is not None  # an aggregate query always answers one row
        facet_counts: dict[int, int] = {}
        bucket_counts: list[tuple[int, int]] = []
        for code, n in facets.count_codes(row["codes"]).items():
            if code >= 0:
                facet_counts[code] = n
            else:
                bucket_counts.append((-1 - code, n))
        buckets = sorted(bucket_counts)
        categories, vendors, attributes = await self._facets(facet_counts)
        price = [
            PriceBucket(
                min_amount=edges[bucket - 1] if bucket > 0 else 0,
                max_amount=edges[bucket] if bucket < len(edges) else None,
                count=count,
            )
            for bucket, count in buckets
        ]
        results = SearchResults(
            total=row["total"],
            query=request.text,
            corrected_query=None,
            items=_items.decode(row["items"]),
            facets=Facets(
                categories=categories,
                vendors=vendors,
                price=price,
                price_currency=request.facet_currency,
                attributes=attributes,
            ),
            next_cursor=None,
        )
        return results, row["found_by"], tuple(row["words"] or ())

    async def _labels(self, codes: dict[int, int]) -> dict[int, Label]:
        """This worker's labels of facet codes, with any it has not seen yet loaded in one query
        (codes are never renumbered, so a label is kept as long as the worker's caches are)."""

        async def empty(_: str) -> dict[int, Label]:
            return {}

        cache = self.runtime.local_cache(FACET_LABELS_TOPIC, max_entries=1)
        labels: dict[int, Label] = await cache.get("*", empty)
        missing = [code for code in codes if code not in labels]
        if missing:
            if len(labels) + len(missing) > MAX_FACET_LABELS:
                labels.clear()
            async with self.db.connection() as conn:
                for row in await conn.fetch(Q.facet_labels, missing):
                    labels[row["id"]] = (row["kind"], row["key"], row["value"], row["vendor_name"])
        return labels

    async def _facets(
        self, codes: dict[int, int]
    ) -> tuple[list[FacetValue], list[FacetValue], dict[str, list[FacetValue]]]:
        """Categories, vendors and attribute values with their counts, largest first, labelled."""
        index = await catalog.category_index(self.runtime)
        labels = await self._labels(codes)
        counted = [(*labels[code], n) for code, n in codes.items() if code in labels]
        categories: list[FacetValue] = []
        vendors: list[FacetValue] = []
        attributes: dict[str, list[FacetValue]] = {}
        for kind, key, value, vendor_name, count in sorted(counted, key=lambda f: (-f[4], f[1], f[2])):
            if kind == "category":
                found = index.rows.get(uuid.UUID(key))
                categories.append(FacetValue(value=key, label=found.name if found else key, count=count))
            elif kind == "vendor":
                vendors.append(FacetValue(value=key, label=vendor_name or key, count=count))
            else:
                attributes.setdefault(key, []).append(FacetValue(value=value, label=value, count=count))
        top_attributes = {key: attributes[key][:MAX_ATTRIBUTE_VALUES] for key in sorted(attributes)}
        return categories[:MAX_CATEGORY_FACETS], vendors[:MAX_VENDOR_FACETS], top_attributes

    async def suggest(self, words: tuple[str, ...], limit: int) -> list[Suggestion]:
        if not words:
            return []
        async with self.db.connection() as conn:
            suggestions = await self._suggest(conn, words, limit)
            if not suggestions and len(words[-1]) >= 3:
                rows = await conn.fetch(Q.correct_words, [words[-1]], CORRECTION_SIMILARITY)
                nearest = rows[0]["nearest"] if rows else None
                if nearest and nearest != words[-1]:
                    suggestions = await self._suggest(conn, (*words[:-1], nearest), limit)
        return suggestions

    async def _suggest(self, conn: Any, words: tuple[str, ...], limit: int) -> list[Suggestion]:
        last = words[-1]
        pattern = last.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        head = " ".join(words[:-1])
        terms = [
            Suggestion(text=f"{head} {row['term']}".strip(), kind="term")
            for row in await conn.fetch(Q.suggest_terms, pattern, max(1, limit // 2))
        ]
        products = [
            Suggestion(text=row["name"], kind="product", id=row["id"], slug=row["slug"])
            for row in await conn.fetch(Q.suggest_products, tsquery(words, prefix=True), limit)
        ]
        return [*terms, *products][:limit]
