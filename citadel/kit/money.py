"""Currencies: the one table of ISO 4217 codes and their exponents (minor units per major unit).

Every amount in Citadel is an integer number of minor units beside its currency code; the
exponent says how many decimals a display of it has (JPY 0, USD 2, KWD 3). Rounding of money
happens in ``citadel._fast`` only.
"""

from typing import Annotated

import msgspec

from citadel.kit.errors import FieldError, ValidationFailed

_EXPONENT_0 = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF"
_EXPONENT_3 = "BHD IQD JOD KWD LYD OMR TND"
_EXPONENT_4 = "CLF UYW"
_EXPONENT_2 = (
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BRL BSD BTN BWP BYN BZD "
    "CAD CDF CHF CNY COP CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD "
    "GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL MAD "
    "MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP "
    "PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS "
    "TMT TOP TRY TTD TWD TZS UAH USD UYU UZS VES WST XCD YER ZAR ZMW ZWL"
)

CURRENCY_EXPONENTS: dict[str, int] = {
    **dict.fromkeys(_EXPONENT_2.split(), 2),
    **dict.fromkeys(_EXPONENT_0.split(), 0),
    **dict.fromkeys(_EXPONENT_3.split(), 3),
    **dict.fromkeys(_EXPONENT_4.split(), 4),
}

# The largest amount a price may hold (minor units), well inside the kernels' bounds so that a
# line of many units still fits.
MAX_PRICE_AMOUNT = 10**11

CurrencyCode = Annotated[str, msgspec.Meta(pattern="^[A-Z]{3}$", examples=["USD"])]
Amount = Annotated[int, msgspec.Meta(ge=0, le=MAX_PRICE_AMOUNT, description="Integer minor units")]


def exponent(currency: str) -> int:
    return CURRENCY_EXPONENTS[currency]


def check_currency(currency: str, field: str = "currency") -> str:
    """The code itself when it is a known ISO 4217 currency; otherwise a 422 on ``field``."""
    if currency not in CURRENCY_EXPONENTS:
        raise ValidationFailed(
            f"{currency!r} is not a currency Citadel knows (ISO 4217 codes, upper case).",
            errors=[FieldError(field=field, message="Unknown currency", code="unknown_currency")],
        )
    return currency


def format_amount(amount: int, currency: str) -> str:
    """An amount for people to read: 1234 USD is "12.34 USD", 500 JPY is "500 JPY"."""
    exponent = CURRENCY_EXPONENTS.get(currency, 2)
    sign = "-" if amount < 0 else ""
    if exponent == 0:
        return f"{sign}{abs(amount)} {currency}"
    whole, part = divmod(abs(amount), 10**exponent)
    return f"{sign}{whole}.{part:0{exponent}d} {currency}"
