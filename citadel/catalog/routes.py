"""``/api/v1/categories`` and ``/api/v1/products``: the public catalog, and its management.

Public reads take no dependencies but the request (the hot path pays for no DI layer) and send
cached, pre-encoded bodies with their ETag; writes take a transaction and the principal.
"""

import uuid
from typing import Annotated, Any

from litestar import Controller, Request, delete, get, patch, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from citadel.auth.guards import CurrentPrincipal, ScopeRequired, authenticate, has_credentials, requires
from citadel.catalog import service
from citadel.catalog.models import (
    PRODUCT_LISTS_TOPIC,
    Category,
    CategoryCreate,
    CategoryMove,
    CategoryTree,
    CategoryUpdate,
    ListSort,
    ProductCreate,
    ProductDetail,
    ProductPage,
    ProductUpdate,
    VariantGenerate,
    VariantInput,
    VariantUpdate,
)
from citadel.kit.http import BodyResponse, Cursor, PageSize, json_bytes, private_json, reject_unknown_query
from citadel.kit.runtime import Conn, RuntimeDep, runtime_of

Sort = Annotated[ListSort, QueryParameter(description="newest, price_asc, price_desc or popular")]
LIST_PARAMETERS = frozenset(
    {
        "category",
        "vendor",
        "minPrice",
        "maxPrice",
        "currency",
        "inStock",
        "tag",
        "attr",
        "sort",
        "cursor",
        "limit",
    }
)


async def _filters(request: Request[Any, Any, Any], **values: Any) -> Any:
    reject_unknown_query(request.scope, LIST_PARAMETERS)
    return await service.parse_filters(runtime_of(request), **values)


class CategoriesController(Controller):
    path = "/api/v1/categories"
    tags = ["categories"]

    @get(
        "",
        operation_id="getCategoryTree",
        summary="The active category tree",
        responses={200: ResponseSpec(CategoryTree, description="Roots in display order, children nested")},
    )
    async def tree(self, request: Request[Any, Any, Any]) -> BodyResponse:
        runtime = runtime_of(request)
        body = await service.category_tree(runtime)
        return json_bytes(request.scope, body, runtime.public_cache_control)

    @get("/{ref:str}", operation_id="getCategory", summary="A category by id or slug, with breadcrumbs")
    async def get_category(self, ref: FromPath[str], runtime: RuntimeDep) -> Category:
        return await service.get_category(runtime, ref)

    @get(
        "/{ref:str}/products",
        operation_id="listCategoryProducts",
        summary="Active products of a category and its descendants",
        responses={200: ResponseSpec(ProductPage, description="A page of products")},
    )
    async def products(
        self,
        request: Request[Any, Any, Any],
        ref: FromPath[str],
        sort: Sort = "newest",
        cursor: Cursor = None,
        limit: PageSize = 20,
    ) -> BodyResponse:
        runtime = runtime_of(request)
        key = f"category/{ref}?{request.scope['query_string'].decode('latin-1')}"
        if hit := runtime.responses.peek(PRODUCT_LISTS_TOPIC, key):
            return json_bytes(request.scope, hit, runtime.public_cache_control)
        reject_unknown_query(request.scope, frozenset({"sort", "cursor", "limit"}))
        filters = await service.parse_filters(runtime, category=ref)
        body = await service.list_products(runtime, filters, sort=sort, cursor=cursor, limit=limit, key=key)
        return json_bytes(request.scope, body, runtime.public_cache_control)

    @post(
        "",
        operation_id="createCategory",
        status_code=201,
        guards=[requires("admin")],
        summary="Add a category",
    )
    async def create(self, data: JSONBody[CategoryCreate], tx: Conn) -> Category:
        return await service.create_category(tx, data)

    @patch(
        "/{category_id:uuid}",
        operation_id="updateCategory",
        guards=[requires("admin")],
        summary="Change a category",
    )
    async def update(
        self, category_id: FromPath[uuid.UUID], data: JSONBody[CategoryUpdate], tx: Conn
    ) -> Category:
        return await service.update_category(tx, category_id, data)

    @post(
        "/{category_id:uuid}/move",
        operation_id="moveCategory",
        status_code=200,
        guards=[requires("admin")],
        summary="Move a category (and its subtree) under another parent, or to the top",
    )
    async def move(
        self, category_id: FromPath[uuid.UUID], data: JSONBody[CategoryMove], tx: Conn
    ) -> Category:
        return await service.move_category(tx, category_id, data)

    @delete(
        "/{category_id:uuid}",
        operation_id="deleteCategory",
        guards=[requires("admin")],
        summary="Delete a category; one with children or products needs reassignTo",
    )
    async def delete(
        self,
        category_id: FromPath[uuid.UUID],
        tx: Conn,
        reassign_to: Annotated[uuid.UUID | None, QueryParameter(name="reassignTo")] = None,
    ) -> None:
        await service.delete_category(tx, category_id, reassign_to)


class CategoriesAdminController(Controller):
    path = "/api/v1/admin/categories"
    tags = ["categories"]
    guards = [requires("admin")]

    @get("", operation_id="getFullCategoryTree", summary="Every category, inactive ones too")
    async def tree(self, runtime: RuntimeDep) -> CategoryTree:
        return (await service.category_index(runtime)).tree(active_only=False)


class ProductsController(Controller):
    path = "/api/v1/products"
    tags = ["products"]

    @get(
        "",
        operation_id="listProducts",
        summary="Active products, filtered, sorted and paged by cursor",
        responses={200: ResponseSpec(ProductPage, description="A page of products")},
    )
    async def list_products(
        self,
        request: Request[Any, Any, Any],
        category: Annotated[
            str | None, QueryParameter(description="Category id or slug (with its descendants)")
        ] = None,
        vendor: FromQuery[uuid.UUID | None] = None,
        min_price: Annotated[int | None, QueryParameter(name="minPrice", ge=0)] = None,
        max_price: Annotated[int | None, QueryParameter(name="maxPrice", ge=0)] = None,
        currency: Annotated[str | None, QueryParameter(description="Currency of the price bounds")] = None,
        in_stock: Annotated[bool | None, QueryParameter(name="inStock")] = None,
        tag: Annotated[list[str] | None, QueryParameter(description="Products with every tag given")] = None,
        attr: Annotated[
            list[str] | None, QueryParameter(description="key:value, e.g. colour:red (all must match)")
        ] = None,
        sort: Sort = "newest",
        cursor: Cursor = None,
        limit: PageSize = 20,
    ) -> BodyResponse:
        runtime = runtime_of(request)
        # a page this worker holds is found by the query as sent, before any parsing: only a
        # query that passed every check was ever kept
        key = "products?" + request.scope["query_string"].decode("latin-1")
        if hit := runtime.responses.peek(PRODUCT_LISTS_TOPIC, key):
            return json_bytes(request.scope, hit, runtime.public_cache_control)
        filters = await _filters(
            request, category=category, vendor=vendor, min_price=min_price, max_price=max_price,
            currency=currency, in_stock=in_stock, tags=tag, attributes=attr,
        )  # fmt: skip
        body = await service.list_products(runtime, filters, sort=sort, cursor=cursor, limit=limit, key=key)
        return json_bytes(request.scope, body, runtime.public_cache_control)

    @get(
        "/{ref:str}",
        operation_id="getProduct",
        summary="An active product by id or slug (drafts for their vendor and admins)",
        responses={200: ResponseSpec(ProductDetail, description="The product page")},
    )
    async def get_product(self, request: Request[Any, Any, Any]) -> BodyResponse:
        # the id or slug is read from the path, not injected: no signature model on this hot read
        ref: str = request.path_params["ref"]
        runtime = runtime_of(request)
        body = await service.product_page(runtime, ref)
        if body is not None:
            return json_bytes(request.scope, body, runtime.public_cache_control)
        if has_credentials(request):  # maybe a draft its vendor or an admin may preview
            principal = await authenticate(request)
            if not principal.may("products:read"):
                raise ScopeRequired("This needs an API key with the scope products:read.")
            async with runtime.db.connection() as conn:
                detail = await service.preview_product(conn, principal, ref)
            return private_json(detail)
        raise service.ProductNotFound()

    @post(
        "",
        operation_id="createProduct",
        status_code=201,
        guards=[requires("vendor", "admin", scope="products:write")],
        summary="List a product with its variants",
    )
    async def create(
        self, data: JSONBody[ProductCreate], tx: Conn, principal: CurrentPrincipal
    ) -> ProductDetail:
        return await service.create_product(tx, principal, data)

    @patch(
        "/{product_id:uuid}",
        operation_id="updateProduct",
        guards=[requires("vendor", "admin", scope="products:write")],
        summary="Change a product (status too: draft, active, archived)",
    )
    async def update(
        self,
        product_id: FromPath[uuid.UUID],
        data: JSONBody[ProductUpdate],
        tx: Conn,
        principal: CurrentPrincipal,
    ) -> ProductDetail:
        return await service.update_product(tx, principal, product_id, data)

    @delete(
        "/{product_id:uuid}",
        operation_id="archiveProduct",
        guards=[requires("vendor", "admin", scope="products:write")],
        summary="Archive a product (orders keep referring to it)",
    )
    async def archive(self, product_id: FromPath[uuid.UUID], tx: Conn, principal: CurrentPrincipal) -> None:
        await service.archive_product(tx, principal, product_id)

    @post(
        "/{product_id:uuid}/variants",
        operation_id="addVariant",
        status_code=201,
        guards=[requires("vendor", "admin", scope="products:write")],
        summary="Add a variant",
    )
    async def add_variant(
        self,
        product_id: FromPath[uuid.UUID],
        data: JSONBody[VariantInput],
        tx: Conn,
        principal: CurrentPrincipal,
    ) -> ProductDetail:
        return await service.add_variant(tx, principal, product_id, data)

    @post(
        "/{product_id:uuid}/variants/generate",
        operation_id="generateVariants",
        status_code=200,
        guards=[requires("vendor", "admin", scope="products:write")],
        summary="Add the missing combinations of the product's options",
    )
    async def generate(
        self,
        product_id: FromPath[uuid.UUID],
        data: JSONBody[VariantGenerate],
        tx: Conn,
        principal: CurrentPrincipal,
    ) -> ProductDetail:
        return await service.generate_variants(tx, principal, product_id, data)

    @patch(
        "/{product_id:uuid}/variants/{variant_id:uuid}",
        operation_id="updateVariant",
        guards=[requires("vendor", "admin", scope="products:write")],
        summary="Change a variant",
    )
    async def update_variant(
        self,
        product_id: FromPath[uuid.UUID],
        variant_id: FromPath[uuid.UUID],
        data: JSONBody[VariantUpdate],
        tx: Conn,
        principal: CurrentPrincipal,
    ) -> ProductDetail:
        return await service.update_variant(tx, principal, product_id, variant_id, data)

    @delete(
        "/{product_id:uuid}/variants/{variant_id:uuid}",
        operation_id="archiveVariant",
        status_code=200,
        guards=[requires("vendor", "admin", scope="products:write")],
        summary="Archive a variant",
    )
    async def archive_variant(
        self,
        product_id: FromPath[uuid.UUID],
        variant_id: FromPath[uuid.UUID],
        tx: Conn,
        principal: CurrentPrincipal,
    ) -> ProductDetail:
        return await service.archive_variant(tx, principal, product_id, variant_id)


class VendorProductsController(Controller):
    path = "/api/v1/vendor/products"
    tags = ["products"]
    guards = [requires("vendor", "admin", scope="products:read")]

    @get(
        "", operation_id="listVendorProducts", summary="Your products of every status (admins: any vendor's)"
    )
    async def list_products(
        self,
        conn: Conn,
        runtime: RuntimeDep,
        principal: CurrentPrincipal,
        status: Annotated[str | None, QueryParameter(pattern="^(draft|active|archived)$")] = None,
        vendor_id: Annotated[
            uuid.UUID | None, QueryParameter(name="vendorId", description="Admins only")
        ] = None,
        sort: Sort = "newest",
        cursor: Cursor = None,
        limit: PageSize = 20,
    ) -> ProductPage:
        return await service.vendor_products(
            conn,
            runtime.cursors,
            principal,
            vendor_id=vendor_id,
            status=status,
            sort=sort,
            cursor=cursor,
            limit=limit,
        )
