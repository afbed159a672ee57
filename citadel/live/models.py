"""What travels over ``/ws``: the client's messages (tagged by ``type``) and the pushes."""

import uuid
from typing import Annotated, Literal

from msgspec import Meta

from citadel.kit.structs import Input, Model

MAX_SUBSCRIPTIONS = 100  # products one socket follows at most


class Auth(Input, tag_field="type", tag="auth"):
    """The first message: an access token, or null for a guest (stock pushes only)."""

    token: Annotated[str, Meta(max_length=4096)] | None = None


class Subscribe(Input, tag_field="type", tag="subscribe"):
    product_ids: Annotated[list[uuid.UUID], Meta(min_length=1, max_length=MAX_SUBSCRIPTIONS)]


class Unsubscribe(Input, tag_field="type", tag="unsubscribe"):
    product_ids: Annotated[list[uuid.UUID], Meta(min_length=1, max_length=MAX_SUBSCRIPTIONS)]


class Ping(Input, tag_field="type", tag="ping"):
    pass


ClientMessage = Auth | Subscribe | Unsubscribe | Ping


class Ready(Model, tag_field="type", tag="ready"):
    user_id: uuid.UUID | None  # null: a guest
    expires_at: int | None  # the socket closes (4401) when its token expires


class Pong(Model, tag_field="type", tag="pong"):
    pass


class Subscribed(Model, tag_field="type", tag="subscribed"):
    product_ids: list[uuid.UUID]


class ErrorMessage(Model, tag_field="type", tag="error"):
    code: str
    detail: str


class VariantAvailability(Model):
    variant_id: uuid.UUID
    available: int


class StockUpdate(Model, tag_field="type", tag="stock"):
    product_id: uuid.UUID
    in_stock: bool
    variants: list[VariantAvailability]


class OrderUpdate(Model, tag_field="type", tag="order_status"):
    order_id: uuid.UUID
    number: str
    from_status: str | None
    to_status: str
    reason: str


Push = Literal["stock", "order_status"]


def stock_topic(product_id: uuid.UUID | str) -> str:
    return f"stock.{product_id}"


def orders_topic(user_id: uuid.UUID | str) -> str:
    return f"orders.{user_id}"
