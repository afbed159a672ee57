"""Payments and refunds: rows, views, what a shopper sends to pay, and payment events."""

import uuid
from datetime import datetime
from typing import Annotated, Literal

from msgspec import Meta

from citadel.kit.structs import Event, Input, Model, Row

ProviderName = Literal["test", "manual"]
PaymentStatus = Literal[
    "pending",  # created with the order; the provider's answer is on its way
    "requires_action",  # the shopper must confirm (3-D Secure and the like)
    "authorized",  # the money is held
    "captured",  # the money is taken
    "failed",  # declined
    "voided",  # given up before capture
    "partially_refunded",
    "refunded",
]


class PaymentInput(Input):
    """How the shopper pays: the ``test`` provider (a test card number) or ``manual`` (a bank
    transfer, confirmed by an admin when the money arrives)."""

    provider: ProviderName
    test_card: Annotated[str, Meta(pattern=r"^[0-9 ]{12,23}$")] | None = None


class PaymentRow(Row, frozen=True):
    id: uuid.UUID
    order_id: uuid.UUID
    provider: ProviderName
    status: PaymentStatus
    amount: int
    currency: str
    captured_amount: int
    refunded_amount: int
    method_details: dict[str, str]
    provider_reference: str | None
    failure_code: str | None
    created_at: datetime
    updated_at: datetime


class Payment(Model):
    id: uuid.UUID
    provider: ProviderName
    status: PaymentStatus
    amount: int
    currency: str
    captured_amount: int
    refunded_amount: int
    method: dict[str, str]  # what may be shown, e.g. {"last4": "4242"}
    failure_code: str | None
    next_action: Literal["confirm", "bank_transfer"] | None  # what the shopper does next
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: PaymentRow) -> "Payment":
        public = {k: v for k, v in row.method_details.items() if k != "outcome"}
        action: Literal["confirm", "bank_transfer"] | None = None
        if row.status == "requires_action":
            action = "confirm"
        elif row.status == "pending" and row.provider == "manual":
            action = "bank_transfer"
        return cls(
            id=row.id, provider=row.provider, status=row.status, amount=row.amount, currency=row.currency,
            captured_amount=row.captured_amount, refunded_amount=row.refunded_amount, method=public,
            failure_code=row.failure_code, next_action=action, created_at=row.created_at,
            updated_at=row.updated_at,
        )  # fmt: skip


class RefundedLine(Model):
    line_id: uuid.UUID
    quantity: int


class RefundRow(Row, frozen=True):
    id: uuid.UUID
    payment_id: uuid.UUID
    order_id: uuid.UUID
    amount: int
    restock: bool
    reason: str
    lines: list[dict[str, str | int]]
    actor_id: uuid.UUID | None
    created_at: datetime


class Refund(Model):
    id: uuid.UUID
    amount: int
    restock: bool
    reason: str
    lines: list[RefundedLine]
    created_at: datetime

    @classmethod
    def of(cls, row: RefundRow) -> "Refund":
        lines = [
            RefundedLine(line_id=uuid.UUID(str(x["lineId"])), quantity=int(x["quantity"])) for x in row.lines
        ]
        return cls(
            id=row.id, amount=row.amount, restock=row.restock, reason=row.reason, lines=lines,
            created_at=row.created_at,
        )  # fmt: skip


# --- events ----------------------------------------------------------------------------------------


class PaymentEvent(Event, frozen=True):
    payment_id: uuid.UUID
    order_id: uuid.UUID
    provider: ProviderName
    amount: int
    currency: str


class PaymentPending(PaymentEvent, frozen=True):
    """A payment waits for its provider (``payments.pending``): the provider's answer follows."""


class PaymentActionRequired(PaymentEvent, frozen=True):
    """The shopper must confirm the payment (``payments.action_required``)."""


class PaymentAuthorized(PaymentEvent, frozen=True):
    """``payments.authorized``"""


class PaymentCaptured(PaymentEvent, frozen=True):
    """``payments.captured``"""


class PaymentFailed(PaymentEvent, frozen=True):
    """``payments.failed``"""

    failure_code: str


class PaymentVoided(PaymentEvent, frozen=True):
    """``payments.voided``"""


class PaymentRefunded(PaymentEvent, frozen=True):
    """``payments.refunded``: ``amount`` is this refund's."""

    refund_id: uuid.UUID
    restock: bool
