"""A vendor's numbers over a date range, from SQL aggregates over its order lines and stock.

Sales count orders placed in [start, end) (UTC days) that were paid: pending and unpaid
cancelled orders are not sales. Amounts are goods after discounts, before tax, per currency.
Stock alerts are the vendor's stock rows at or below their low-stock threshold now.
"""

from datetime import UTC, date, datetime, time, timedelta

from citadel.auth.models import Principal
from citadel.kit.db import Connection, load_queries
from citadel.kit.errors import FieldError, ValidationFailed
from citadel.vendors.models import DailySales, SalesTotals, StockAlert, TopProduct, VendorAnalytics
from citadel.vendors.service import own_vendor

Q = load_queries(__file__)
MAX_DAYS = 366
TOP = 10
ALERTS = 50


async def analytics(
    conn: Connection, principal: Principal, start: date | None, end: date | None
) -> VendorAnalytics:
    vendor = await own_vendor(conn, principal)
    end = end or datetime.now(UTC).date() + timedelta(days=1)
    start = start or end - timedelta(days=30)
    if not 0 < (end - start).days <= MAX_DAYS:
        raise ValidationFailed(
            "The range ends after it starts and spans at most a year.",
            errors=[FieldError(field="end", message="Out of range", code="out_of_range")],
        )
    since = datetime.combine(start, time.min, tzinfo=UTC)
    until = datetime.combine(end, time.min, tzinfo=UTC)
    totals = await conn.fetch(Q.vendor_sales_totals, vendor.id, since, until)
    daily = await conn.fetch(Q.vendor_sales_daily, vendor.id, since, until)
    top = await conn.fetch(Q.vendor_top_products, vendor.id, since, until, TOP)
    alerts = await conn.fetch(Q.vendor_stock_alerts, vendor.id, ALERTS)
    return VendorAnalytics(
        start=start,
        end=end,
        totals=[SalesTotals(**dict(r)) for r in totals],
        daily=[DailySales(**dict(r)) for r in daily],
        top_products=[TopProduct(**dict(r)) for r in top],
        stock_alerts=[StockAlert(**dict(r)) for r in alerts],
    )
