"""The Elasticsearch client of a process, when search runs on Elasticsearch.

The official async client is an optional extra (``citadel[elasticsearch]``): it is imported only
when ``CITADEL_SEARCH_BACKEND=elasticsearch``, so the default (PostgreSQL search) needs none of it.
"""

from typing import Any

from citadel.settings import Settings

REQUEST_TIMEOUT_S = 5.0


def open_elasticsearch(settings: Settings) -> Any | None:
    """A client for ``CITADEL_ELASTICSEARCH_URL`` if search uses Elasticsearch, else None."""
    if settings.search_backend != "elasticsearch" or settings.elasticsearch_url is None:
        return None
    from elasticsearch import AsyncElasticsearch  # noqa: PLC0415 - the optional extra, only for this backend

    return AsyncElasticsearch(settings.elasticsearch_url.reveal(), request_timeout=REQUEST_TIMEOUT_S)
