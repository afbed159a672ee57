"""``/api/v1/vendors`` (applying; admins decide), ``/api/v1/vendor`` (always the calling vendor's
own scope), ``/api/v1/commission-rules`` and ``/api/v1/payouts`` (admins)."""

import uuid
from datetime import date
from typing import Annotated, Literal

from litestar import Controller, delete, get, patch, post
from litestar.params import FromPath, JSONBody, QueryParameter

from citadel.auth.guards import CurrentPrincipal, requires
from citadel.auth.models import Principal
from citadel.kit.db import Connection
from citadel.kit.http import Cursor, PageSize
from citadel.kit.runtime import Conn, RuntimeDep
from citadel.orders import service as orders
from citadel.orders.models import FulfilmentStatus, Shipment, VendorFulfilment, VendorFulfilmentPage
from citadel.vendors import service
from citadel.vendors.models import (
    ApiKey,
    ApiKeyCreate,
    ApiKeyList,
    CommissionPage,
    CommissionQuote,
    CommissionQuoted,
    CommissionRule,
    CommissionRuleCreate,
    CommissionRuleList,
    CommissionRuleUpdate,
    IssuedApiKey,
    Payout,
    PayoutFailed,
    PayoutPage,
    PayoutPaid,
    PayoutRun,
    PayoutRunResult,
    PayoutStatus,
    Vendor,
    VendorAdminUpdate,
    VendorAnalytics,
    VendorApply,
    VendorApproval,
    VendorDecision,
    VendorPage,
    VendorProfileUpdate,
    VendorStatus,
)
from citadel.vendors.service import analytics, commissions, keys, payouts

Kind = Annotated[Literal["commission", "reversal"] | None, QueryParameter()]


class VendorsController(Controller):
    path = "/api/v1/vendors"
    tags = ["vendors"]

    @post("", operation_id="applyAsVendor", status_code=201, guards=[requires()], summary="Apply to sell")
    async def apply(self, data: JSONBody[VendorApply], tx: Conn, principal: CurrentPrincipal) -> Vendor:
        return await service.apply(tx, principal, data)

    @get("", operation_id="listVendors", guards=[requires("admin")], summary="Vendors and applications")
    async def list_vendors(
        self,
        conn: Conn,
        runtime: RuntimeDep,
        q: Annotated[str | None, QueryParameter(max_length=200)] = None,
        status: Annotated[VendorStatus | None, QueryParameter()] = None,
        sort: Annotated[Literal["newest", "oldest", "name"] | None, QueryParameter()] = None,
        cursor: Cursor = None,
        limit: PageSize = 20,
    ) -> VendorPage:
        return await service.list_vendors(
            conn, runtime.cursors, q=q, status=status, sort=sort, cursor=cursor, limit=limit
        )

    @get("/{vendor_id:uuid}", operation_id="getVendor", guards=[requires("admin")], summary="One vendor")
    async def get_vendor(self, vendor_id: FromPath[uuid.UUID], conn: Conn) -> Vendor:
        return Vendor.of(await service.get_vendor(conn, vendor_id))

    @patch("/{vendor_id:uuid}", operation_id="updateVendor", guards=[requires("admin")], summary="Its terms")
    async def update(
        self, vendor_id: FromPath[uuid.UUID], data: JSONBody[VendorAdminUpdate], tx: Conn
    ) -> Vendor:
        return await service.admin_update(tx, vendor_id, data)

    @post(
        "/{vendor_id:uuid}/approve",
        operation_id="approveVendor",
        status_code=200,
        guards=[requires("admin")],
        summary="Approve an application (the user becomes a vendor)",
    )
    async def approve(
        self,
        vendor_id: FromPath[uuid.UUID],
        data: JSONBody[VendorApproval],
        tx: Conn,
        principal: CurrentPrincipal,
    ) -> Vendor:
        return await service.decide(
            tx, principal, vendor_id, "approve", commission_rate_ppm=data.commission_rate_ppm
        )

    @post(
        "/{vendor_id:uuid}/reject",
        operation_id="rejectVendor",
        status_code=200,
        guards=[requires("admin")],
        summary="Reject an application",
    )
    async def reject(
        self,
        vendor_id: FromPath[uuid.UUID],
        data: JSONBody[VendorDecision],
        tx: Conn,
        principal: CurrentPrincipal,
    ) -> Vendor:
        return await service.decide(tx, principal, vendor_id, "reject", reason=data.reason)

    @post(
        "/{vendor_id:uuid}/suspend",
        operation_id="suspendVendor",
        status_code=200,
        guards=[requires("admin")],
        summary="Stop a vendor selling (its keys pause, its products stay)",
    )
    async def suspend(
        self,
        vendor_id: FromPath[uuid.UUID],
        data: JSONBody[VendorDecision],
        tx: Conn,
        principal: CurrentPrincipal,
    ) -> Vendor:
        return await service.decide(tx, principal, vendor_id, "suspend", reason=data.reason)

    @post(
        "/{vendor_id:uuid}/reinstate",
        operation_id="reinstateVendor",
        status_code=200,
        guards=[requires("admin")],
        summary="Let a suspended vendor sell again",
    )
    async def reinstate(
        self,
        vendor_id: FromPath[uuid.UUID],
        data: JSONBody[VendorDecision],
        tx: Conn,
        principal: CurrentPrincipal,
    ) -> Vendor:
        return await service.decide(tx, principal, vendor_id, "reinstate", reason=data.reason)

    @get(
        "/{vendor_id:uuid}/commissions",
        operation_id="listVendorCommissionsAdmin",
        guards=[requires("admin")],
        summary="A vendor's commission ledger",
    )
    async def commissions_of(
        self,
        vendor_id: FromPath[uuid.UUID],
        conn: Conn,
        runtime: RuntimeDep,
        kind: Kind = None,
        payout_id: Annotated[uuid.UUID | None, QueryParameter(name="payoutId")] = None,
        cursor: Cursor = None,
        limit: PageSize = 20,
    ) -> CommissionPage:
        await service.get_vendor(conn, vendor_id)
        return await commissions.list_entries(
            conn, runtime.cursors, vendor_id, kind=kind, payout_id=payout_id, cursor=cursor, limit=limit
        )


async def _own(conn: Connection, principal: Principal) -> uuid.UUID:
    return (await service.own_vendor(conn, principal)).id


class VendorSelfController(Controller):
    """The calling vendor's own account: everything here is scoped to it."""

    path = "/api/v1/vendor"
    tags = ["vendor"]

    @get(
        "",
        operation_id="getOwnVendor",
        guards=[requires("vendor", "customer")],
        summary="Your vendor profile",
    )
    async def profile(self, conn: Conn, principal: CurrentPrincipal) -> Vendor:
        return Vendor.of(await service.own_vendor(conn, principal))

    @patch(
        "",
        operation_id="updateOwnVendor",
        guards=[requires("vendor", "customer")],
        summary="Change your profile and settings",
    )
    async def update_profile(
        self, data: JSONBody[VendorProfileUpdate], tx: Conn, principal: CurrentPrincipal
    ) -> Vendor:
        return await service.update_profile(tx, principal, data)

    @get("/api-keys", operation_id="listApiKeys", guards=[requires("vendor")], summary="Your API keys")
    async def list_keys(self, conn: Conn, principal: CurrentPrincipal) -> ApiKeyList:
        return ApiKeyList(items=await keys.list_keys(conn, principal))

    @post(
        "/api-keys",
        operation_id="createApiKey",
        status_code=201,
        guards=[requires("vendor")],
        summary="A new key for an integration (its secret is shown once)",
    )
    async def create_key(
        self, data: JSONBody[ApiKeyCreate], tx: Conn, principal: CurrentPrincipal
    ) -> IssuedApiKey:
        return await keys.create(tx, principal, data)

    @delete(
        "/api-keys/{key_id:uuid}",
        operation_id="revokeApiKey",
        status_code=200,
        guards=[requires("vendor")],
        summary="Revoke a key at once",
    )
    async def revoke_key(self, key_id: FromPath[uuid.UUID], tx: Conn, principal: CurrentPrincipal) -> ApiKey:
        return await keys.revoke(tx, principal, key_id)

    @get(
        "/fulfilments",
        operation_id="listOwnFulfilments",
        guards=[requires("vendor", scope="orders:read")],
        summary="Your parts of orders to pack and ship",
    )
    async def fulfilments(
        self,
        conn: Conn,
        runtime: RuntimeDep,
        principal: CurrentPrincipal,
        status: Annotated[FulfilmentStatus | None, QueryParameter()] = None,
        order_status: Annotated[
            Literal["paid", "processing", "shipped", "delivered", "cancelled", "refunded", "pending"] | None,
            QueryParameter(name="orderStatus"),
        ] = None,
        sort: Annotated[Literal["newest", "oldest"] | None, QueryParameter()] = None,
        cursor: Cursor = None,
        limit: PageSize = 20,
    ) -> VendorFulfilmentPage:
        return await orders.vendor_fulfilments(
            conn,
            runtime.cursors,
            await _own(conn, principal),
            status=status,
            order_status=order_status,
            sort=sort,
            cursor=cursor,
            limit=limit,
        )

    @get(
        "/fulfilments/{fulfilment_id:uuid}",
        operation_id="getOwnFulfilment",
        guards=[requires("vendor", scope="orders:read")],
        summary="One of your fulfilments",
    )
    async def fulfilment(
        self, fulfilment_id: FromPath[uuid.UUID], conn: Conn, principal: CurrentPrincipal
    ) -> VendorFulfilment:
        return await orders.vendor_fulfilment(conn, await _own(conn, principal), fulfilment_id)

    async def _advance(
        self, tx: Connection, principal: Principal, fulfilment_id: uuid.UUID, step: str, data: Shipment | None
    ) -> VendorFulfilment:
        vendor_id = await _own(tx, principal)
        await orders.advance_fulfilment(tx, principal, fulfilment_id, step, data)
        return await orders.vendor_fulfilment(tx, vendor_id, fulfilment_id)

    @post(
        "/fulfilments/{fulfilment_id:uuid}/start",
        operation_id="startOwnFulfilment",
        status_code=200,
        guards=[requires("vendor", scope="orders:write")],
        summary="Start picking it",
    )
    async def start(
        self, fulfilment_id: FromPath[uuid.UUID], tx: Conn, principal: CurrentPrincipal
    ) -> VendorFulfilment:
        return await self._advance(tx, principal, fulfilment_id, "start", None)

    @post(
        "/fulfilments/{fulfilment_id:uuid}/pack",
        operation_id="packOwnFulfilment",
        status_code=200,
        guards=[requires("vendor", scope="orders:write")],
        summary="Mark it packed",
    )
    async def pack(
        self, fulfilment_id: FromPath[uuid.UUID], tx: Conn, principal: CurrentPrincipal
    ) -> VendorFulfilment:
        return await self._advance(tx, principal, fulfilment_id, "pack", None)

    @post(
        "/fulfilments/{fulfilment_id:uuid}/ship",
        operation_id="shipOwnFulfilment",
        status_code=200,
        guards=[requires("vendor", scope="orders:write")],
        summary="Shipped, with its tracking",
    )
    async def ship(
        self,
        fulfilment_id: FromPath[uuid.UUID],
        data: JSONBody[Shipment],
        tx: Conn,
        principal: CurrentPrincipal,
    ) -> VendorFulfilment:
        return await self._advance(tx, principal, fulfilment_id, "ship", data)

    @post(
        "/fulfilments/{fulfilment_id:uuid}/deliver",
        operation_id="deliverOwnFulfilment",
        status_code=200,
        guards=[requires("vendor", scope="orders:write")],
        summary="Delivered (books its commissions)",
    )
    async def deliver(
        self, fulfilment_id: FromPath[uuid.UUID], tx: Conn, principal: CurrentPrincipal
    ) -> VendorFulfilment:
        return await self._advance(tx, principal, fulfilment_id, "deliver", None)

    @get(
        "/commissions",
        operation_id="listOwnCommissions",
        guards=[requires("vendor", scope="payouts:read")],
        summary="Your commission ledger",
    )
    async def own_commissions(
        self,
        conn: Conn,
        runtime: RuntimeDep,
        principal: CurrentPrincipal,
        kind: Kind = None,
        payout_id: Annotated[uuid.UUID | None, QueryParameter(name="payoutId")] = None,
        cursor: Cursor = None,
        limit: PageSize = 20,
    ) -> CommissionPage:
        return await commissions.list_entries(
            conn,
            runtime.cursors,
            await _own(conn, principal),
            kind=kind,
            payout_id=payout_id,
            cursor=cursor,
            limit=limit,
        )

    @post(
        "/commissions/quote",
        operation_id="quoteCommission",
        status_code=200,
        guards=[requires("vendor", scope="payouts:read")],
        summary="What a sale would pay in commission",
    )
    async def quote(
        self, data: JSONBody[CommissionQuote], conn: Conn, principal: CurrentPrincipal
    ) -> CommissionQuoted:
        return await commissions.quote(conn, principal, data)

    @get(
        "/payouts",
        operation_id="listOwnPayouts",
        guards=[requires("vendor", scope="payouts:read")],
        summary="Your payouts",
    )
    async def own_payouts(
        self,
        conn: Conn,
        runtime: RuntimeDep,
        principal: CurrentPrincipal,
        status: Annotated[PayoutStatus | None, QueryParameter()] = None,
        cursor: Cursor = None,
        limit: PageSize = 20,
    ) -> PayoutPage:
        return await payouts.list_payouts(
            conn,
            runtime.cursors,
            vendor_id=await _own(conn, principal),
            status=status,
            cursor=cursor,
            limit=limit,
        )

    @get(
        "/payouts/{payout_id:uuid}",
        operation_id="getOwnPayout",
        guards=[requires("vendor", scope="payouts:read")],
        summary="One of your payouts",
    )
    async def own_payout(
        self, payout_id: FromPath[uuid.UUID], conn: Conn, principal: CurrentPrincipal
    ) -> Payout:
        return await payouts.get(conn, principal, payout_id)

    @get(
        "/analytics",
        operation_id="vendorAnalytics",
        guards=[requires("vendor", scope="analytics:read")],
        summary="Sales, orders, top products and stock alerts over a date range",
    )
    async def analytics(
        self,
        conn: Conn,
        principal: CurrentPrincipal,
        start: Annotated[
            date | None, QueryParameter(description="First day (UTC); default 30 days back")
        ] = None,
        end: Annotated[
            date | None, QueryParameter(description="Day after the last; default tomorrow")
        ] = None,
    ) -> VendorAnalytics:
        return await analytics.analytics(conn, principal, start, end)


class CommissionRulesController(Controller):
    path = "/api/v1/commission-rules"
    tags = ["vendors (admin)"]
    guards = [requires("admin")]

    @get("", operation_id="listCommissionRules", summary="Rules by priority (highest first)")
    async def list_rules(
        self, conn: Conn, vendor_id: Annotated[uuid.UUID | None, QueryParameter(name="vendorId")] = None
    ) -> CommissionRuleList:
        return CommissionRuleList(items=await commissions.list_rules(conn, vendor_id))

    @post("", operation_id="createCommissionRule", status_code=201, summary="Add a rule")
    async def create(self, data: JSONBody[CommissionRuleCreate], tx: Conn) -> CommissionRule:
        return await commissions.create_rule(tx, data)

    @get("/{rule_id:uuid}", operation_id="getCommissionRule", summary="One rule")
    async def get_rule(self, rule_id: FromPath[uuid.UUID], conn: Conn) -> CommissionRule:
        return await commissions.get_rule(conn, rule_id)

    @patch("/{rule_id:uuid}", operation_id="updateCommissionRule", summary="Change a rule")
    async def update(
        self, rule_id: FromPath[uuid.UUID], data: JSONBody[CommissionRuleUpdate], tx: Conn
    ) -> CommissionRule:
        return await commissions.update_rule(tx, rule_id, data)

    @delete(
        "/{rule_id:uuid}",
        operation_id="deleteCommissionRule",
        summary="Remove a rule (one that booked commissions is switched off instead)",
    )
    async def remove(self, rule_id: FromPath[uuid.UUID], tx: Conn) -> None:
        await commissions.delete_rule(tx, rule_id)


class PayoutsController(Controller):
    path = "/api/v1/payouts"
    tags = ["vendors (admin)"]
    guards = [requires("admin")]

    @get("", operation_id="listPayouts", summary="Payouts, newest first")
    async def list_payouts(
        self,
        conn: Conn,
        runtime: RuntimeDep,
        vendor_id: Annotated[uuid.UUID | None, QueryParameter(name="vendorId")] = None,
        status: Annotated[PayoutStatus | None, QueryParameter()] = None,
        cursor: Cursor = None,
        limit: PageSize = 20,
    ) -> PayoutPage:
        return await payouts.list_payouts(
            conn, runtime.cursors, vendor_id=vendor_id, status=status, cursor=cursor, limit=limit
        )

    @post("/run", operation_id="runPayouts", status_code=200, summary="Pay out a period (idempotent)")
    async def run(self, data: JSONBody[PayoutRun], tx: Conn) -> PayoutRunResult:
        return await payouts.run(tx, data)

    @get("/{payout_id:uuid}", operation_id="getPayout", summary="One payout")
    async def get_payout(
        self, payout_id: FromPath[uuid.UUID], conn: Conn, principal: CurrentPrincipal
    ) -> Payout:
        return await payouts.get(conn, principal, payout_id)

    @post(
        "/{payout_id:uuid}/paid",
        operation_id="markPayoutPaid",
        status_code=200,
        summary="The transfer went out",
    )
    async def paid(self, payout_id: FromPath[uuid.UUID], data: JSONBody[PayoutPaid], tx: Conn) -> Payout:
        return await payouts.settle(tx, payout_id, "paid", transaction_id=data.transaction_id)

    @post(
        "/{payout_id:uuid}/failed",
        operation_id="markPayoutFailed",
        status_code=200,
        summary="The transfer failed (its entries are paid by a later run)",
    )
    async def failed(self, payout_id: FromPath[uuid.UUID], data: JSONBody[PayoutFailed], tx: Conn) -> Payout:
        return await payouts.settle(tx, payout_id, "failed", reason=data.reason)
