"""Money shown to a person goes through its currency's exponent (docs/protocol.md §1,
docs/currencies.md): amounts in JPY (0), USD (2), KWD (3) and BTC (8) render and read back
exactly, and no code path divides by 100."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from seamless.contract.money import format_minor, format_money, parse_minor

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("amount", "exponent", "shown"),
    [
        (1_000, 0, "1,000"),  # JPY: ¥1,000
        (123_456, 2, "1,234.56"),  # USD
        (5, 2, "0.05"),
        (1_000, 3, "1.000"),  # KWD: 1.000 dinar
        (1_234_567, 3, "1,234.567"),
        (100_000_000, 8, "1.00000000"),  # BTC: 1 bitcoin
        (1, 8, "0.00000001"),  # one satoshi
        (0, 8, "0.00000000"),
        (9_007_199_254_740_991, 8, "90,071,992.54740991"),  # the largest balance, exactly
    ],
)
def test_renders_through_the_exponent(amount, exponent, shown):
    assert format_minor(amount, exponent) == shown
    assert parse_minor(shown, exponent) == amount


def test_money_names_its_currency_and_an_unknown_exponent_shows_minor_units():
    assert format_money(1_000, "JPY", 0) == "1,000 JPY"
    assert format_money(1_000, "KWD", 3) == "1.000 KWD"
    assert format_money(123_456, "USD", None) == "123,456 USD"


@given(st.integers(min_value=0, max_value=2**63 - 1), st.sampled_from([0, 2, 3, 6, 8, 18]))
def test_round_trips_exactly(amount, exponent):
    assert parse_minor(format_minor(amount, exponent), exponent) == amount


@pytest.mark.parametrize(("text", "exponent"), [("1.005", 2), ("0.5", 0), ("0.000000001", 8), ("abc", 2), ("NaN", 2)])
def test_a_fraction_of_a_minor_unit_is_refused_not_rounded(text, exponent):
    with pytest.raises(ValueError):
        parse_minor(text, exponent)


@pytest.mark.parametrize("bad", [1.5, True, "100"])
def test_only_integer_minor_units_are_formatted(bad):
    with pytest.raises(ValueError):
        format_minor(bad, 2)


#: dividing (or multiplying) by 100 or formatting two decimals: the ways code turns cents into
#: dollars without asking the currency (§1: "nothing on either side divides by 100")
BY_100 = re.compile(r"(/{1,2}\s*100(?![\d_])|\*\s*0?\.01(?!\d)|divmod\([^)]*,\s*100\s*\)|\.2f\b|[^\w.]100\.0\b)")
#: where code that shows or moves money lives (bench/ measures time, tests/ check it)
SOURCES = ("layers", "functions", "devtools", "sql", "scripts")


def test_no_code_path_divides_by_100():
    offenders = []
    for top in SOURCES:
        for path in sorted((ROOT / top).rglob("*")):
            if path.suffix not in (".py", ".sql", ".j2", ".html", ".js") or not path.is_file():
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
                if BY_100.search(line):
                    offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == []


@pytest.mark.parametrize("line", ["cents / 100", "x // 100", "amount * 0.01", "f'{v:.2f}'", "divmod(a, 100)", "a/100"])
def test_the_divide_by_100_check_can_fail(line):
    assert BY_100.search(line)


@pytest.mark.parametrize("line", ["p / 1000", "x / 100_000", "limit 100", "scaleb(-exponent)"])
def test_the_divide_by_100_check_lets_other_numbers_pass(line):
    assert not BY_100.search(line)
