"""Money is a Decimal amount with an ISO 4217 currency; never a float."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from babel.numbers import format_currency, is_currency

CENT = Decimal("0.01")


def parse_amount(text: str | int | Decimal) -> Decimal:
    """A non-negative amount rounded to cents; raises ValueError on anything else."""
    try:
        amount = Decimal(str(text).replace(",", "").strip())
    except InvalidOperation as exc:
        raise ValueError(f"not an amount: {text!r}") from exc
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"not a non-negative amount: {text!r}")
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def valid_currency(code: str) -> bool:
    return len(code) == 3 and code.isupper() and is_currency(code)


def format_money(amount: Decimal, currency: str, locale: str) -> str:
    return format_currency(amount, currency, locale=locale)
