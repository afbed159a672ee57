"""Which cached list and search pages a product write reaches.

Every cached list page and search page depends on ``EVERYTHING`` (bumped by what reaches all of
them: a category moved or renamed, a warehouse switched off, a write of many products at once)
and on one narrower scope, chosen by what the page asks for:

- a category's list (with its descendants): ``c:<category id>``; a product write reaches the
  scopes of its category and of every ancestor, before and after the write;
- a vendor's list: ``v:<vendor id>``;
- any other list: ``ANY_PRODUCT``, reached by every write of a public product;
- a search answered from the products holding every word of the query: ``w:<lexeme>`` of one of
  its words (a product holding all of them holds that one), reached by a write of any product
  whose document holds the lexeme, before or after; an answer that took a prefix or a
  correction, or found nothing, depends on ``ANY_PRODUCT`` instead.

So a vendor's import of uncategorised products leaves every category page and every search for
other words cached, instead of sending all of them back to PostgreSQL.
"""

import uuid
from collections.abc import Collection, Iterable

from citadel.catalog.models import PRODUCT_LISTS_TOPIC, SEARCH_TOPIC, ProductFilters
from citadel.kit.db import Connection, load_queries

Q = load_queries(__file__)

EVERYTHING = "*"
ANY_PRODUCT = "p"
# a write of more products than this reaches EVERYTHING (one bump instead of thousands of scopes)
MAX_SCOPED_PRODUCTS = 200

Scopes = tuple[str, ...]


def list_scopes(filters: ProductFilters) -> Scopes:
    """The scopes a list page with these filters depends on."""
    if filters.category_ids:
        return EVERYTHING, f"c:{filters.category_ids[0]}"  # the category asked for comes first
    if filters.vendor_id is not None:
        return EVERYTHING, f"v:{filters.vendor_id}"
    return EVERYTHING, ANY_PRODUCT


def word_scope(lexeme: str) -> str:
    return f"w:{lexeme}"


async def listing_scopes(conn: Connection, product_ids: Collection[uuid.UUID]) -> frozenset[str]:
    """The scopes these products reach as they stand now (in this transaction)."""
    if len(product_ids) > MAX_SCOPED_PRODUCTS:
        return frozenset({EVERYTHING})
    if not product_ids:
        return frozenset()
    found: list[str] | None = await conn.fetchval(Q.listing_scopes, list(product_ids))
    return frozenset({ANY_PRODUCT, *(found or ())})


def invalidate_listings(conn: Connection, scopes: Iterable[str]) -> None:
    """Drop, after commit, the cached list and search pages of these scopes."""
    for scope in scopes:
        if scope in (EVERYTHING, ANY_PRODUCT):
            conn.invalidate_after_commit(PRODUCT_LISTS_TOPIC, scope)
            conn.invalidate_after_commit(SEARCH_TOPIC, scope)
        elif scope.startswith("w:"):
            conn.invalidate_after_commit(SEARCH_TOPIC, scope)
        else:
            conn.invalidate_after_commit(PRODUCT_LISTS_TOPIC, scope)


async def listings_changed(
    conn: Connection, product_ids: Collection[uuid.UUID], before: frozenset[str] = frozenset()
) -> None:
    """The pages these products were on (``before``, taken ahead of the write) or are on now."""
    invalidate_listings(conn, before | await listing_scopes(conn, product_ids))
