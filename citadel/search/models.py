"""Search: results with facets, suggestions, and what shoppers searched for."""

import uuid
from datetime import date
from typing import Annotated, Literal

import msgspec

from citadel.catalog.models import ProductFilters, ProductSummary
from citadel.kit.structs import Model

SearchSort = Literal["relevance", "newest", "price_asc", "price_desc", "popular"]
QueryText = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]

MAX_PAGES = 10  # relevance-ranked results page by offset, at most this deep
MAX_QUERY_WORDS = 8


class SearchRequest(msgspec.Struct, frozen=True, kw_only=True):
    """A checked search: the words to match, the filters, the order and the window."""

    text: str  # as the shopper typed it, trimmed
    words: tuple[str, ...]  # lower-case words, at most MAX_QUERY_WORDS
    filters: ProductFilters
    facet_currency: str  # price buckets count products priced in this currency
    sort: SearchSort = "relevance"
    offset: int = 0
    limit: int = 20


class FacetValue(Model):
    value: str
    label: str
    count: int


class PriceBucket(Model):
    min_amount: int
    max_amount: int | None  # None: and above
    count: int


class Facets(Model):
    categories: list[FacetValue]
    vendors: list[FacetValue]
    price: list[PriceBucket]
    price_currency: str
    attributes: dict[str, list[FacetValue]]


class SearchResults(Model):
    total: int
    query: str
    corrected_query: str | None  # the words searched instead, when the typed ones found nothing
    items: list[ProductSummary]
    facets: Facets
    next_cursor: str | None


class Suggestion(Model):
    text: str
    kind: Literal["term", "product", "category"]
    id: uuid.UUID | None = None
    slug: str | None = None


class Suggestions(Model):
    query: str
    items: list[Suggestion]


class QueryStat(Model):
    query: str
    searches: int
    zero_results: int


class SearchAnalytics(Model):
    since: date
    until: date
    searches: int
    zero_result_searches: int
    zero_result_rate: float  # share of searches that found nothing, 0 to 1
    popular: list[QueryStat]
    zero_results: list[QueryStat]
