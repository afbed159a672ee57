"""Search: one interface over two backends, cached result pages, suggestions and statistics.

``CITADEL_SEARCH_BACKEND`` picks PostgreSQL full text (the default; nothing else to run) or
Elasticsearch (for large catalogs; kept in sync from the catalog events by a consumer). Both take
the same ``SearchRequest`` and answer the same ``SearchResults``. Result pages are cached like
product lists: one answered from the products that hold every word of the query is dropped when
a product holding one of its words (the query's "key lexeme") changes, any other page by any
product change (see ``catalog.service.listings``); every search, cached or not, is counted for
the statistics admins read (counted in the worker, written in batches).
"""

import hashlib
import re
from datetime import UTC, date, datetime, timedelta
from typing import Protocol
from urllib.parse import parse_qsl

import asyncpg
import msgspec

from citadel.catalog import service as catalog
from citadel.catalog.models import SEARCH_TOPIC, ProductFilters
from citadel.kit.cache import CachedBody, Loaded
from citadel.kit.db import Connection, load_queries
from citadel.kit.errors import FieldError, ValidationFailed
from citadel.kit.observability import SEARCH_QUERIES
from citadel.kit.runtime import Runtime
from citadel.kit.tally import Counts
from citadel.search.models import (
    MAX_PAGES,
    MAX_QUERY_WORDS,
    QueryStat,
    SearchAnalytics,
    SearchRequest,
    SearchSort,
    Suggestion,
    Suggestions,
)
from citadel.search.service.elasticsearch import ElasticsearchSearch
from citadel.search.service.postgres import Found, PostgresSearch

Q = load_queries(__file__)

STATS_KIND = "search_queries"
_WORD = re.compile(r"\w+")
_encoder = msgspec.json.Encoder()


class SearchBackend(Protocol):
    async def search(self, request: SearchRequest) -> Found: ...

    async def key_lexeme(self, words: tuple[str, ...]) -> str | None:
        """A lexeme that every product of an exact answer to ``words`` holds in its document; None
        when the backend offers no such promise (it matches fuzzily) or the words have none."""
        ...

    async def suggest(self, words: tuple[str, ...], limit: int) -> list[Suggestion]: ...


def backend(runtime: Runtime) -> SearchBackend:
    if runtime.settings.search_backend == "elasticsearch":
        return ElasticsearchSearch(runtime)
    return PostgresSearch(runtime)


def words_of(text: str) -> tuple[str, ...]:
    return tuple(word[:40] for word in _WORD.findall(text.lower())[:MAX_QUERY_WORDS])


def _bad(field: str, code: str, message: str) -> ValidationFailed:
    return ValidationFailed(
        message, errors=[FieldError(field=field, message=message, code=code, source="query")]
    )


def _fingerprint(text: str, filters: ProductFilters, sort: str, limit: int) -> str:
    canonical = _encoder.encode([text, msgspec.to_builtins(filters), sort, limit])
    return hashlib.blake2b(canonical, digest_size=12).hexdigest()


def build_request(
    runtime: Runtime, text: str, filters: ProductFilters, *, sort: SearchSort, cursor: str | None, limit: int
) -> SearchRequest:
    text = " ".join(text.split())
    words = words_of(text)
    if not words:
        raise _bad("q", "empty_query", "Search for at least one word.")
    offset = 0
    fingerprint = _fingerprint(text, filters, sort, limit)
    if cursor:
        raw = runtime.cursors.unsign(cursor)
        try:
            cursor_fingerprint, offset = msgspec.json.decode(raw or b"", type=tuple[str, int])
        except msgspec.DecodeError:
            raise _bad("cursor", "invalid_cursor", "The cursor is not one this API issued.") from None
        if cursor_fingerprint != fingerprint:
            raise _bad("cursor", "invalid_cursor", "The cursor belongs to another search.")
    currency = filters.currency or runtime.settings.default_currency
    return SearchRequest(
        text=text,
        words=words,
        filters=filters,
        facet_currency=currency,
        sort=sort,
        offset=offset,
        limit=limit,
    )


def _next_cursor(runtime: Runtime, request: SearchRequest, total: int) -> str | None:
    following = request.offset + request.limit
    if following >= total or following >= MAX_PAGES * request.limit:
        return None
    fingerprint = _fingerprint(request.text, request.filters, request.sort, request.limit)
    return runtime.cursors.sign(_encoder.encode([fingerprint, following]))


class _Total(msgspec.Struct):
    total: int


_total = msgspec.json.Decoder(_Total)


async def search(runtime: Runtime, request: SearchRequest, key: str) -> CachedBody:
    """A page of results with facets (cached under ``key``, the request's identity, until a
    product it may hold changes), counted for statistics."""
    searcher = backend(runtime)
    lexemes = runtime.local_cache(LEXEMES_TOPIC, max_entries=50_000)
    lexeme: str | None = await lexemes.get(request.words, searcher.key_lexeme)
    word = catalog.word_scope(lexeme) if lexeme else None
    scopes = (catalog.EVERYTHING, catalog.ANY_PRODUCT) + ((word,) if word else ())

    async def load() -> bytes | Loaded:
        found = await searcher.search(request)
        found.results.next_cursor = _next_cursor(runtime, request, found.results.total)
        body = _encoder.encode(found.results)
        return Loaded(body, (catalog.EVERYTHING, word)) if word and found.exact else body

    body = await runtime.responses.get(SEARCH_TOPIC, scopes, key, load)
    assert body is not None  # a search always loads
    count_search(runtime, " ".join(request.words), body)
    return body


def cached_search(runtime: Runtime, key: str) -> CachedBody | None:
    """The page this worker holds for the request ``key`` (counted like any search), or None."""
    body = runtime.responses.peek(SEARCH_TOPIC, key)
    if body is not None:
        count_search(runtime, " ".join(words_of(_query_of(key))), body)
    return body


def count_search(runtime: Runtime, words: str, body: CachedBody) -> None:
    found = _total.decode(body.body).total
    runtime.tally.add(STATS_KIND, (datetime.now(UTC).date(), words), 1, 0 if found else 1)
    runtime.metrics.inc(SEARCH_QUERIES, ("found" if found else "zero",))


def _query_of(key: str) -> str:
    """The q parameter of a request key (the raw query string)."""
    for name, value in parse_qsl(key, keep_blank_values=True):
        if name == "q":
            return value
    return ""


MAX_CATEGORY_SUGGESTIONS = 3
# this worker's key lexemes of queries (what the text search configuration makes of their words)
LEXEMES_TOPIC = "search_lexemes"


# Completions follow names (of products and categories) and the dictionary, not prices or
# stock, yet every product write drops the search pages: they are kept per worker for a few
# seconds instead (under the mixed load profile, suggestions were a third of PostgreSQL's time).
SUGGEST_TOPIC = "suggestions"
SUGGEST_TTL_S = 10.0


async def suggest(runtime: Runtime, text: str, limit: int) -> Suggestions:
    """Completions of what is being typed (what this worker answered in the last few seconds)."""
    cache = runtime.local_cache(SUGGEST_TOPIC, max_entries=20_000, ttl_s=SUGGEST_TTL_S)

    async def load(key: tuple[str, int]) -> Suggestions:
        return await _suggest(runtime, *key)

    found: Suggestions = await cache.get((text, limit), load)
    return found


async def _suggest(runtime: Runtime, text: str, limit: int) -> Suggestions:
    """Completions of what is being typed: categories first, then dictionary words and products."""
    words = words_of(text)
    if not words:
        return Suggestions(query=text, items=[])
    index = await catalog.category_index(runtime)
    categories = [
        Suggestion(text=row.name, kind="category", id=row.id, slug=row.slug)
        for row in index.rows.values()
        if _starts_with(words_of(row.name), words) and index.visible(row)
    ][: min(MAX_CATEGORY_SUGGESTIONS, limit)]
    rest = await backend(runtime).suggest(words, limit - len(categories)) if len(categories) < limit else []
    return Suggestions(query=text, items=[*categories, *rest])


def _starts_with(name: tuple[str, ...], typed: tuple[str, ...]) -> bool:
    """Whole words typed so far match the name's first words, and the last one is a prefix."""
    if len(typed) > len(name):
        return False
    return name[: len(typed) - 1] == typed[:-1] and name[len(typed) - 1].startswith(typed[-1])


# --- statistics ----------------------------------------------------------------------------------


async def flush_query_stats(conn: Connection, counts: Counts) -> None:
    """The worker's gathered counts, added to the day's totals in one statement."""
    keys = list(counts)
    await conn.execute(
        Q.record_query_stats,
        [day for day, _ in keys],
        [query for _, query in keys],
        [counts[k][0] for k in keys],
        [counts[k][1] for k in keys],
    )


async def analytics(
    conn: Connection, *, since: date | None, until: date | None, limit: int
) -> SearchAnalytics:
    until = until or datetime.now(UTC).date()
    since = since or until - timedelta(days=29)
    if since > until:
        raise _bad("since", "invalid_range", "since is after until.")
    totals = await conn.fetchrow(Q.query_totals, since, until)
    searches, zero = (int(totals["searches"]), int(totals["zero_results"])) if totals else (0, 0)

    def stats(rows: list[asyncpg.Record]) -> list[QueryStat]:
        return [
            QueryStat(query=r["query"], searches=r["searches"], zero_results=r["zero_results"]) for r in rows
        ]

    return SearchAnalytics(
        since=since,
        until=until,
        searches=searches,
        zero_result_searches=zero,
        zero_result_rate=round(zero / searches, 4) if searches else 0.0,
        popular=stats(await conn.fetch(Q.popular_queries, since, until, limit)),
        zero_results=stats(await conn.fetch(Q.zero_result_queries, since, until, limit)),
    )
