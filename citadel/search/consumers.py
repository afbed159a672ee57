"""Keeping the Elasticsearch index in step with the catalog (only when search runs there)."""

import uuid
from typing import Any

from citadel.catalog import service as catalog
from citadel.catalog.models import SEARCH_TOPIC, CategoryChanged
from citadel.kit.consumers import Consumer
from citadel.kit.db import Connection
from citadel.kit.events import Envelope
from citadel.search.service import elasticsearch
from citadel.settings import Settings

PRODUCT_EVENTS = frozenset(
    {
        "catalog.product_created",
        "catalog.product_updated",
        "catalog.product_archived",
        "catalog.price_changed",
        "catalog.stock_status_changed",
    }
)


def consumers(settings: Settings, client: Any | None) -> list[Consumer]:
    if settings.search_backend != "elasticsearch" or client is None:
        return []
    index = elasticsearch.alias_name(settings)
    ready = False

    async def index_batch(conn: Connection, events: list[tuple[Any, Envelope]]) -> None:
        nonlocal ready
        if not ready:
            await elasticsearch.ensure_index(client, settings)
            ready = True
        product_ids: list[uuid.UUID] = []
        categories: list[uuid.UUID] = []
        for data, _ in events:
            if isinstance(data, CategoryChanged):
                categories.append(data.category_id)
            else:
                product_ids.append(data.product_id)
        if categories:
            product_ids += await elasticsearch.products_of_categories(conn, categories)
        await elasticsearch.sync_products(client, index, conn, product_ids, visible=True)
        # The writes dropped the search pages at their commit, but a page loaded since then read
        # the index before this sync: drop the pages again now that the index holds the change
        # (Elasticsearch pages depend on every product: its fuzzy matches promise no word).
        conn.invalidate_after_commit(SEARCH_TOPIC, catalog.ANY_PRODUCT)

    return [
        Consumer(
            name="search-index",
            domain="catalog",
            batch_handler=index_batch,
            batch_types=PRODUCT_EVENTS | {"catalog.category_changed"},
        )
    ]
