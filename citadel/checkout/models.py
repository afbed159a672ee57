"""What a shopper sends to check out."""

from typing import Annotated

from msgspec import Meta

from citadel.cart.models import Email
from citadel.kit.money import CurrencyCode
from citadel.kit.structs import Input
from citadel.payments.models import PaymentInput


class CheckoutInput(Input):
    """``expectedTotal`` is the total the shopper saw; a different total now is 409 ``price_changed``."""

    expected_total: Annotated[int, Meta(ge=0)]
    payment: PaymentInput
    currency: CurrencyCode | None = None
    email: Email | None = None  # a guest's, unless the cart has one
