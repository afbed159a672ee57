"""Vendors: the sellers products belong to, their API keys, commissions and payouts."""

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

import msgspec

from citadel.kit.structs import Event, Input, Model, Row

VendorStatus = Literal["pending", "active", "suspended", "rejected"]
PayoutMethod = Literal["bank_transfer", "paypal", "stripe"]
PayoutStatus = Literal["pending", "paid", "failed"]

# What an API key may do. A signed-in vendor may do all of it; a key only what it names.
SCOPES = (
    "products:read",
    "products:write",
    "stock:read",
    "stock:write",
    "prices:write",
    "orders:read",
    "orders:write",
    "analytics:read",
    "payouts:read",
    "jobs:read",
)
Scope = Literal[
    "products:read",
    "products:write",
    "stock:read",
    "stock:write",
    "prices:write",
    "orders:read",
    "orders:write",
    "analytics:read",
    "payouts:read",
    "jobs:read",
]

Text200 = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Ppm = Annotated[int, msgspec.Meta(ge=0, le=1_000_000)]
Amount = Annotated[int, msgspec.Meta(ge=0)]


class VendorRow(Row, frozen=True):
    id: uuid.UUID
    owner_user_id: uuid.UUID
    name: str
    slug: str
    status: VendorStatus
    created_at: datetime
    updated_at: datetime
    description: str
    contact_email: str | None
    phone: str | None
    website: str | None
    settings: dict[str, Any]
    commission_rate_ppm: int
    payout_method: PayoutMethod
    payout_account: str | None
    status_reason: str | None
    approved_at: datetime | None


class VendorRef(Model):
    """A vendor as products show it."""

    id: uuid.UUID
    name: str
    slug: str


class VendorSettings(Model, forbid_unknown_fields=True):
    """What a vendor decides for itself."""

    low_stock_alerts: bool = True
    default_low_stock_threshold: Annotated[int, msgspec.Meta(ge=0, le=1_000_000)] | None = None
    order_notifications: bool = True
    handling_days: Annotated[int, msgspec.Meta(ge=0, le=60)] = 2


def mask_account(account: str | None) -> str | None:
    """Only the end of a payout account is ever shown."""
    if not account:
        return None
    return "•••• " + account[-4:] if len(account) > 4 else "••••"


class Vendor(Model):
    id: uuid.UUID
    owner_user_id: uuid.UUID
    name: str
    slug: str
    status: VendorStatus
    status_reason: str | None
    description: str
    contact_email: str | None
    phone: str | None
    website: str | None
    settings: VendorSettings
    commission_rate_ppm: int
    payout_method: PayoutMethod
    payout_account: str | None  # masked
    approved_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: VendorRow) -> "Vendor":
        return cls(
            id=row.id,
            owner_user_id=row.owner_user_id,
            name=row.name,
            slug=row.slug,
            status=row.status,
            status_reason=row.status_reason,
            description=row.description,
            contact_email=row.contact_email,
            phone=row.phone,
            website=row.website,
            settings=msgspec.convert(row.settings, VendorSettings),
            commission_rate_ppm=row.commission_rate_ppm,
            payout_method=row.payout_method,
            payout_account=mask_account(row.payout_account),
            approved_at=row.approved_at,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


class VendorPage(Model):
    items: list[Vendor]
    next_cursor: str | None


class VendorApply(Input):
    """A signed-in user applies to sell; an admin decides."""

    name: Text200
    description: Annotated[str, msgspec.Meta(max_length=5000)] = ""
    contact_email: Annotated[str, msgspec.Meta(max_length=254)] | None = None
    phone: Annotated[str, msgspec.Meta(max_length=40)] | None = None
    website: Annotated[str, msgspec.Meta(max_length=500)] | None = None


class VendorProfileUpdate(Input):
    """What a vendor changes of its own profile (its name is fixed once approved)."""

    description: Annotated[str, msgspec.Meta(max_length=5000)] | None = None
    contact_email: Annotated[str, msgspec.Meta(max_length=254)] | None = None
    phone: Annotated[str, msgspec.Meta(max_length=40)] | None = None
    website: Annotated[str, msgspec.Meta(max_length=500)] | None = None
    settings: VendorSettings | None = None
    payout_method: PayoutMethod | None = None
    payout_account: Annotated[str, msgspec.Meta(min_length=4, max_length=100)] | None = None


class VendorAdminUpdate(Input):
    commission_rate_ppm: Ppm | None = None


class VendorDecision(Input):
    reason: Annotated[str, msgspec.Meta(max_length=1000)] | None = None


class VendorApproval(Input):
    commission_rate_ppm: Ppm | None = None  # default: 15%


class VendorStatusChanged(Event, frozen=True):
    vendor_id: uuid.UUID
    owner_user_id: uuid.UUID
    old_status: VendorStatus
    new_status: VendorStatus
    reason: str | None
    changed_by: uuid.UUID


class VendorApplied(Event, frozen=True):
    vendor_id: uuid.UUID
    owner_user_id: uuid.UUID
    name: str


# --- API keys --------------------------------------------------------------------------------------


class ApiKeyRow(Row, frozen=True):
    id: uuid.UUID
    vendor_id: uuid.UUID
    name: str
    prefix: str
    secret_hash: bytes
    scopes: list[str]
    created_by: uuid.UUID
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKey(Model):
    id: uuid.UUID
    name: str
    prefix: str
    scopes: list[str]
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, row: ApiKeyRow) -> "ApiKey":
        return cls(
            id=row.id, name=row.name, prefix=row.prefix, scopes=row.scopes, created_at=row.created_at,
            expires_at=row.expires_at, last_used_at=row.last_used_at, revoked_at=row.revoked_at,
        )  # fmt: skip


class IssuedApiKey(Model):
    """A new key: the secret is shown once, here, and never again."""

    key: ApiKey
    secret: str


class ApiKeyList(Model):
    items: list[ApiKey]


class ApiKeyCreate(Input):
    name: Text200
    scopes: Annotated[list[Scope], msgspec.Meta(min_length=1, max_length=len(SCOPES))]
    expires_at: datetime | None = None


# --- commissions -----------------------------------------------------------------------------------


class CommissionRuleRow(Row, frozen=True):
    id: uuid.UUID
    name: str
    vendor_id: uuid.UUID | None
    category_id: uuid.UUID | None
    currency: str | None
    min_order_amount: int | None
    max_order_amount: int | None
    rate_ppm: int
    min_commission: int | None
    max_commission: int | None
    priority: int
    active: bool
    starts_at: datetime | None
    ends_at: datetime | None
    created_at: datetime
    updated_at: datetime


class CommissionRule(Model):
    id: uuid.UUID
    name: str
    vendor_id: uuid.UUID | None
    category_id: uuid.UUID | None
    currency: str | None
    min_order_amount: int | None
    max_order_amount: int | None
    rate_ppm: int
    min_commission: int | None
    max_commission: int | None
    priority: int
    active: bool
    starts_at: datetime | None
    ends_at: datetime | None
    created_at: datetime
    updated_at: datetime


class CommissionRuleList(Model):
    items: list[CommissionRule]


class CommissionRuleCreate(Input):
    name: Text200
    rate_ppm: Ppm
    vendor_id: uuid.UUID | None = None
    category_id: uuid.UUID | None = None
    currency: str | None = None
    min_order_amount: Amount | None = None
    max_order_amount: Amount | None = None
    min_commission: Amount | None = None
    max_commission: Amount | None = None
    priority: Annotated[int, msgspec.Meta(ge=-1_000_000, le=1_000_000)] = 0
    active: bool = True
    starts_at: datetime | None = None
    ends_at: datetime | None = None


class CommissionRuleUpdate(Input):
    name: Text200 | None = None
    rate_ppm: Ppm | None = None
    vendor_id: uuid.UUID | None = None
    category_id: uuid.UUID | None = None
    currency: str | None = None
    min_order_amount: Amount | None = None
    max_order_amount: Amount | None = None
    min_commission: Amount | None = None
    max_commission: Amount | None = None
    priority: Annotated[int, msgspec.Meta(ge=-1_000_000, le=1_000_000)] | None = None
    active: bool | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None


class CommissionEntry(Model):
    id: uuid.UUID
    order_id: uuid.UUID
    line_id: uuid.UUID
    refund_id: uuid.UUID | None
    kind: Literal["commission", "reversal"]
    currency: str
    gross_amount: int
    commission_amount: int
    rate_ppm: int
    rule_id: uuid.UUID | None
    payout_id: uuid.UUID | None
    occurred_at: datetime


class CommissionPage(Model):
    items: list[CommissionEntry]
    next_cursor: str | None


class CommissionQuote(Input):
    """What a line of this amount in this category would pay, for a vendor (a what-if)."""

    amount: Amount
    currency: str
    order_amount: Amount | None = None
    category_id: uuid.UUID | None = None


class CommissionQuoted(Model):
    amount: int
    currency: str
    commission_amount: int
    rate_ppm: int
    rule_id: uuid.UUID | None


# --- payouts ---------------------------------------------------------------------------------------


class Payout(Model):
    id: uuid.UUID
    vendor_id: uuid.UUID
    period_start: date
    period_end: date
    currency: str
    gross_amount: int
    commission_amount: int
    refund_amount: int
    net_amount: int
    entries: int
    status: PayoutStatus
    method: str
    reference: str
    transaction_id: str | None
    failure_reason: str | None
    created_at: datetime
    updated_at: datetime


class PayoutPage(Model):
    items: list[Payout]
    next_cursor: str | None


class PayoutRun(Input):
    """Pay out every vendor for [periodStart, periodEnd); run again, nothing is paid twice."""

    period_start: date
    period_end: date


class PayoutRunResult(Model):
    period_start: date
    period_end: date
    created: list[Payout]
    already: int  # vendors and currencies already paid out for the period
    skipped: int  # nothing (or nothing positive) to pay


class PayoutPaid(Input):
    transaction_id: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class PayoutFailed(Input):
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=1000)]


class PayoutCreated(Event, frozen=True):
    payout_id: uuid.UUID
    vendor_id: uuid.UUID
    currency: str
    net_amount: int
    period_start: date
    period_end: date


class PayoutSettled(Event, frozen=True):
    payout_id: uuid.UUID
    vendor_id: uuid.UUID
    status: PayoutStatus
    net_amount: int
    currency: str


# --- analytics -------------------------------------------------------------------------------------


class SalesTotals(Model):
    currency: str
    orders: int
    units: int
    gross_amount: int  # goods after discounts, before tax
    refunded_amount: int


class DailySales(Model):
    day: date
    currency: str
    orders: int
    units: int
    gross_amount: int


class TopProduct(Model):
    product_id: uuid.UUID
    name: str
    currency: str
    units: int
    gross_amount: int


class StockAlert(Model):
    variant_id: uuid.UUID
    sku: str
    warehouse_code: str
    available: int
    low_stock_threshold: int


class VendorAnalytics(Model):
    start: date
    end: date  # exclusive
    totals: list[SalesTotals]
    daily: list[DailySales]
    top_products: list[TopProduct]
    stock_alerts: list[StockAlert]
