"""Payment providers behind one interface, and the two built in.

A provider validates what the shopper sent (``prepare``, no I/O, so it runs inside the
checkout's transaction), then answers authorize / capture / void / refund calls, which for a
real provider are network calls made by the worker after the order committed (Stripe and
PayPal adapters fit the same methods; their webhooks become the same answers).

- ``test``: card numbers decide the outcome, as card networks' test numbers do; it authorizes and
  captures at once, or declines, or asks the shopper to confirm first. Only the last four
  digits and the outcome are stored, never the number.
- ``manual``: a bank transfer or cash on delivery: nothing happens until an admin confirms that
  the money arrived (a capture).
"""

from typing import Literal, Protocol

import msgspec

from citadel.kit.errors import FieldError, ValidationFailed
from citadel.payments.models import PaymentInput, PaymentRow, ProviderName
from citadel.settings import Settings

Outcome = Literal["authorized", "captured", "requires_action", "failed", "pending"]


class ProviderAnswer(msgspec.Struct, frozen=True, kw_only=True):
    outcome: Outcome
    failure_code: str | None = None


class PaymentProvider(Protocol):
    name: ProviderName

    def hold_seconds(self, settings: Settings) -> int:
        """How long an unpaid order keeps its stock held."""
        ...

    def prepare(self, data: PaymentInput) -> dict[str, str]:
        """The payment method's details to store (nothing secret), or a 422."""
        ...

    async def authorize(self, payment: PaymentRow) -> ProviderAnswer: ...

    async def capture(self, payment: PaymentRow, amount: int) -> ProviderAnswer: ...

    async def void(self, payment: PaymentRow) -> None: ...

    async def refund(self, payment: PaymentRow, amount: int) -> None: ...


# The test cards: number -> what the provider does with it.
TEST_CARDS: dict[str, str] = {
    "4242424242424242": "succeed",
    "5555555555554444": "succeed",
    "4000000000000002": "card_declined",
    "4000000000009995": "insufficient_funds",
    "4000002500003155": "requires_action",
}


class TestProvider:
    name: ProviderName = "test"

    def hold_seconds(self, settings: Settings) -> int:
        return settings.payment_hold_test_s

    def prepare(self, data: PaymentInput) -> dict[str, str]:
        number = (data.test_card or "").replace(" ", "")
        if not number:
            raise ValidationFailed(
                "The test provider needs a test card number.",
                errors=[FieldError(field="payment.testCard", message="Required", code="required")],
            )
        outcome = TEST_CARDS.get(number)
        if outcome is None:
            raise ValidationFailed(
                "Use one of the test cards: " + ", ".join(sorted(TEST_CARDS)) + ".",
                errors=[
                    FieldError(field="payment.testCard", message="Not a test card", code="card_not_supported")
                ],
            )
        return {"brand": "test", "last4": number[-4:], "outcome": outcome}

    async def authorize(self, payment: PaymentRow) -> ProviderAnswer:
        outcome = payment.method_details.get("outcome", "succeed")
        if outcome == "requires_action" and payment.method_details.get("confirmed") != "yes":
            return ProviderAnswer(outcome="requires_action")
        if outcome in {"card_declined", "insufficient_funds"}:
            return ProviderAnswer(outcome="failed", failure_code=outcome)
        return ProviderAnswer(outcome="captured")  # authorized and captured at once

    async def capture(self, payment: PaymentRow, amount: int) -> ProviderAnswer:
        return ProviderAnswer(outcome="captured")

    async def void(self, payment: PaymentRow) -> None:
        return None

    async def refund(self, payment: PaymentRow, amount: int) -> None:
        return None


class ManualProvider:
    name: ProviderName = "manual"

    def hold_seconds(self, settings: Settings) -> int:
        return settings.payment_hold_manual_s

    def prepare(self, data: PaymentInput) -> dict[str, str]:
        if data.test_card is not None:
            raise ValidationFailed(
                "A manual payment takes no card.",
                errors=[FieldError(field="payment.testCard", message="Not allowed", code="not_allowed")],
            )
        return {"method": "bank_transfer"}

    async def authorize(self, payment: PaymentRow) -> ProviderAnswer:
        return ProviderAnswer(outcome="pending")  # until an admin confirms the transfer

    async def capture(self, payment: PaymentRow, amount: int) -> ProviderAnswer:
        return ProviderAnswer(outcome="captured")

    async def void(self, payment: PaymentRow) -> None:
        return None

    async def refund(self, payment: PaymentRow, amount: int) -> None:
        return None  # paid back by bank transfer, outside Citadel


PROVIDERS: dict[str, PaymentProvider] = {"test": TestProvider(), "manual": ManualProvider()}
