"""Money shown to a person (docs/protocol.md §1, docs/currencies.md): an amount is an integer
count of its currency's minor units, and the currency's exponent says how many make one major
unit (USD 2, JPY 0, KWD 3, BTC 8). Nothing divides by 100: every place that shows money formats
through the exponent here, and reads it back exactly.

Hand-written over decimal.Decimal rather than a locale library (Babel): Babel takes a
currency's digits from CLDR, which knows nothing of the casino's own currencies (BTC 8, USDT 6)
- here the exponent is the casino's data, given by the caller. Decimal keeps it exact at any
size (a float would not).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation


def format_minor(amount: int, exponent: int | None) -> str:
    """`123456, 2` -> `1,234.56`; `1000, 0` -> `1,000`; `5, 8` -> `0.00000005`. An unknown
    exponent (None) shows the bare minor units, never a guess."""
    if exponent is None:
        return f"{amount:,}"
    if isinstance(amount, bool) or not isinstance(amount, int) or not 0 <= exponent <= 18:
        raise ValueError("an amount is an int of minor units and an exponent 0 to 18")
    return f"{Decimal(amount).scaleb(-exponent):,.{exponent}f}"


def format_money(amount: int, currency: str, exponent: int | None) -> str:
    """`format_minor` followed by the currency code: `1,234.56 USD`, `1,000 JPY`, `0.01000000 BTC`."""
    return f"{format_minor(amount, exponent)} {currency}"


def parse_minor(text: str, exponent: int) -> int:
    """The inverse of `format_minor`: `1,234.56`, 2 -> 123456. More decimals than the exponent
    allows (a fraction of a minor unit) is refused, never rounded."""
    try:
        value = Decimal(text.replace(",", "")).scaleb(exponent)
    except InvalidOperation:
        raise ValueError(f"not an amount: {text[:100]!r}") from None
    if not value.is_finite() or value != value.to_integral_value():
        raise ValueError(f"not a whole number of minor units at exponent {exponent}: {text[:100]!r}")
    return int(value)
