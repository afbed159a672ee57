"""The priced basket: lines and rules in, every amount out, computed by the ``_fast`` kernels.

Fetch first, then calculate: the caller gathers the lines (variants with their price-list
terms), the rulebook, the entered coupon and the destination; ``price_basket`` is pure and
does all the arithmetic in batch calls, so its numbers are exactly the kernels' and rounding
happens there alone, under the named policy.

- Unit prices: the variant's own price or the product's plus the adjustment, then the price
  list's fixed price or discount.
- Discounts: the automatic coupons that apply now (oldest first), then the entered one; each
  takes from what the earlier ones left; of the coupons sharing an exclusive group only the one
  that gives most applies. Minimums and tiers judge the undiscounted eligible subtotal.
- Tax: every rule matching the destination and the line's tax class adds its rate; products
  without a class are in ``standard``; shipping is taxed by the rules that apply to shipping,
  as a ``standard`` line. Prices include tax or not by the store's setting.
- Shipping: the methods of the destination's zone in the cart's currency that take its weight,
  priced per method (free above a method's threshold, judged on merchandise after discounts);
  the chosen one, else the cheapest. A free-shipping coupon makes the chosen method free.
"""

from __future__ import annotations

import uuid
from array import array
from datetime import datetime

from citadel._fast import cart as cart_kernel
from citadel._fast import pricing as pricing_kernel
from citadel._fast import tax as tax_kernel
from citadel._fast.common import (
    DISCOUNT_BUY_X_GET_Y,
    DISCOUNT_FIXED,
    DISCOUNT_PERCENT,
    DISCOUNT_TIERED,
    TIERS,
    pack_text,
)
from citadel.pricing.models import (
    AppliedDiscount,
    BasketLine,
    CouponRow,
    Destination,
    PricedBasket,
    PricedLine,
    Rulebook,
    ShippingOption,
    Totals,
)
from citadel.pricing.service.coupons import standing_problem
from citadel.shipping import service as shipping
from citadel.tax.models import TaxRuleRow

STANDARD_TAX_CATEGORY = "standard"
_KINDS = {
    "percentage": DISCOUNT_PERCENT,
    "fixed": DISCOUNT_FIXED,
    "buy_x_get_y": DISCOUNT_BUY_X_GET_Y,
    "tiered": DISCOUNT_TIERED,
}


def _q(values: list[int]) -> array[int]:
    return array("q", values)


def eligible_lines(coupon: CouponRow, lines: list[BasketLine]) -> list[bool]:
    if not coupon.product_ids and not coupon.category_ids:
        return [True] * len(lines)
    products, categories = set(coupon.product_ids), set(coupon.category_ids)
    return [
        line.variant.product_id in products or not categories.isdisjoint(line.variant.category_path)
        for line in lines
    ]


def _discounts(
    lines: list[BasketLine], units: array[int], prices: array[int], rules: list[CouponRow], policy: int
) -> tuple[array[int], list[int]]:
    """Line discounts and each rule's total, from the pricing kernel."""
    n = len(lines)
    kernel_rules = [r for r in rules if r.kind in _KINDS]
    if not kernel_rules or not n:
        return _q([0] * n), [0] * len(rules)
    groups: dict[str, int] = {}
    eligible = bytearray()
    kind: list[int] = []
    value: list[int] = []
    cap: list[int] = []
    group: list[int] = []
    minimum: list[int] = []
    param_x: list[int] = []
    param_y: list[int] = []
    tiers: list[int] = []
    for rule in kernel_rules:
        eligible.extend(1 if ok else 0 for ok in eligible_lines(rule, lines))
        kind.append(_KINDS[rule.kind])
        value.append(rule.amount_off if rule.kind == "fixed" else rule.discount_ppm)
        cap.append(-1 if rule.max_discount_amount is None else rule.max_discount_amount)
        group.append(groups.setdefault(rule.exclusive_group, len(groups) + 1) if rule.exclusive_group else 0)
        minimum.append(rule.minimum_subtotal)
        param_x.append(rule.buy_quantity or 0)
        param_y.append(rule.get_quantity or 0)
        pairs = [v for t in rule.tiers for v in (t["threshold"], t["ppm"])]
        tiers.extend(pairs + [-1] * (2 * TIERS - len(pairs)))
    line_discounts, rule_discounts = pricing_kernel.apply_discounts(
        prices, units, bytes(eligible), _q(kind), _q(value), _q(cap), _q(group), _q(minimum),
        _q(param_x), _q(param_y), _q(tiers), policy,
    )  # fmt: skip
    by_id = {r.id: amount for r, amount in zip(kernel_rules, rule_discounts, strict=True)}
    return line_discounts, [by_id.get(r.id, 0) for r in rules]


def _tax_rates(
    lines: list[BasketLine], rules: list[TaxRuleRow], destination: Destination | None
) -> tuple[array[int], int]:
    """Each line's rate and the shipping rate at the destination (0 without one)."""
    n = len(lines)
    if destination is None:
        return _q([0] * n), 0
    local = [r for r in rules if r.country == destination.country]
    if not local:
        return _q([0] * n), 0
    classes = {c: i + 1 for i, c in enumerate(sorted({r.tax_category for r in local if r.tax_category}))}
    unknown = len(classes) + 1  # a class no rule names: only the rules for every class match it

    def class_of(category: str | None) -> int:
        return classes.get(category or STANDARD_TAX_CATEGORY, unknown)

    def match(rule_set: list[TaxRuleRow], line_classes: list[int]) -> array[int]:
        return tax_kernel.match_rates(
            _q(line_classes),
            _q([pack_text(r.country) for r in rule_set]),
            _q([pack_text(r.region) if r.region else 0 for r in rule_set]),
            _q([pack_text(r.postal_prefix) if r.postal_prefix else 0 for r in rule_set]),
            _q([len(r.postal_prefix) if r.postal_prefix else 0 for r in rule_set]),
            _q([classes[r.tax_category] if r.tax_category else 0 for r in rule_set]),
            _q([r.rate_ppm for r in rule_set]),
            pack_text(destination.country),
            pack_text(destination.region) if destination.region else 0,
            pack_text(destination.postal_code) if destination.postal_code else 0,
        )

    rates = match(local, [class_of(line.variant.tax_category) for line in lines])
    on_shipping = [r for r in local if r.applies_to_shipping]
    shipping_rate = match(on_shipping, [class_of(None)])[0] if on_shipping else 0
    return rates, shipping_rate


def _shipping_options(
    rulebook: Rulebook,
    destination: Destination | None,
    currency: str,
    weight: int,
    merchandise: int,
    policy: int,
) -> list[ShippingOption]:
    if destination is None:
        return []
    methods = shipping.methods_for(
        rulebook.shipping, destination.country, destination.region, currency, weight
    )
    if not methods:
        return []
    costs = cart_kernel.shipping_costs(
        _q([m.base_amount for m in methods]),
        _q([m.per_kg_amount for m in methods]),
        _q([-1 if m.free_above_amount is None else m.free_above_amount for m in methods]),
        weight,
        merchandise,
        policy,
    )
    options = [
        ShippingOption(
            method_id=m.id, name=m.name, amount=cost, currency=m.currency,
            min_delivery_days=m.min_delivery_days, max_delivery_days=m.max_delivery_days,
        )
        for m, cost in zip(methods, costs, strict=True)
    ]  # fmt: skip
    return sorted(options, key=lambda o: (o.amount, o.name))


def price_basket(
    lines: list[BasketLine],
    *,
    currency: str,
    rulebook: Rulebook,
    coupon: CouponRow | None,
    coupon_problem: str | None,
    destination: Destination | None,
    shipping_method_id: uuid.UUID | None,
    prices_include_tax: bool,
    policy: int,
    now: datetime,
) -> PricedBasket:
    """Every amount of a basket. ``coupon_problem`` is what the caller already found wrong with
    the entered coupon (its per-customer limit); the standing rules are checked here."""
    n = len(lines)
    units = _q([line.quantity for line in lines])
    prices = pricing_kernel.unit_prices(
        _q([line.variant.base_amount for line in lines]),
        _q([-1 if line.variant.own_amount is None else line.variant.own_amount for line in lines]),
        _q([line.variant.adjustment for line in lines]),
        _q([-1 if line.list_price is None else line.list_price for line in lines]),
        _q([line.list_discount_ppm or 0 for line in lines]),
        policy,
    )
    subtotals = pricing_kernel.line_subtotals(prices, units)

    rules = [c for c in rulebook.automatic if standing_problem(c, currency, now) is None]
    entered = coupon if coupon is not None and not coupon.automatic else None
    if entered is not None and coupon_problem is None:
        coupon_problem = standing_problem(entered, currency, now)
        if coupon_problem is None:
            flags = eligible_lines(entered, lines)
            eligible_subtotal = sum(s for s, ok in zip(subtotals, flags, strict=True) if ok)
            if not any(flags):
                coupon_problem = "coupon_not_applicable"
            elif eligible_subtotal < entered.minimum_subtotal:
                coupon_problem = "coupon_minimum_not_met"
    if entered is not None and coupon_problem is None:
        rules.append(entered)
    line_discounts, rule_totals = _discounts(lines, units, prices, rules, policy)

    weight = sum(line.variant.weight_grams * line.quantity for line in lines)
    merchandise = sum(subtotals) - sum(line_discounts)
    options = _shipping_options(rulebook, destination, currency, weight, merchandise, policy)
    chosen = next((o for o in options if o.method_id == shipping_method_id), options[0] if options else None)
    free_shipping = [r for r in rules if r.kind == "free_shipping" and _reaches_minimum(r, lines, subtotals)]
    shipping_amount = 0 if chosen is None or free_shipping else chosen.amount
    shipping_saved = chosen.amount if chosen is not None and free_shipping else 0

    rates, shipping_rate = _tax_rates(lines, rulebook.tax_rules, destination)
    taxes, line_totals, summary = cart_kernel.totals(
        prices, units, line_discounts, rates, shipping_amount, shipping_rate, prices_include_tax, policy
    )
    credited = free_shipping[0].id if free_shipping and shipping_saved else None  # free once
    applied = [
        AppliedDiscount(
            coupon_id=r.id, code=r.code, name=r.name, kind=r.kind, automatic=r.automatic,
            amount=shipping_saved if r.id == credited else amount,
        )
        for r, amount in zip(rules, rule_totals, strict=True)
        if r.id == credited or (r.kind != "free_shipping" and amount > 0)
    ]  # fmt: skip
    priced = [
        PricedLine(
            unit_price=prices[i], subtotal=subtotals[i], discount=line_discounts[i], tax=taxes[i],
            total=line_totals[i], tax_rate_ppm=rates[i],
        )
        for i in range(n)
    ]  # fmt: skip
    subtotal, discount, tax_amount, shipping_charged, shipping_tax, total = summary
    return PricedBasket(
        lines=priced,
        totals=Totals(
            currency=currency, subtotal_amount=subtotal, discount_amount=discount,
            shipping_amount=shipping_charged, tax_amount=tax_amount, shipping_tax_amount=shipping_tax,
            total_amount=total, prices_include_tax=prices_include_tax,
        ),
        discounts=applied,
        shipping_options=options,
        shipping=chosen,
        coupon_problem=coupon_problem,
        weight_grams=weight,
    )  # fmt: skip


def _reaches_minimum(rule: CouponRow, lines: list[BasketLine], subtotals: array[int]) -> bool:
    flags = eligible_lines(rule, lines)
    return (
        any(flags) and sum(s for s, ok in zip(subtotals, flags, strict=True) if ok) >= rule.minimum_subtotal
    )
