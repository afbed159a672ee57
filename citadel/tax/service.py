"""Tax rules, managed by admins and matched by the tax kernel.

Places are kept upper case: countries as ISO 3166-1 codes, regions as the part of an ISO 3166-2
code after the country (``NY`` for US-NY), postal prefixes without spaces. A write drops every
worker's cached rule set after commit.
"""

import uuid

import msgspec

from citadel.kit.countries import COUNTRY_CODES
from citadel.kit.db import Connection, from_row, from_rows, load_queries
from citadel.kit.errors import FieldError, NotFound, ValidationFailed
from citadel.kit.ids import uuid7
from citadel.kit.text import squash
from citadel.tax.models import RULEBOOK_TOPIC, TaxRule, TaxRuleCreate, TaxRuleRow, TaxRuleUpdate

Q = load_queries(__file__)


class TaxRuleNotFound(NotFound):
    code = "tax_rule_not_found"
    title = "Tax rule not found"


def country_code(value: str, field: str = "country") -> str:
    code = value.upper()
    if code not in COUNTRY_CODES:
        raise ValidationFailed(
            f"{value!r} is not an ISO 3166-1 country code.",
            errors=[FieldError(field=field, message="Unknown country", code="unknown_country")],
        )
    return code


def postal_key(postal_code: str | None) -> str:
    """A postal code as rules compare it: upper case, no spaces or dashes."""
    return "".join(ch for ch in (postal_code or "").upper() if ch.isalnum())


async def list_rules(conn: Connection) -> list[TaxRule]:
    return [TaxRule.of(r) for r in from_rows(TaxRuleRow, await conn.fetch(Q.list_tax_rules))]


async def active_rules(conn: Connection) -> list[TaxRuleRow]:
    return from_rows(TaxRuleRow, await conn.fetch(Q.active_tax_rules))


async def get_rule(conn: Connection, rule_id: uuid.UUID) -> TaxRule:
    row = await conn.fetchrow(Q.get_tax_rule, rule_id)
    if row is None:
        raise TaxRuleNotFound()
    return TaxRule.of(from_row(TaxRuleRow, row))


def _upper(value: str | None) -> str | None:
    return value.upper() if value else None


async def create_rule(conn: Connection, data: TaxRuleCreate) -> TaxRule:
    row = await conn.fetchrow(
        Q.insert_tax_rule, uuid7(), squash(data.name), country_code(data.country), _upper(data.region),
        _upper(data.postal_prefix), data.tax_category, data.rate_ppm, data.applies_to_shipping,
        data.is_active,
    )  # fmt: skip
    conn.invalidate_after_commit(RULEBOOK_TOPIC, "all")
    return TaxRule.of(from_row(TaxRuleRow, row))


async def update_rule(conn: Connection, rule_id: uuid.UUID, data: TaxRuleUpdate) -> TaxRule:
    current = await get_rule(conn, rule_id)
    values = {f: getattr(current, f) for f in TaxRuleUpdate.__struct_fields__}
    values.update(
        {f: v for f in TaxRuleUpdate.__struct_fields__ if (v := getattr(data, f)) is not msgspec.UNSET}
    )
    row = await conn.fetchrow(
        Q.update_tax_rule, rule_id, squash(values["name"]), country_code(values["country"]),
        _upper(values["region"]), _upper(values["postal_prefix"]), values["tax_category"],
        values["rate_ppm"], values["applies_to_shipping"], values["is_active"],
    )  # fmt: skip
    conn.invalidate_after_commit(RULEBOOK_TOPIC, "all")
    return TaxRule.of(from_row(TaxRuleRow, row))


async def delete_rule(conn: Connection, rule_id: uuid.UUID) -> None:
    if await conn.fetchval(Q.delete_tax_rule, rule_id) is None:
        raise TaxRuleNotFound()
    conn.invalidate_after_commit(RULEBOOK_TOPIC, "all")
