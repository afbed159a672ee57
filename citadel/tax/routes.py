"""``/api/v1/tax-rules``: the rates carts and orders are taxed at (admins)."""

import uuid

from litestar import Controller, delete, get, patch, post
from litestar.params import FromPath, JSONBody

from citadel.auth.guards import requires
from citadel.kit.runtime import Conn
from citadel.tax import service
from citadel.tax.models import TaxRule, TaxRuleCreate, TaxRuleList, TaxRuleUpdate


class TaxRulesController(Controller):
    path = "/api/v1/tax-rules"
    tags = ["tax (admin)"]
    guards = [requires("admin")]

    @get("", operation_id="listTaxRules", summary="Every tax rule, by place")
    async def list_rules(self, conn: Conn) -> TaxRuleList:
        return TaxRuleList(items=await service.list_rules(conn))

    @post("", operation_id="createTaxRule", status_code=201, summary="Add a tax rule")
    async def create(self, data: JSONBody[TaxRuleCreate], tx: Conn) -> TaxRule:
        return await service.create_rule(tx, data)

    @get("/{rule_id:uuid}", operation_id="getTaxRule", summary="One tax rule")
    async def get_rule(self, rule_id: FromPath[uuid.UUID], conn: Conn) -> TaxRule:
        return await service.get_rule(conn, rule_id)

    @patch("/{rule_id:uuid}", operation_id="updateTaxRule", summary="Change a tax rule")
    async def update(self, rule_id: FromPath[uuid.UUID], data: JSONBody[TaxRuleUpdate], tx: Conn) -> TaxRule:
        return await service.update_rule(tx, rule_id, data)

    @delete(
        "/{rule_id:uuid}", operation_id="deleteTaxRule", summary="Remove a tax rule (orders keep their rates)"
    )
    async def remove(self, rule_id: FromPath[uuid.UUID], tx: Conn) -> None:
        await service.delete_rule(tx, rule_id)
