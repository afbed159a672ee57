"""The catalog's rules: categories, products and variants, and the cached public reads."""

from citadel.catalog.service.categories import (
    CategoryIndex,
    CategoryNotFound,
    category_index,
    create_category,
    delete_category,
    get_category,
    move_category,
    update_category,
)
from citadel.catalog.service.filters import parse_filters
from citadel.catalog.service.listings import (
    ANY_PRODUCT,
    EVERYTHING,
    invalidate_listings,
    listing_scopes,
    listings_changed,
    word_scope,
)
from citadel.catalog.service.products import (
    ProductNotFound,
    VariantNotFound,
    archive_product,
    create_product,
    preview_product,
    update_product,
    vendor_products,
)
from citadel.catalog.service.reads import (
    category_tree,
    filter_values,
    list_products,
    list_vendor_products,
    product_detail,
    product_page,
    sellable_variants,
)
from citadel.catalog.service.variants import add_variant, archive_variant, generate_variants, update_variant

__all__ = [
    "ANY_PRODUCT",
    "EVERYTHING",
    "CategoryIndex",
    "CategoryNotFound",
    "ProductNotFound",
    "VariantNotFound",
    "add_variant",
    "archive_product",
    "archive_variant",
    "category_index",
    "category_tree",
    "create_category",
    "create_product",
    "delete_category",
    "filter_values",
    "generate_variants",
    "get_category",
    "invalidate_listings",
    "list_products",
    "list_vendor_products",
    "listing_scopes",
    "listings_changed",
    "move_category",
    "parse_filters",
    "preview_product",
    "product_detail",
    "product_page",
    "sellable_variants",
    "update_category",
    "update_product",
    "update_variant",
    "vendor_products",
    "word_scope",
]
