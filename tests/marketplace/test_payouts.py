"""Payout math: values + pool → Decimal amounts that sum to the pool exactly (no database)."""

from __future__ import annotations

import itertools
import math
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from marketplace.payouts import (
    FORMULA_PREFIXES,
    Allocation,
    NegativeValuePolicy,
    PayoutError,
    allocate_pool,
    csv_safe,
    format_amount,
    format_money,
    format_share,
)

# ---------------------------------------------------------------- hand-computed examples


def test_three_equal_values_share_100_with_the_extra_cent_to_the_first_key() -> None:
    allocation = allocate_pool(Decimal("100.00"), {"carol": 1.0, "alice": 1.0, "bob": 1.0})

    assert allocation.amounts == {
        "alice": Decimal("33.34"),
        "bob": Decimal("33.33"),
        "carol": Decimal("33.33"),
    }
    assert list(allocation.amounts) == ["alice", "bob", "carol"]
    assert allocation.pool == Decimal("100.00")
    assert allocation.clipped_mass == 0
    assert allocation.clipped == ()
    assert allocation.policy is NegativeValuePolicy.FLOOR
    assert allocation.shares["alice"] == Decimal("0.3333333333333333333333333333")


def test_two_extra_cents_go_to_the_two_largest_remainders() -> None:
    # Quotas in cents for pool 1.00 and values 1:1:1:4 → 14.2857…, ×3 and 57.1428…
    # Floors 14+14+14+57 = 99, one cent left: largest remainder is .2857 (a, b, c tie) → "a".
    allocation = allocate_pool("1.00", {"d": 4.0, "c": 1.0, "b": 1.0, "a": 1.0})

    assert allocation.amounts == {
        "a": Decimal("0.15"),
        "b": Decimal("0.14"),
        "c": Decimal("0.14"),
        "d": Decimal("0.57"),
    }


def test_largest_remainder_beats_key_order() -> None:
    # Pool 10 cents, values 0.25 : 0.75 → quotas 2.5 and 7.5: a tie, so "a" gets the cent.
    # Pool 10 cents, values 0.24 : 0.76 → quotas 2.4 and 7.6: "z" has the larger remainder.
    assert allocate_pool("0.10", {"a": 0.25, "z": 0.75}).amounts == {
        "a": Decimal("0.03"),
        "z": Decimal("0.07"),
    }
    assert allocate_pool("0.10", {"a": 0.24, "z": 0.76}).amounts == {
        "a": Decimal("0.02"),
        "z": Decimal("0.08"),
    }


def test_jpy_has_no_minor_unit() -> None:
    allocation = allocate_pool(1000, {"x": 1.0, "y": 2.0}, minor_unit_exponent=0)

    # 333.33… and 666.66…: floors 333 + 666 = 999, the leftover yen goes to y (remainder .67).
    assert allocation.amounts == {"x": Decimal("333"), "y": Decimal("667")}
    assert allocation.pool == Decimal("1000")
    assert format_amount(allocation.amounts["y"], "JPY") == "¥667"


def test_bhd_has_three_decimal_places() -> None:
    allocation = allocate_pool("1.000", {"x": 1.0, "y": 1.0, "z": 1.0}, minor_unit_exponent=3)

    assert allocation.amounts == {
        "x": Decimal("0.334"),
        "y": Decimal("0.333"),
        "z": Decimal("0.333"),
    }


def test_pool_is_quantized_to_the_minor_unit() -> None:
    allocation = allocate_pool(50, {"only": 3.5})

    assert allocation.pool == Decimal("50.00")
    assert str(allocation.amounts["only"]) == "50.00"


def test_zero_pool_pays_everyone_zero() -> None:
    allocation = allocate_pool("0", {"a": 1.0, "b": 2.0})

    assert allocation.amounts == {"a": Decimal("0.00"), "b": Decimal("0.00")}


def test_floats_are_converted_exactly_so_tiny_differences_decide_the_last_cent() -> None:
    # 0.1 and 0.2 as floats are exactly 1:2 (0.2 is 2 × 0.1 in binary).
    assert allocate_pool("0.03", {"a": 0.1, "b": 0.2}).amounts == {
        "a": Decimal("0.01"),
        "b": Decimal("0.02"),
    }
    # 0.1 + 0.2 is 0.30000000000000004 > 0.3, so "b" has the larger remainder and gets the one
    # cent although "a" comes first by key; rounding the values first would make it a tie.
    allocation = allocate_pool("0.01", {"a": 0.3, "b": 0.1 + 0.2})
    assert allocation.shares["b"] > allocation.shares["a"]
    assert allocation.amounts == {"a": Decimal("0.00"), "b": Decimal("0.01")}


def test_decimal_and_fraction_values_are_accepted() -> None:
    allocation = allocate_pool("9.00", {"a": Decimal("1"), "b": Fraction(2), "c": 3})  # type: ignore[dict-item]

    assert allocation.amounts == {"a": Decimal("1.50"), "b": Decimal("3.00"), "c": Decimal("4.50")}


# ---------------------------------------------------------------- negative values


def test_floor_pays_negative_contributors_nothing_and_reports_the_clipped_mass() -> None:
    allocation = allocate_pool("10.00", {"a": 3.0, "b": 1.0, "neg": -2.5, "worse": -0.5})

    assert allocation.amounts == {
        "a": Decimal("7.50"),
        "b": Decimal("2.50"),
        "neg": Decimal("0.00"),
        "worse": Decimal("0.00"),
    }
    assert allocation.shares == {
        "a": Decimal("0.75"),
        "b": Decimal("0.25"),
        "neg": Decimal("0"),
        "worse": Decimal("0"),
    }
    assert allocation.clipped_mass == Decimal("-3")
    assert allocation.clipped == ("neg", "worse")
    assert sum(allocation.amounts.values()) == allocation.pool


def test_floor_accepts_the_policy_by_its_string_value() -> None:
    allocation = allocate_pool("1.00", {"a": 1.0, "b": -1.0}, policy="floor")  # type: ignore[arg-type]

    assert allocation.policy is NegativeValuePolicy.FLOOR


def test_reject_raises_naming_every_negative_contributor() -> None:
    with pytest.raises(PayoutError, match=r"negative.*'bob', 'dave'"):
        allocate_pool(
            "10.00",
            {"dave": -0.1, "alice": 1.0, "bob": -2.0, "carol": 0.0},
            policy=NegativeValuePolicy.REJECT,
        )


def test_reject_pays_when_no_value_is_negative() -> None:
    allocation = allocate_pool("10.00", {"a": 1.0, "zero": 0.0}, policy=NegativeValuePolicy.REJECT)

    assert allocation.amounts == {"a": Decimal("10.00"), "zero": Decimal("0.00")}
    assert allocation.clipped_mass == 0
    assert allocation.policy is NegativeValuePolicy.REJECT


def test_error_names_at_most_ten_contributors() -> None:
    values = {f"c{i:02d}": -1.0 for i in range(12)} | {"ok": 1.0}

    with pytest.raises(PayoutError, match=r"'c09' and 2 more$"):
        allocate_pool("1.00", values, policy=NegativeValuePolicy.REJECT)


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("pool", "message"),
    [
        pytest.param("-0.01", "must not be negative", id="negative"),
        pytest.param(-5, "must not be negative", id="negative-int"),
        pytest.param(Decimal("NaN"), "finite", id="nan"),
        pytest.param("sNaN", "finite", id="signalling-nan"),
        pytest.param(Decimal("Infinity"), "finite", id="inf"),
        pytest.param("-inf", "finite", id="minus-inf-string"),
        pytest.param("10.005", "not a whole number of minor units", id="sub-cent"),
        pytest.param("1e-3", "not a whole number of minor units", id="sub-cent-exponent"),
        pytest.param("ten", "not a decimal number", id="not-a-number"),
        pytest.param(10.5, "floats cannot represent", id="float"),
        pytest.param(True, "pool must be", id="bool"),
        pytest.param(None, "pool must be", id="none"),
    ],
)
def test_invalid_pools_are_refused(pool: object, message: str) -> None:
    with pytest.raises(PayoutError, match=message):
        allocate_pool(pool, {"a": 1.0})  # type: ignore[arg-type]


def test_pool_finer_than_jpy_is_refused() -> None:
    with pytest.raises(PayoutError, match="0 decimal places"):
        allocate_pool("100.5", {"a": 1.0}, minor_unit_exponent=0)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        pytest.param({}, "empty", id="empty"),
        pytest.param({"a": 1.0, "b": math.nan}, "NaN or infinite for: 'b'", id="nan"),
        pytest.param({"a": math.inf}, "NaN or infinite for: 'a'", id="inf"),
        pytest.param({"a": 1.0, "b": -math.inf}, "NaN or infinite for: 'b'", id="minus-inf"),
        pytest.param({"a": Decimal("NaN")}, "NaN or infinite", id="decimal-nan"),
        pytest.param({"a": 1.0, 7: 1.0}, "keys must be strings, got 7", id="int-key"),
        pytest.param({("a",): 1.0}, "keys must be strings", id="tuple-key"),
        pytest.param({"a": "1.5"}, "not a number", id="string-value"),
        pytest.param({"a": None}, "not a number", id="none-value"),
        pytest.param({"a": True}, "not a number", id="bool-value"),
        pytest.param([("a", 1.0)], "must be a mapping", id="not-a-mapping"),
    ],
)
def test_invalid_values_are_refused(values: object, message: str) -> None:
    with pytest.raises(PayoutError, match=message):
        allocate_pool("1.00", values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "values",
    [
        pytest.param({"a": 0.0}, id="one-zero"),
        pytest.param({"a": 0.0, "b": -0.0}, id="zeros"),
        pytest.param({"a": -1.0, "b": -2.0}, id="all-negative"),
        pytest.param({"a": -1.0, "b": 0.0}, id="negative-and-zero"),
    ],
)
def test_nothing_to_pay_when_no_value_is_positive(values: dict[str, float]) -> None:
    with pytest.raises(PayoutError, match="nothing to pay: no contributor has positive value"):
        allocate_pool("1.00", values)


def test_nothing_to_pay_under_reject_when_all_values_are_zero() -> None:
    with pytest.raises(PayoutError, match="nothing to pay"):
        allocate_pool("1.00", {"a": 0.0}, policy=NegativeValuePolicy.REJECT)


@pytest.mark.parametrize("exponent", [-1, 19, 2.0, True, None])
def test_invalid_minor_unit_exponents_are_refused(exponent: object) -> None:
    with pytest.raises(PayoutError, match="minor_unit_exponent"):
        allocate_pool("1.00", {"a": 1.0}, minor_unit_exponent=exponent)  # type: ignore[arg-type]


def test_unknown_policy_is_refused() -> None:
    with pytest.raises(PayoutError, match="unknown negative-value policy 'proportional'"):
        allocate_pool("1.00", {"a": 1.0}, policy="proportional")  # type: ignore[arg-type]


def test_payout_error_is_a_value_error() -> None:
    assert issubclass(PayoutError, ValueError)


# ---------------------------------------------------------------- display and CSV


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        (Decimal("12.30"), "EUR", "€12.30"),
        (Decimal("0.00"), "usd", "$0.00"),
        (Decimal("1E+3"), "JPY", "¥1,000"),
        (Decimal("1234567.891"), "BHD", "BHD\u00a01,234,567.891"),
        (Decimal("-1060.36"), "EUR", "\u2212€1,060.36"),
        (Decimal("-5"), "CHF", "\u2212CHF\u00a05"),
        (Decimal("999"), "EUR", "€999"),
        (Decimal("100000"), "EUR", "€100,000"),
    ],
)
def test_format_amount(amount: Decimal, currency: str, expected: str) -> None:
    assert format_amount(amount, currency) == expected


def test_format_amount_pads_to_the_minor_unit_but_never_rounds() -> None:
    assert format_amount(Decimal("12.3"), "EUR", minor_unit_exponent=2) == "€12.30"
    assert format_amount(Decimal("7"), "BHD", minor_unit_exponent=3) == "BHD\u00a07.000"
    with pytest.raises(PayoutError, match="not a whole number of minor units"):
        format_amount(Decimal("12.345"), "EUR", minor_unit_exponent=2)


@pytest.mark.parametrize(
    ("amount", "currency"),
    [
        (Decimal("NaN"), "EUR"),
        (12.3, "EUR"),
        (Decimal("1"), "EURO"),
        (Decimal("1"), "E1R"),
        (Decimal("1"), ""),
    ],
)
def test_format_amount_refuses_bad_input(amount: object, currency: str) -> None:
    with pytest.raises(PayoutError):
        format_amount(amount, currency)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        (Decimal("1060.3600"), "EUR", "€1,060.36"),  # stored with 4 places, shown with 2
        (Decimal("10000.0000"), "EUR", "€10,000.00"),
        (Decimal("667.0000"), "JPY", "¥667"),
        (Decimal("7.0000"), "BHD", "BHD\u00a07.000"),
        (Decimal("-0.5000"), "USD", "\u2212$0.50"),
        (Decimal("0.1234"), "EUR", "€0.1234"),  # finer than a cent: shown as stored, not rounded
    ],
)
def test_format_money_shows_exactly_the_currencys_minor_unit(
    amount: Decimal, currency: str, expected: str
) -> None:
    assert format_money(amount, currency, locale="en-us") == expected


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("en", "\u2212€1,234,567.50"),
        ("de-de", "\u22121.234.567,50\u00a0€"),
        ("fr", "\u22121\u202f234\u202f567,50\u00a0€"),
        ("xx", "\u2212€1,234,567.50"),  # an unknown language falls back to English
    ],
)
def test_format_money_follows_the_locale(locale: str, expected: str) -> None:
    assert format_money(Decimal("-1234567.5"), "EUR", locale=locale) == expected


def test_format_money_follows_the_active_django_language() -> None:
    from django.utils import translation

    with translation.override("de"):
        assert format_money(Decimal("1234.5"), "EUR") == "1.234,50\u00a0€"
    with translation.override("en"):
        assert format_money(Decimal("1234.5"), "EUR") == "€1,234.50"


@pytest.mark.parametrize(
    ("share", "expected"),
    [
        (Decimal("0.1234000000000000000000000000"), "12.34%"),
        (Decimal("0.3333333333333333333333333333"), "33.33%"),
        (Decimal("1"), "100.00%"),
        (0.155, "15.50%"),
        (Decimal("-0.25"), "\u221225.00%"),
        (Decimal("-0.00001"), "0.00%"),  # no "−0.00%"
        (None, "—"),
    ],
)
def test_format_share_is_a_percentage_with_two_places(
    share: Decimal | float | None, expected: str
) -> None:
    assert format_share(share) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('=HYPERLINK("http://evil")', '\'=HYPERLINK("http://evil")'),
        ("+1+1", "'+1+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("Ada Lovelace", "Ada Lovelace"),
        ("O'Brien", "O'Brien"),
        ("a=b", "a=b"),
        ("", ""),
    ],
)
def test_csv_safe_examples(text: str, expected: str) -> None:
    assert csv_safe(text) == expected


# ---------------------------------------------------------------- properties

KEYS = st.text(min_size=1, max_size=6)
FINITE_FLOATS = st.floats(allow_nan=False, allow_infinity=False)
VALUES = st.one_of(
    FINITE_FLOATS,  # anything, including subnormals and ±1.8e308
    st.floats(min_value=-1e-300, max_value=1e-300, allow_nan=False),  # tiny
    st.sampled_from([0.0, -0.0, 1.0, 0.5, -1.0, 1e300, 5e-324]),  # exact ties and extremes
)
VALUE_MAPS = st.dictionaries(KEYS, VALUES, min_size=1, max_size=12).filter(
    lambda values: any(value > 0 for value in values.values())
)
EXPONENTS = st.sampled_from([0, 2, 3])
POOL_UNITS = st.one_of(st.integers(0, 1000), st.integers(0, 10**20))


def pool_decimal(units: int, exponent: int) -> Decimal:
    return Decimal(units).scaleb(-exponent)


def exact_quotas(units: int, values: dict[str, float]) -> dict[str, Fraction]:
    """The exact FLOOR-policy quota of each contributor, in minor units (the test's oracle)."""
    weights = {key: max(Fraction(value), Fraction(0)) for key, value in values.items()}
    total = sum(weights.values(), Fraction(0))
    return {key: units * weight / total for key, weight in weights.items()}


def allocate(units: int, values: dict[str, float], exponent: int) -> Allocation:
    return allocate_pool(pool_decimal(units, exponent), values, minor_unit_exponent=exponent)


def in_units(amount: Decimal, exponent: int) -> int:
    scaled = amount.scaleb(exponent)
    assert scaled == scaled.to_integral_value(), f"{amount} is finer than the minor unit"
    return int(scaled)


@settings(max_examples=300, deadline=None)
@given(units=POOL_UNITS, values=VALUE_MAPS, exponent=EXPONENTS)
def test_amounts_sum_to_the_pool_exactly(
    units: int, values: dict[str, float], exponent: int
) -> None:
    allocation = allocate(units, values, exponent)

    assert sum(allocation.amounts.values(), Decimal(0)) == allocation.pool
    assert sum(in_units(amount, exponent) for amount in allocation.amounts.values()) == units
    assert set(allocation.amounts) == set(values) == set(allocation.shares)
    assert all(-amount.as_tuple().exponent == exponent for amount in allocation.amounts.values())  # type: ignore[operator]


@settings(max_examples=200, deadline=None)
@given(units=POOL_UNITS, values=VALUE_MAPS, exponent=EXPONENTS, data=st.data())
def test_result_is_independent_of_input_order(
    units: int, values: dict[str, float], exponent: int, data: st.DataObject
) -> None:
    shuffled = dict(data.draw(st.permutations(list(values.items()))))

    first = allocate(units, values, exponent)
    second = allocate(units, shuffled, exponent)

    assert list(first.amounts.items()) == list(second.amounts.items())
    assert list(first.shares.items()) == list(second.shares.items())
    assert first.clipped_mass == second.clipped_mass
    assert first.clipped == second.clipped


@settings(max_examples=300, deadline=None)
@given(units=POOL_UNITS, values=VALUE_MAPS, exponent=EXPONENTS)
def test_every_amount_is_within_one_minor_unit_of_its_exact_quota(
    units: int, values: dict[str, float], exponent: int
) -> None:
    allocation = allocate(units, values, exponent)
    quotas = exact_quotas(units, values)

    for key, amount in allocation.amounts.items():
        paid = in_units(amount, exponent)
        assert abs(paid - quotas[key]) < 1, (key, paid, quotas[key])
        # Hamilton never rounds a quota the "wrong way": floor or floor + 1.
        assert paid in (math.floor(quotas[key]), math.floor(quotas[key]) + 1)


@settings(max_examples=300, deadline=None)
@given(units=POOL_UNITS, values=VALUE_MAPS, exponent=EXPONENTS)
def test_zero_and_negative_contributors_get_nothing_under_floor(
    units: int, values: dict[str, float], exponent: int
) -> None:
    allocation = allocate(units, values, exponent)

    for key, value in values.items():
        if value <= 0:
            assert allocation.amounts[key] == 0
            assert allocation.shares[key] == 0
    assert allocation.clipped == tuple(sorted(key for key, value in values.items() if value < 0))
    assert allocation.clipped_mass <= 0
    exact_clipped = sum((Fraction(v) for v in values.values() if v < 0), Fraction(0))
    assert (allocation.clipped_mass == 0) == (exact_clipped == 0)


@settings(max_examples=300, deadline=None)
@given(units=POOL_UNITS, values=VALUE_MAPS, exponent=EXPONENTS)
def test_a_larger_value_never_gets_less(
    units: int, values: dict[str, float], exponent: int
) -> None:
    allocation = allocate(units, values, exponent)

    by_value = sorted(values, key=lambda key: values[key])
    for smaller, larger in itertools.pairwise(by_value):
        if values[larger] > values[smaller]:
            assert allocation.amounts[larger] >= allocation.amounts[smaller]
            assert allocation.shares[larger] >= allocation.shares[smaller]


@settings(max_examples=200, deadline=None)
@given(units=POOL_UNITS, values=VALUE_MAPS, exponent=EXPONENTS)
def test_shares_are_fractions_that_sum_to_one(
    units: int, values: dict[str, float], exponent: int
) -> None:
    shares = allocate(units, values, exponent).shares

    assert all(0 <= share <= 1 for share in shares.values())
    # Each share is rounded to 28 significant digits; 12 contributors cannot drift past 1e-26.
    assert abs(sum(shares.values(), Decimal(0)) - 1) < Decimal("1e-26")


@settings(max_examples=200, deadline=None)
@given(
    units=POOL_UNITS,
    values=st.dictionaries(KEYS, FINITE_FLOATS, min_size=1, max_size=12),
    exponent=EXPONENTS,
)
def test_reject_either_raises_for_negatives_or_matches_floor(
    units: int, values: dict[str, float], exponent: int
) -> None:
    pool = pool_decimal(units, exponent)
    negatives = sorted(key for key, value in values.items() if value < 0)
    if negatives:
        with pytest.raises(PayoutError, match="negative") as raised:
            allocate_pool(
                pool, values, policy=NegativeValuePolicy.REJECT, minor_unit_exponent=exponent
            )
        assert repr(negatives[0]) in str(raised.value)
    elif not any(value > 0 for value in values.values()):
        with pytest.raises(PayoutError, match="nothing to pay"):
            allocate_pool(
                pool, values, policy=NegativeValuePolicy.REJECT, minor_unit_exponent=exponent
            )
    else:
        rejected = allocate_pool(
            pool, values, policy=NegativeValuePolicy.REJECT, minor_unit_exponent=exponent
        )
        assert rejected.amounts == allocate(units, values, exponent).amounts


@given(prefix=st.sampled_from(FORMULA_PREFIXES), rest=st.text())
def test_csv_safe_neutralises_every_dangerous_prefix(prefix: str, rest: str) -> None:
    assert csv_safe(prefix + rest) == "'" + prefix + rest


@given(
    name=st.text(
        alphabet=st.characters(categories=["L", "N", "Zs"]) | st.sampled_from(" .'_()&"),
    ).filter(lambda text: not text.startswith(FORMULA_PREFIXES))
)
def test_csv_safe_leaves_ordinary_names_alone(name: str) -> None:
    assert csv_safe(name) == name
