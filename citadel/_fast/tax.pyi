"""Tax of many lines (compiled). Columns are ``array('q')``; the rules are in ``tax_py.py``.

match_rates(line_category, rule_country, rule_region, rule_postal, rule_postal_length,
            rule_category, rule_rate, country, region, postal) -> array('q')
    Per line, the summed ppm of every rule matching the address (country equal; region 0 or
    equal; postal prefix of rule_postal_length characters, 0 for any; category 0 or the line's).
    Places are common.pack_text values. At most MAX_RULES rules; a sum past MAX_RATE_PPM raises.
line_taxes(amounts, rates, inclusive, policy) -> (taxes, nets)
    Per line, half-up by default: exclusive amount × rate / 1e6; inclusive amount - net, with
    net = amount × 1e6 / (1e6 + rate). Amounts in 0..MAX_AMOUNT, rates in 0..MAX_RATE_PPM.
"""

from array import array

def match_rates(
    line_category: array[int],
    rule_country: array[int],
    rule_region: array[int],
    rule_postal: array[int],
    rule_postal_length: array[int],
    rule_category: array[int],
    rule_rate: array[int],
    country: int,
    region: int,
    postal: int,
) -> array[int]: ...
def line_taxes(
    amounts: array[int], rates: array[int], inclusive: bool, policy: int = 0
) -> tuple[array[int], array[int]]: ...
