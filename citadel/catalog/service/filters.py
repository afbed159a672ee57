"""From query parameters to checked ``ProductFilters``, for product lists and search alike."""

import re
import uuid

from citadel.catalog.models import ProductFilters
from citadel.catalog.service.categories import category_index
from citadel.kit.errors import FieldError, ValidationFailed
from citadel.kit.runtime import Runtime

MAX_TAG_FILTERS = 10
MAX_ATTRIBUTE_FILTERS = 10
_ATTRIBUTE = re.compile(r"^(?P<key>[a-z][a-z0-9_]{0,39}):(?P<value>.{1,200})$")


def _bad(field: str, code: str, message: str) -> ValidationFailed:
    return ValidationFailed(
        message, errors=[FieldError(field=field, message=message, code=code, source="query")]
    )


def _typings(text: str) -> tuple[str | int | bool, ...]:
    """Every value an attribute given as text may hold: "42" is 42 or "42"; "true" is true or "true"."""
    values: list[str | int | bool] = [text]
    if text in {"true", "false"}:
        values.append(text == "true")
    elif re.fullmatch(r"-?\d{1,15}", text):
        values.append(int(text))
    return tuple(values)


async def parse_filters(
    runtime: Runtime,
    *,
    category: str | None = None,
    vendor: uuid.UUID | None = None,
    min_price: int | None = None,
    max_price: int | None = None,
    currency: str | None = None,
    in_stock: bool | None = None,
    tags: list[str] | None = None,
    attributes: list[str] | None = None,
) -> ProductFilters:
    category_ids = None
    if category is not None:
        index = await category_index(runtime)
        row = index.resolve(category)
        if row is None or not index.visible(row):
            raise _bad("category", "unknown_category", f"No category {category!r}.")
        category_ids = tuple(index.descendants(row.id, active_only=True))
    if min_price is not None and max_price is not None and min_price > max_price:
        raise _bad("minPrice", "invalid_range", "minPrice is above maxPrice.")
    if currency is not None and not re.fullmatch(r"[A-Z]{3}", currency):
        raise _bad("currency", "unknown_currency", "Use an ISO 4217 code such as USD.")
    if (min_price is not None or max_price is not None) and currency is None:
        currency = runtime.settings.default_currency  # a price means nothing without its currency
    tags = [tag.strip().lower() for tag in tags or [] if tag.strip()]
    if len(tags) > MAX_TAG_FILTERS:
        raise _bad("tag", "too_many_filters", f"At most {MAX_TAG_FILTERS} tags.")
    parsed: dict[str, tuple[str | int | bool, ...]] = {}
    for raw in attributes or []:
        match = _ATTRIBUTE.match(raw)
        if match is None:
            raise _bad(
                "attr",
                "invalid_attribute_filter",
                f"{raw!r}: write attr=<key>:<value>, e.g. attr=colour:red.",
            )
        parsed[match["key"]] = _typings(match["value"].strip())
    if len(parsed) > MAX_ATTRIBUTE_FILTERS:
        raise _bad("attr", "too_many_filters", f"At most {MAX_ATTRIBUTE_FILTERS} attribute filters.")
    return ProductFilters(
        category_ids=category_ids,
        vendor_id=vendor,
        min_price=min_price,
        max_price=max_price,
        currency=currency,
        in_stock=in_stock,
        tags=tuple(sorted(set(tags))),
        attributes=tuple(sorted(parsed.items())),
    )
