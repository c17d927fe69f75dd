"""Turn contributors' Shapley values and a money pool into exact payout amounts.

Pure money math: no Django, no database. Money is ``Decimal`` in a currency's minor units (cents
for EUR/USD, whole yen for JPY, fils for BHD), never float.

How a pool is shared (this text is shown to contributors)
---------------------------------------------------------
Each contributor's share of the pool is their value divided by the total value of everyone who
is paid. Amounts are then rounded to the smallest coin of the currency (for example one cent) so
that they add up to the pool exactly: everyone first gets their exact share rounded down, and the
few coins left over go one each to the contributors whose shares were rounded down the most. When
two of them were rounded down by exactly the same amount, the coin goes to the one whose
identifier comes first in alphabetical order, so the result never depends on the order in which
contributors were listed. Nobody's amount differs from their exact share by a whole coin or more.

A contributor's value can be negative: on balance, adding their data made the model slightly
worse. What happens then depends on the round's policy:

* **Floor at zero** (``FLOOR``, the default). Contributors with a negative value are paid
  nothing, and they are not charged either. The pool is shared among the contributors with a
  positive value, in proportion to their values. The total of the negative values that were set
  to zero (the "clipped mass") is reported next to the payouts so everyone can see how much
  negative value was left out.
* **Reject** (``REJECT``). If any contributor has a negative value, no payouts are made for the
  round; the error names the contributors concerned so an administrator can look into them.

Under either policy a contributor with a value of exactly zero is paid nothing. If nobody has a
positive value there is nothing to share, and no payouts are made.
"""

from __future__ import annotations

import enum
import math
import numbers
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Context, Decimal, InvalidOperation
from fractions import Fraction

__all__ = [
    "SHARE_SIGNIFICANT_DIGITS",
    "Allocation",
    "NegativeValuePolicy",
    "PayoutError",
    "allocate_pool",
    "csv_safe",
    "format_amount",
    "format_money",
    "format_share",
]

#: Significant digits kept for the reported shares and clipped mass (amounts are always exact).
SHARE_SIGNIFICANT_DIGITS = 28

#: Largest accepted minor-unit exponent (18 covers e.g. wei; ISO 4217 currencies use 0 to 4).
MAX_MINOR_UNIT_EXPONENT = 18

#: First characters that make a spreadsheet treat a cell as a formula (OWASP CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

_SHARE_CONTEXT = Context(prec=SHARE_SIGNIFICANT_DIGITS)
_MAX_NAMED = 10


class PayoutError(ValueError):
    """The pool or the values cannot be turned into payouts; the message says why."""


class NegativeValuePolicy(enum.StrEnum):
    """What to do with contributors whose value is negative (see the module docstring).

    The one list of policies: rounds, payout batches and the statement's explanation read it.
    """

    FLOOR = "floor"
    REJECT = "reject"

    @property
    def label(self) -> str:
        """A short description for forms and tables."""
        return _POLICY_LABELS[self]


_POLICY_LABELS = {
    NegativeValuePolicy.FLOOR: "Floor negative values at zero and renormalise",
    NegativeValuePolicy.REJECT: "Refuse to pay out if any value is negative",
}


@dataclass(frozen=True)
class Allocation:
    """The result of sharing a pool.

    Attributes:
        amounts: Contributor key → amount paid, quantized to the minor unit; sums to ``pool``
            exactly. Every contributor passed in appears (with 0 if unpaid), keys in ascending
            order.
        shares: Contributor key → exact share of the pool as a fraction in [0, 1], rounded to
            ``SHARE_SIGNIFICANT_DIGITS`` significant digits (so their sum is 1 only to that
            precision). Same keys and order as ``amounts``.
        clipped_mass: Σ min(value, 0) over all contributors (≤ 0, in value units, not money);
            the negative value that the ``FLOOR`` policy left out. 0 under ``REJECT``.
        policy: The negative-value policy that was applied.
        pool: The pool, quantized to the minor unit.
        clipped: Keys of the contributors whose negative value was floored at zero, ascending.
    """

    amounts: dict[str, Decimal]
    shares: dict[str, Decimal]
    clipped_mass: Decimal
    policy: NegativeValuePolicy
    pool: Decimal
    clipped: tuple[str, ...] = field(default=())


def allocate_pool(
    pool: Decimal | str | int,
    values: Mapping[str, float],
    *,
    policy: NegativeValuePolicy = NegativeValuePolicy.FLOOR,
    minor_unit_exponent: int = 2,
) -> Allocation:
    """Share ``pool`` among contributors in proportion to their (policy-adjusted) values.

    Rounding is by the largest-remainder (Hamilton) method on integer minor units, so the amounts
    sum to the pool exactly, each is within one minor unit of its exact quota, and ties go to the
    smaller contributor key, which makes the result independent of the mapping's order.

    Args:
        pool: Money to share, in major units (e.g. ``"100.00"`` EUR). A ``Decimal``, a decimal
            string or an int; floats are refused because they cannot hold most decimal amounts.
        values: Contributor key → value (e.g. Shapley value). Each float is converted exactly.
        policy: What to do with negative values.
        minor_unit_exponent: Decimal places of the currency's minor unit (2 for EUR, 0 for JPY,
            3 for BHD).

    Returns:
        The amounts, shares and what the policy clipped.

    Raises:
        PayoutError: If the pool is negative, not finite or finer than the minor unit; if
            ``values`` is empty, has a non-string key or a non-finite value; if a value is
            negative under ``REJECT``; or if no contributor has a positive value.
    """
    exponent = _check_exponent(minor_unit_exponent)
    pool_units = _parse_pool_units(pool, exponent)
    exact_values = _parse_values(values)
    policy = _check_policy(policy)
    negatives = sorted(key for key, value in exact_values.items() if value < 0)
    if negatives and policy is NegativeValuePolicy.REJECT:
        raise PayoutError(
            f"negative values are not allowed under the {policy.value!r} policy; "
            f"contributors with a negative value: {_name(negatives)}"
        )
    clipped_mass = sum((value for value in exact_values.values() if value < 0), Fraction(0))
    weights = {key: max(value, Fraction(0)) for key, value in exact_values.items()}
    total = sum(weights.values(), Fraction(0))
    if total == 0:
        raise PayoutError("nothing to pay: no contributor has positive value")
    shares = {key: weight / total for key, weight in sorted(weights.items())}
    units = _round_largest_remainder(pool_units, shares)
    return Allocation(
        amounts={key: _units_to_decimal(n, exponent) for key, n in units.items()},
        shares={key: _fraction_to_decimal(share) for key, share in shares.items()},
        clipped_mass=_fraction_to_decimal(clipped_mass),
        policy=policy,
        pool=_units_to_decimal(pool_units, exponent),
        clipped=tuple(negatives),
    )


def format_amount(
    amount: Decimal,
    currency: str,
    *,
    minor_unit_exponent: int | None = None,
    locale: str | None = None,
) -> str:
    """Render an amount for people, e.g. ``format_amount(Decimal("-1234.5"), "EUR",
    minor_unit_exponent=2) == "−€1,234.50"``.

    The number gets the locale's thousands and decimal separators, a real minus sign (U+2212)
    and the currency's symbol where it is unambiguous (€, £, ¥, $ for USD, ₹), else its ISO code;
    a no-break space keeps code and number on one line. See ``MONEY_LOCALES``.

    Args:
        amount: The amount, in major units. Shown with exactly its own decimal places unless
            ``minor_unit_exponent`` is given.
        currency: ISO 4217 code (three letters; lower case is accepted and upper-cased).
        minor_unit_exponent: If given, show exactly this many decimal places; an amount finer
            than that is refused rather than silently rounded.
        locale: A language code such as ``"en-us"`` or ``"de"``; None means the active Django
            language when Django is loaded, else ``DEFAULT_LOCALE``.

    Raises:
        PayoutError: If the amount is not a finite Decimal, the currency is not three letters,
            or the amount is finer than ``minor_unit_exponent``.
    """
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise PayoutError(f"amount must be a finite Decimal, got {amount!r}")
    code = currency.strip().upper() if isinstance(currency, str) else ""
    if len(code) != 3 or not (code.isascii() and code.isalpha()):
        raise PayoutError(f"currency must be a three-letter ISO 4217 code, got {currency!r}")
    if minor_unit_exponent is not None:
        exponent = _check_exponent(minor_unit_exponent)
        amount = _units_to_decimal(_to_units(Fraction(amount), exponent, "amount"), exponent)
    style = _money_style(locale)
    whole, _, decimals = f"{abs(amount):f}".partition(".")
    grouped = style.group.join(_groups_of_three(whole))
    number = f"{grouped}{style.decimal}{decimals}" if decimals else grouped
    symbol = _CURRENCY_SYMBOLS.get(code)
    if style.symbol_after:
        text = f"{number}\N{NO-BREAK SPACE}{symbol or code}"
    elif symbol is not None:
        text = f"{symbol}{number}"
    else:
        text = f"{code}\N{NO-BREAK SPACE}{number}"
    return f"\N{MINUS SIGN}{text}" if amount < 0 else text


def format_money(amount: Decimal, currency: str, *, locale: str | None = None) -> str:
    """The site's one way to show money: exactly the currency's minor unit (``€100.00``,
    ``¥667``, ``BHD 7.000``) when the amount is a whole number of minor units, else every digit
    it has (a pool stored finer than a cent is shown as stored, never silently rounded).

    Raises:
        PayoutError: As ``format_amount``.
    """
    exponent = minor_unit_exponent(currency) if isinstance(currency, str) else 2
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise PayoutError(f"amount must be a finite Decimal, got {amount!r}")
    quantized = amount.quantize(Decimal(1).scaleb(-exponent))
    if quantized != amount:
        return format_amount(amount.normalize(), currency, locale=locale)
    return format_amount(quantized, currency, minor_unit_exponent=exponent, locale=locale)


def format_share(share: Decimal | float | None, *, places: int = 2) -> str:
    """A share of the pool as a percentage, e.g. ``format_share(Decimal("0.1234")) == "12.34%"``;
    an em dash for None. Display only: payouts keep the exact share."""
    if share is None:
        return "—"
    percent = Decimal(share) * 100 if isinstance(share, float) else share * 100
    text = f"{abs(percent):.{places}f}%"
    return f"\N{MINUS SIGN}{text}" if percent < 0 and text.strip("0.%") else text


@dataclass(frozen=True)
class MoneyStyle:
    """How one locale writes money: separators and where the currency goes."""

    group: str
    decimal: str
    symbol_after: bool


#: Language (the part before "-") → how it writes money; others use ``DEFAULT_LOCALE``'s.
MONEY_LOCALES = {
    "en": MoneyStyle(group=",", decimal=".", symbol_after=False),
    "ja": MoneyStyle(group=",", decimal=".", symbol_after=False),
    "de": MoneyStyle(group=".", decimal=",", symbol_after=True),
    "es": MoneyStyle(group=".", decimal=",", symbol_after=True),
    "it": MoneyStyle(group=".", decimal=",", symbol_after=True),
    "fr": MoneyStyle(group="\N{NARROW NO-BREAK SPACE}", decimal=",", symbol_after=True),
}
DEFAULT_LOCALE = "en"

# Symbols that name one currency only; other dollars, francs, crowns… keep their ISO code.
_CURRENCY_SYMBOLS = {"EUR": "€", "GBP": "£", "JPY": "¥", "USD": "$", "INR": "₹"}


def _money_style(locale: str | None) -> MoneyStyle:
    """The style of ``locale``, or of the active Django language when ``locale`` is None.

    Django is only consulted when the host process has already imported its translation
    machinery, so this module stays usable (and importable) without Django.
    """
    if locale is None:
        translation = sys.modules.get("django.utils.translation")
        locale = (translation.get_language() if translation is not None else None) or ""
    language = locale.lower().replace("_", "-").split("-", 1)[0]
    return MONEY_LOCALES.get(language, MONEY_LOCALES[DEFAULT_LOCALE])


def _groups_of_three(digits: str) -> list[str]:
    """``"1234567"`` → ``["1", "234", "567"]``."""
    head = len(digits) % 3 or 3
    return [digits[:head]] + [digits[index : index + 3] for index in range(head, len(digits), 3)]


def csv_safe(text: str) -> str:
    """Neutralise spreadsheet formula injection in a text cell of a CSV export.

    A cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is prefixed with
    a single quote so spreadsheet programs show it as text instead of running it as a formula.
    Use it for free text (names, descriptions); write amounts as plain numbers, not through here.
    """
    if text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


def _check_policy(policy: NegativeValuePolicy | str) -> NegativeValuePolicy:
    """Accept a NegativeValuePolicy or its string value ("floor", "reject")."""
    try:
        return NegativeValuePolicy(policy)
    except ValueError:
        choices = ", ".join(repr(member.value) for member in NegativeValuePolicy)
        raise PayoutError(
            f"unknown negative-value policy {policy!r}; use one of {choices}"
        ) from None


def _check_exponent(minor_unit_exponent: int) -> int:
    """Validate a minor-unit exponent: an int in [0, MAX_MINOR_UNIT_EXPONENT]."""
    if (
        isinstance(minor_unit_exponent, bool)
        or not isinstance(minor_unit_exponent, int)
        or not 0 <= minor_unit_exponent <= MAX_MINOR_UNIT_EXPONENT
    ):
        raise PayoutError(
            f"minor_unit_exponent must be an int from 0 to {MAX_MINOR_UNIT_EXPONENT}, "
            f"got {minor_unit_exponent!r}"
        )
    return minor_unit_exponent


def _parse_pool_units(pool: Decimal | str | int, exponent: int) -> int:
    """Convert the pool to a non-negative whole number of minor units."""
    if isinstance(pool, bool) or not isinstance(pool, Decimal | str | int):
        raise PayoutError(
            f"pool must be a Decimal, a decimal string or an int (not {type(pool).__name__}); "
            "floats cannot represent most money amounts exactly"
        )
    try:
        amount = Decimal(pool.strip() if isinstance(pool, str) else pool)
    except InvalidOperation:
        raise PayoutError(f"pool {pool!r} is not a decimal number") from None
    if not amount.is_finite():
        raise PayoutError(f"pool must be a finite amount, got {pool!r}")
    if amount < 0:
        raise PayoutError(f"pool must not be negative, got {pool!r}")
    return _to_units(Fraction(amount), exponent, "pool")


def _to_units(amount: Fraction, exponent: int, what: str) -> int:
    """Express ``amount`` (major units) in whole minor units, refusing anything finer."""
    scale: int = 10**exponent
    units = amount * scale
    if units.denominator != 1:
        raise PayoutError(
            f"{what} {_fraction_to_decimal(amount)} is not a whole number of minor units "
            f"(the currency has {exponent} decimal places)"
        )
    return units.numerator


def _parse_values(values: Mapping[str, float]) -> dict[str, Fraction]:
    """Check the contributor keys and convert every value exactly to a Fraction."""
    if not isinstance(values, Mapping):
        raise PayoutError(f"values must be a mapping of contributor key to value, got {values!r}")
    if not values:
        raise PayoutError("values is empty: there are no contributors to pay")
    bad_keys = [key for key in values if not isinstance(key, str)]
    if bad_keys:
        raise PayoutError(f"contributor keys must be strings, got {_name(bad_keys)}")
    exact: dict[str, Fraction] = {}
    not_finite: list[str] = []
    for key, value in values.items():
        converted = _to_fraction(key, value)
        if converted is None:
            not_finite.append(key)
        else:
            exact[key] = converted
    if not_finite:
        raise PayoutError(
            f"values must be finite numbers; NaN or infinite for: {_name(sorted(not_finite))}"
        )
    return exact


def _to_fraction(key: str, value: object) -> Fraction | None:
    """Convert one value exactly; None if it is NaN or infinite."""
    if isinstance(value, bool) or not isinstance(value, Decimal | numbers.Real):
        raise PayoutError(f"value for contributor {key!r} is not a number: {value!r}")
    if isinstance(value, Decimal):
        return Fraction(value) if value.is_finite() else None
    if isinstance(value, numbers.Rational):
        return Fraction(int(value.numerator), int(value.denominator))
    as_float = float(value)  # exact for float and float64; numpy float32 widens exactly
    return Fraction(as_float) if math.isfinite(as_float) else None


def _round_largest_remainder(pool_units: int, shares: Mapping[str, Fraction]) -> dict[str, int]:
    """Hamilton's method: floor every quota, then one leftover unit each to the largest remainders.

    Args:
        pool_units: Whole minor units to hand out.
        shares: Key → exact share; non-negative and summing to 1.

    Returns:
        Key → units, in the order of ``shares``; sums to ``pool_units``.
    """
    quotas = {key: pool_units * share for key, share in shares.items()}
    units = {key: math.floor(quota) for key, quota in quotas.items()}
    leftover = pool_units - sum(units.values())
    # The remainders sum to ``leftover`` and each is < 1, so at least ``leftover`` of them are
    # positive: a zero-share contributor never receives a unit. Ties go to the smaller key.
    by_remainder = sorted(quotas, key=lambda key: (-(quotas[key] - units[key]), key))
    for key in by_remainder[:leftover]:
        units[key] += 1
    return units


def _units_to_decimal(units: int, exponent: int) -> Decimal:
    """Whole minor units → Decimal in major units with exactly ``exponent`` places, no rounding."""
    sign = 1 if units < 0 else 0
    digits = tuple(int(digit) for digit in str(abs(units)))
    return Decimal((sign, digits, -exponent))


def _fraction_to_decimal(value: Fraction) -> Decimal:
    """Fraction → Decimal rounded to SHARE_SIGNIFICANT_DIGITS significant digits."""
    return _SHARE_CONTEXT.divide(Decimal(value.numerator), Decimal(value.denominator))


def _name(keys: Sequence[object]) -> str:
    """List contributor keys for an error message, at most _MAX_NAMED of them."""
    shown = ", ".join(repr(key) for key in keys[:_MAX_NAMED])
    more = len(keys) - _MAX_NAMED
    return f"{shown} and {more} more" if more > 0 else shown


# ISO 4217 currencies whose minor unit is not the cent (the rest have two decimal places).
_MINOR_UNIT_EXPONENTS = {
    "BIF": 0,
    "CLP": 0,
    "DJF": 0,
    "GNF": 0,
    "ISK": 0,
    "JPY": 0,
    "KMF": 0,
    "KRW": 0,
    "PYG": 0,
    "RWF": 0,
    "UGX": 0,
    "UYI": 0,
    "VND": 0,
    "VUV": 0,
    "XAF": 0,
    "XOF": 0,
    "XPF": 0,
    "BHD": 3,
    "IQD": 3,
    "JOD": 3,
    "KWD": 3,
    "LYD": 3,
    "OMR": 3,
    "TND": 3,
}


def minor_unit_exponent(currency: str) -> int:
    """Decimal places of a currency's minor unit (ISO 4217): 0 for JPY, 3 for BHD, else 2."""
    return _MINOR_UNIT_EXPONENTS.get(currency.upper(), 2)


def to_minor_unit(amount: Decimal, currency: str) -> Decimal:
    """``amount`` rounded to the currency's minor unit (half-even), e.g. 10.0000 EUR → 10.00."""
    return amount.quantize(Decimal(1).scaleb(-minor_unit_exponent(currency)))
