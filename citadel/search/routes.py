"""``/api/v1/search``: full-text search with facets, suggestions, and statistics for admins."""

import uuid
from datetime import date
from typing import Annotated, Any

from litestar import Controller, Request, get
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromQuery, QueryParameter

from citadel.auth.guards import requires
from citadel.catalog import service as catalog
from citadel.kit.http import BodyResponse, json_bytes, reject_unknown_query
from citadel.kit.runtime import Conn, RuntimeDep, runtime_of
from citadel.search import service
from citadel.search.models import SearchAnalytics, SearchResults, SearchSort, Suggestions

SEARCH_PARAMETERS = frozenset(
    {"q", "category", "vendor", "minPrice", "maxPrice", "currency", "inStock", "tag", "attr"}
    | {"sort", "cursor", "limit"}
)


class SearchController(Controller):
    path = "/api/v1/search"
    tags = ["search"]

    @get(
        "",
        operation_id="searchProducts",
        summary="Products matching words (typos forgiven), with facet counts",
        responses={200: ResponseSpec(SearchResults, description="Ranked results and facets")},
    )
    async def search(
        self,
        request: Request[Any, Any, Any],
        q: Annotated[str, QueryParameter(min_length=1, max_length=200)],
        category: FromQuery[str | None] = None,
        vendor: FromQuery[uuid.UUID | None] = None,
        min_price: Annotated[int | None, QueryParameter(name="minPrice", ge=0)] = None,
        max_price: Annotated[int | None, QueryParameter(name="maxPrice", ge=0)] = None,
        currency: FromQuery[str | None] = None,
        in_stock: Annotated[bool | None, QueryParameter(name="inStock")] = None,
        tag: FromQuery[list[str] | None] = None,
        attr: Annotated[list[str] | None, QueryParameter(description="key:value, e.g. colour:red")] = None,
        sort: FromQuery[SearchSort] = "relevance",
        cursor: Annotated[str | None, QueryParameter(max_length=1000)] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=100)] = 20,
    ) -> BodyResponse:
        runtime = runtime_of(request)
        key = request.scope["query_string"].decode("latin-1")
        if hit := service.cached_search(runtime, key):
            return json_bytes(request.scope, hit, runtime.public_cache_control)
        reject_unknown_query(request.scope, SEARCH_PARAMETERS)
        filters = await catalog.parse_filters(
            runtime, category=category, vendor=vendor, min_price=min_price, max_price=max_price,
            currency=currency, in_stock=in_stock, tags=tag, attributes=attr,
        )  # fmt: skip
        search_request = service.build_request(runtime, q, filters, sort=sort, cursor=cursor, limit=limit)
        body = await service.search(runtime, search_request, key)
        return json_bytes(request.scope, body, runtime.public_cache_control)

    @get("/suggest", operation_id="suggestSearch", summary="Completions of a partly typed search")
    async def suggest(
        self,
        runtime: RuntimeDep,
        q: Annotated[str, QueryParameter(min_length=1, max_length=100)],
        limit: Annotated[int, QueryParameter(ge=1, le=20)] = 8,
    ) -> Suggestions:
        return await service.suggest(runtime, q, limit)


class SearchAdminController(Controller):
    path = "/api/v1/admin/search"
    tags = ["search"]
    guards = [requires("admin")]

    @get("/analytics", operation_id="searchAnalytics", summary="Popular and zero-result searches")
    async def analytics(
        self,
        conn: Conn,
        since: FromQuery[date | None] = None,
        until: FromQuery[date | None] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=100)] = 20,
    ) -> SearchAnalytics:
        return await service.analytics(conn, since=since, until=until, limit=limit)
