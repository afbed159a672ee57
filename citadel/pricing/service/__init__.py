"""Pricing: price lists and coupons (admins), the rulebook carts are priced with, and the basket
calculation itself (``calculate``)."""

from citadel.kit.db import Connection
from citadel.pricing.models import Rulebook
from citadel.pricing.service.calculate import STANDARD_TAX_CATEGORY, eligible_lines, price_basket
from citadel.pricing.service.coupons import (
    PROBLEMS,
    CouponCodeTaken,
    CouponInUse,
    CouponNotApplicable,
    CouponNotFound,
    CouponUsedUp,
    automatic_coupons,
    coupon_by_code,
    coupon_row,
    create_coupon,
    customer_key,
    customer_uses,
    delete_coupon,
    get_coupon,
    list_coupons,
    normalize_code,
    redeem,
    release,
    standing_problem,
    update_coupon,
)
from citadel.pricing.service.price_lists import (
    PriceListEntryNotFound,
    PriceListNotFound,
    any_active,
    create_price_list,
    delete_entry,
    delete_price_list,
    get_price_list,
    list_entries,
    list_price_lists,
    price_terms,
    put_entries,
    update_price_list,
)
from citadel.shipping import service as shipping
from citadel.tax import service as tax


async def load_rulebook(conn: Connection) -> Rulebook:
    """Every rule set carts are priced with (callers cache it under ``RULEBOOK_TOPIC``)."""
    return Rulebook(
        tax_rules=await tax.active_rules(conn),
        shipping=await shipping.active_rules(conn),
        automatic=await automatic_coupons(conn),
        has_price_lists=await any_active(conn),
    )


__all__ = [
    "PROBLEMS",
    "STANDARD_TAX_CATEGORY",
    "CouponCodeTaken",
    "CouponInUse",
    "CouponNotApplicable",
    "CouponNotFound",
    "CouponUsedUp",
    "PriceListEntryNotFound",
    "PriceListNotFound",
    "automatic_coupons",
    "coupon_by_code",
    "coupon_row",
    "create_coupon",
    "create_price_list",
    "customer_key",
    "customer_uses",
    "delete_coupon",
    "delete_entry",
    "delete_price_list",
    "eligible_lines",
    "get_coupon",
    "get_price_list",
    "list_coupons",
    "list_entries",
    "list_price_lists",
    "load_rulebook",
    "normalize_code",
    "price_basket",
    "price_terms",
    "put_entries",
    "redeem",
    "release",
    "standing_problem",
    "update_coupon",
    "update_price_list",
]
