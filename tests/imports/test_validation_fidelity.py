"""Data fidelity in row validation: a value is stored exactly as the file wrote it, or its row is refused saying why."""

import re
import unicodedata
from dataclasses import replace
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from importhub.errors import ConfigError
from imports.services.validation import (
    ColumnRule,
    DistributorRule,
    chunk_validate,
    values_check,
    values_validate,
)

PRICE = ColumnRule("price", "decimal", decimal_digits=18, decimal_places=4)
QTY = ColumnRule("qty", "int")
SKU = ColumnRule("sku", "str")
DOTANGGAL = ColumnRule("dotanggal", "date", date_formats=("%d/%m/%Y",))
ISO_DATE = ColumnRule("d", "date")
EXPORTDATE = ColumnRule("exportdate", "datetime")
DIST = ColumnRule("dist", "str", distributor=DistributorRule("31001", "prefix"))


def _validate(rule: ColumnRule, *values: str):
    frame = pd.DataFrame({"file_column": list(values)}, dtype="str")
    rows = np.arange(2, 2 + len(values))
    return chunk_validate(frame=frame, row_numbers=rows, rules=[replace(rule, source="file_column")])


def _canonical(rule: ColumnRule, value: str):
    result = _validate(rule, value)
    assert result.errors == []
    return result.frame[rule.name].iloc[0]


def _error(rule: ColumnRule, value: str):
    result = _validate(rule, value)
    assert len(result.errors) == 1 and len(result.frame) == 0, result.errors
    return result.errors[0]


def _quick_canonical(rule: ColumnRule, value: str):
    """The same value through quick validation's path (head records as dicts)."""
    checked = values_check(
        records=[{"file_column": value}], row_numbers=[2], rules=[replace(rule, source="file_column")]
    )
    assert checked.errors == []
    return checked.frame[rule.name].iloc[0]


# --- keys are compared as stored ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(" abc ", "abc", id="spaces"),
        pytest.param("\u00a0abc\u00a0", "abc", id="no-break-spaces"),
        pytest.param("\u202fabc\u3000", "abc", id="narrow-and-ideographic-spaces"),
        pytest.param("\tabc\r\n", "abc", id="tab-and-line-break"),
        pytest.param("a  b", "a  b", id="inner-spaces-kept"),
        pytest.param("ABC", "ABC", id="case-kept"),
        pytest.param("straße", "straße", id="sharp-s-kept"),
        pytest.param(
            unicodedata.normalize("NFD", "résumé"), unicodedata.normalize("NFD", "résumé"), id="nfd-kept"
        ),
        pytest.param(
            unicodedata.normalize("NFC", "résumé"), unicodedata.normalize("NFC", "résumé"), id="nfc-kept"
        ),
        pytest.param("\ufeffabc", "\ufeffabc", id="zero-width-no-break-space-is-text"),
    ],
)
def test_str_key_stripped_once_the_same_on_the_quick_and_the_full_path(value, expected):
    assert _canonical(SKU, value) == expected
    assert _quick_canonical(SKU, value) == expected


def test_str_keys_differing_in_case_accents_or_normalisation_stay_different():
    keys = [
        "abc",
        "ABC",
        "straße",
        "strasse",
        unicodedata.normalize("NFC", "résumé"),
        unicodedata.normalize("NFD", "résumé"),
        "resume",
    ]
    result = _validate(SKU, *keys)
    assert result.errors == []
    assert result.frame["sku"].tolist() == keys
    assert len(set(result.frame["sku"])) == len(keys)


# --- decimals ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("12345678901234.5678", id="all-18-digits"),
        pytest.param("99999999999999.9999", id="largest-18-digits"),
        pytest.param("-99999999999999.9999", id="smallest-18-digits"),
        pytest.param("-0.0001", id="smallest-negative-step"),
        pytest.param("0.0001", id="smallest-step"),
        pytest.param("10000000000000.0001", id="first-and-last-digit"),
    ],
)
def test_decimal_canonical_keeps_all_18_digits(value):
    assert _canonical(PRICE, value) == value
    assert Decimal(_canonical(PRICE, value)) == Decimal(value)


@pytest.mark.parametrize(
    ("rule", "value", "message"),
    [
        pytest.param(
            PRICE, "1.23456", "price: '1.23456' has 5 decimal places, more than the 4 allowed", id="one-more"
        ),
        pytest.param(
            PRICE,
            "-0.00001",
            "price: '-0.00001' has 5 decimal places, more than the 4 allowed",
            id="tiny-negative-is-not-zero",
        ),
        pytest.param(
            PRICE,
            "1.234560",
            "price: '1.234560' has 6 decimal places, more than the 4 allowed",
            id="counts-as-written",
        ),
        pytest.param(
            replace(PRICE, decimal_digits=10, decimal_places=0),
            "12.5",
            "price: '12.5' has 1 decimal place, more than the 0 allowed",
            id="whole-numbers-only",
        ),
        pytest.param(
            replace(PRICE, decimal_separator=","),
            "1,23456",
            "price: '1,23456' has 5 decimal places, more than the 4 allowed",
            id="decimal-comma",
        ),
    ],
)
def test_decimal_more_places_than_the_scale_is_too_many_decimals(rule, value, message):
    error = _error(rule, value)
    assert (error.code, error.message, error.value) == ("too_many_decimals", message, value)


@pytest.mark.parametrize(
    ("places", "value", "expected"),
    [
        pytest.param(2, "1.50000", "1.50", id="to-scale-2"),
        pytest.param(0, "10.000", "10", id="to-whole"),
        pytest.param(1, "-2.1000", "-2.1", id="negative"),
        pytest.param(4, "0.00000", "0.0000", id="zero"),
        pytest.param(2, "1.5", "1.50", id="fewer-places-padded-to-the-scale"),
    ],
)
def test_decimal_trailing_zeros_beyond_the_scale_accepted_unchanged(places, value, expected):
    rule = replace(PRICE, decimal_places=places)
    canonical = _canonical(rule, value)
    assert canonical == expected
    assert Decimal(canonical) == Decimal(value)
    assert _validate(rule, value).rounded == {}


def test_decimal_round_decimals_counts_the_rounded_values_of_valid_rows():
    rules = [
        replace(PRICE, round_decimals=True, source="price"),
        ColumnRule("qty", "int", source="qty"),
    ]
    frame = pd.DataFrame(
        {
            "price": ["1.23455", "2.5", "3.99999", "4.10000", "5.55555"],
            "qty": ["1", "2", "3", "4", "not a number"],
        },
        dtype="str",
    )

    result = chunk_validate(frame=frame, row_numbers=np.arange(2, 7), rules=rules)

    assert result.frame["price"].tolist() == ["1.2346", "2.5000", "4.0000", "4.1000"]
    # 5.55555 was rounded too, but its row is rejected (qty): it is not stored, so not counted.
    assert result.rounded == {"price": 2}
    assert [(e.row, e.code) for e in result.errors] == [(6, "invalid_int")]


def test_decimal_without_round_decimals_nothing_is_rounded():
    result = _validate(PRICE, "1.23455", "1.5")
    assert result.rounded == {}
    assert [(e.row, e.code) for e in result.errors] == [(2, "too_many_decimals")]
    assert result.frame["price"].tolist() == ["1.5000"]


def _spelled(value: Decimal, *, places: int, style: str, decimal: str, thousands: str) -> str:
    """A way a file may write `value` under the table's separators."""
    text = format(value, "f")
    sign = "-" if text.startswith("-") else ""
    whole, _, fraction = text.lstrip("-").partition(".")
    if style == "grouped" and thousands:
        whole = f"{int(whole):,}".replace(",", thousands)
    if style == "leading-zeros":
        whole = "000" + whole
    if style == "trailing-zeros":
        fraction += "000"
    if style == "plus" and not sign:
        sign = "+"
    return sign + whole + (decimal + fraction if fraction else "")


@settings(max_examples=400, deadline=None)
@given(data=st.data())
def test_decimal_any_value_inside_the_precision_round_trips_exactly(data):
    digits = data.draw(st.integers(min_value=1, max_value=65), label="digits")
    places = data.draw(st.integers(min_value=0, max_value=min(digits, 30)), label="places")
    unscaled = data.draw(st.integers(min_value=-(10**digits) + 1, max_value=10**digits - 1), label="unscaled")
    decimal, thousands = data.draw(
        st.sampled_from([(".", ""), (".", ","), (",", "."), (",", " "), (".", "'"), (",", "")]),
        label="separators",
    )
    style = data.draw(
        st.sampled_from(["plain", "grouped", "leading-zeros", "trailing-zeros", "plus"]), label="style"
    )
    value = Decimal(f"{unscaled}E-{places}")
    text = _spelled(value, places=places, style=style, decimal=decimal, thousands=thousands)
    rule = replace(
        PRICE,
        decimal_digits=digits,
        decimal_places=places,
        decimal_separator=decimal,
        thousands_separator=thousands,
    )

    result = _validate(rule, text)

    assert result.errors == [], text
    canonical = result.frame["price"].iloc[0]
    assert Decimal(canonical) == value, text
    assert re.fullmatch(rf"-?[0-9]+(\.[0-9]{{{places}}})?" if places else r"-?[0-9]+", canonical), canonical
    assert result.rounded == {}


# --- numbers by the table's separators ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("decimal", "thousands", "value", "expected"),
    [
        pytest.param(",", ".", "1.234,56", "1234.5600", id="comma-decimal-point-thousands"),
        pytest.param(",", ".", "1.234.567,5", "1234567.5000", id="comma-decimal-two-groups"),
        pytest.param(",", ".", "1234,5", "1234.5000", id="grouping-is-optional"),
        pytest.param(",", ".", "-1.234", "-1234.0000", id="point-groups-without-fraction"),
        pytest.param(",", "", "1234,56", "1234.5600", id="comma-decimal-no-thousands"),
        pytest.param(",", "", ",5", "0.5000", id="comma-no-whole-part"),
        pytest.param(".", ",", "1,234,567.5", "1234567.5000", id="point-decimal-comma-thousands"),
        pytest.param(".", ",", "123,456", "123456.0000", id="three-digit-first-group"),
        pytest.param(".", " ", "1 234 567.5", "1234567.5000", id="space"),
        pytest.param(".", " ", "1\u00a0234.5", "1234.5000", id="no-break-space"),
        pytest.param(",", " ", "1\u202f234,5", "1234.5000", id="narrow-no-break-space"),
        pytest.param(".", "'", "1'234'567.25", "1234567.2500", id="apostrophe"),
    ],
)
def test_decimal_by_the_table_separators_canonical_uses_a_point_and_no_grouping(
    decimal, thousands, value, expected
):
    rule = replace(PRICE, decimal_separator=decimal, thousands_separator=thousands)
    assert _canonical(rule, value) == expected


@pytest.mark.parametrize(
    ("decimal", "thousands", "value", "rule_text"),
    [
        pytest.param(
            ",",
            "",
            "1.234",
            "digits with ',' as the decimal separator and no thousands separator",
            id="never-a-guess",
        ),
        pytest.param(
            ".",
            ",",
            "1,23",
            "digits with '.' as the decimal separator and ',' as the thousands separator, in groups of 3 digits",
            id="short-group",
        ),
        pytest.param(
            ".",
            ",",
            "1234,567",
            "digits with '.' as the decimal separator and ',' as the thousands separator, in groups of 3 digits",
            id="long-first-group",
        ),
        pytest.param(
            ".",
            ",",
            "1,234.5,6",
            "digits with '.' as the decimal separator and ',' as the thousands separator, in groups of 3 digits",
            id="grouping-in-the-fraction",
        ),
        pytest.param(
            ",",
            ".",
            "1,234.56",
            "digits with ',' as the decimal separator and '.' as the thousands separator, in groups of 3 digits",
            id="the-other-convention",
        ),
        pytest.param(
            ".",
            " ",
            "1  234",
            "digits with '.' as the decimal separator and a space as the thousands separator, in groups of 3 digits",
            id="two-spaces",
        ),
        pytest.param(
            ".",
            "",
            "1,000.50",
            "digits with an optional '.', no thousands separators",
            id="default-table",
        ),
    ],
)
def test_decimal_by_the_table_separators_invalid_says_which_separators(decimal, thousands, value, rule_text):
    rule = replace(PRICE, decimal_separator=decimal, thousands_separator=thousands)
    error = _error(rule, value)
    assert (error.code, error.message) == (
        "invalid_decimal",
        f"price: '{value}' is not a number ({rule_text})",
    )


@pytest.mark.parametrize(
    ("decimal", "thousands", "value", "expected"),
    [
        pytest.param(",", ".", "1.234", "1234", id="point-thousands"),
        pytest.param(".", ",", "-1,234,567", "-1234567", id="comma-thousands"),
        pytest.param(
            ".",
            " ",
            "9\u00a0223\u00a0372\u00a0036\u00a0854\u00a0775\u00a0807",
            "9223372036854775807",
            id="int64-max",
        ),
        pytest.param(".", ",", "1234", "1234", id="grouping-is-optional"),
    ],
)
def test_int_by_the_table_separators(decimal, thousands, value, expected):
    rule = replace(QTY, decimal_separator=decimal, thousands_separator=thousands)
    assert _canonical(rule, value) == expected


@pytest.mark.parametrize(
    ("decimal", "thousands", "value", "message"),
    [
        pytest.param(
            ",",
            "",
            "1.234",
            "qty: '1.234' is not a whole number (no thousands separator)",
            id="never-a-guess",
        ),
        pytest.param(
            ",",
            ".",
            "1.23",
            "qty: '1.23' is not a whole number (with '.' as the thousands separator, in groups of 3 digits)",
            id="short-group",
        ),
        pytest.param(".", "", "1,000", "qty: '1,000' is not a whole number", id="default-table"),
    ],
)
def test_int_by_the_table_separators_invalid(decimal, thousands, value, message):
    error = _error(replace(QTY, decimal_separator=decimal, thousands_separator=thousands), value)
    assert (error.code, error.message) == ("invalid_int", message)


@pytest.mark.parametrize(
    ("decimal", "thousands", "message"),
    [
        pytest.param(
            ".", ".", "Column 'price': '.' cannot be both the decimal and the thousands separator.", id="same"
        ),
        pytest.param(";", "", "Column 'price': the decimal separator must be '.' or ','.", id="bad-decimal"),
        pytest.param(
            ".",
            "_",
            "Column 'price': the thousands separator must be none, ',', '.', ' ' or \"'\".",
            id="bad-thousands",
        ),
    ],
)
def test_number_separators_unusable_is_a_config_error(decimal, thousands, message):
    with pytest.raises(ConfigError) as raised:
        _validate(replace(PRICE, decimal_separator=decimal, thousands_separator=thousands), "1")
    assert raised.value.message == message


# --- dates and times ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "value", "expected"),
    [
        *[
            pytest.param(ISO_DATE, f"{year}-06-15", f"{year}-06-15", id=f"date-year-{year}")
            for year in ("0001", "0999", "1000", "1677", "2263", "9999")
        ],
        pytest.param(ISO_DATE, "9999-12-31", "9999-12-31", id="date-last-day"),
        pytest.param(ISO_DATE, "0001-01-01", "0001-01-01", id="date-first-day"),
        pytest.param(DOTANGGAL, "01/01/0001", "0001-01-01", id="configured-format-year-1"),
        pytest.param(EXPORTDATE, "0001-01-01 00:00:00", "0001-01-01 00:00:00", id="datetime-year-1"),
        pytest.param(
            EXPORTDATE,
            "9999-12-31 23:59:59.999999",
            "9999-12-31 23:59:59.999999",
            id="datetime-last-microsecond",
        ),
        pytest.param(
            EXPORTDATE, "1677-09-21 00:12:43", "1677-09-21 00:12:43", id="datetime-before-pandas-ns"
        ),
        pytest.param(
            EXPORTDATE, "2263-01-01 00:00:00.5", "2263-01-01 00:00:00.500000", id="datetime-after-pandas-ns"
        ),
    ],
)
def test_date_years_1_to_9999_are_valid(rule, value, expected):
    assert _canonical(rule, value) == expected


@pytest.mark.parametrize(
    ("rule", "value", "code", "message"),
    [
        pytest.param(
            ISO_DATE,
            "0000-01-01",
            "invalid_date",
            "d: '0000-01-01' is not a real date (there is no year 0)",
            id="date-0000",
        ),
        pytest.param(
            EXPORTDATE,
            "0000-01-01 00:00:00",
            "invalid_datetime",
            "exportdate: '0000-01-01 00:00:00' is not a real date (there is no year 0)",
            id="datetime-0000",
        ),
        pytest.param(
            DOTANGGAL,
            "31/11/2026",
            "invalid_date",
            "dotanggal: '31/11/2026' is not a real date (November has 30 days)",
            id="31-november",
        ),
        pytest.param(
            DOTANGGAL,
            "30/02/2024",
            "invalid_date",
            "dotanggal: '30/02/2024' is not a real date (February 2024 has 29 days)",
            id="30-february-leap-year",
        ),
        pytest.param(
            ColumnRule("d", "date", date_formats=("%d %b %Y",)),
            "31 Nov 2026",
            "invalid_date",
            "d: '31 Nov 2026' is not a real date (November has 30 days)",
            id="month-name",
        ),
        pytest.param(
            EXPORTDATE,
            "2026-02-30 10:15:00",
            "invalid_datetime",
            "exportdate: '2026-02-30 10:15:00' is not a real date (February 2026 has 28 days)",
            id="datetime-30-february",
        ),
        pytest.param(
            DOTANGGAL,
            "32/01/2026",
            "invalid_date",
            "dotanggal: '32/01/2026' is not a date in the format DD/MM/YYYY",
            id="day-32-is-not-the-format",
        ),
    ],
)
def test_date_impossible_says_it_is_not_a_real_date(rule, value, code, message):
    error = _error(rule, value)
    assert (error.code, error.message) == (code, message)


@pytest.mark.parametrize(
    ("rule", "value"),
    [
        pytest.param(DOTANGGAL, "03/04/2026 00:00", id="hh-mm"),
        pytest.param(DOTANGGAL, "03/04/2026 00:00:00", id="hh-mm-ss"),
        pytest.param(DOTANGGAL, "03/04/2026 00:00:00.000000", id="microseconds"),
        pytest.param(ISO_DATE, "2026-04-03 00:00:00", id="iso-space"),
        pytest.param(ISO_DATE, "2026-04-03T00:00", id="iso-t"),
        pytest.param(ISO_DATE, "2026-04-03T00:00:00.0", id="iso-t-fraction"),
    ],
)
def test_date_column_accepts_a_midnight_time_part(rule, value):
    assert _canonical(rule, value) == "2026-04-03"


@pytest.mark.parametrize(
    ("rule", "value", "shown"),
    [
        pytest.param(DOTANGGAL, "03/04/2026 23:59", "23:59", id="evening"),
        pytest.param(DOTANGGAL, "03/04/2026 00:00:01", "00:00:01", id="one-second"),
        pytest.param(DOTANGGAL, "03/04/2026 00:00:00.000001", "00:00:00.000001", id="one-microsecond"),
        pytest.param(ISO_DATE, "2026-04-03T10:15:00", "10:15", id="iso-t"),
    ],
)
def test_date_column_refuses_a_time_of_day(rule, value, shown):
    error = _error(rule, value)
    assert error.code == "time_in_date"
    assert (
        error.message == f"{rule.name}: '{value}' has a time of day ({shown}); this column holds dates only"
    )


def test_date_column_with_a_time_part_stays_ambiguous_between_formats():
    rule = ColumnRule("dotanggal", "date", date_formats=("%d/%m/%Y", "%m/%d/%Y"))
    error = _error(rule, "03/04/2026 00:00")
    assert error.code == "ambiguous_date"
    assert error.message == (
        "dotanggal: '03/04/2026 00:00' is ambiguous: it reads as 2026-04-03 with %d/%m/%Y and 2026-03-04 with %m/%d/%Y"
    )


@pytest.mark.parametrize(
    ("rule", "value", "expected"),
    [
        pytest.param(EXPORTDATE, "2026-04-03 10:15:00.999", "2026-04-03 10:15:00.999000", id="milliseconds"),
        pytest.param(EXPORTDATE, "2026-04-03 10:15:00.5", "2026-04-03 10:15:00.500000", id="one-digit"),
        pytest.param(
            EXPORTDATE, "2026-04-03T10:15:00.123456", "2026-04-03 10:15:00.123456", id="t-microseconds"
        ),
        pytest.param(EXPORTDATE, "2026-04-03 10:15:00.000", "2026-04-03 10:15:00", id="zero-fraction"),
        pytest.param(EXPORTDATE, "2026-04-03T10:15", "2026-04-03 10:15:00", id="t-without-seconds"),
        pytest.param(
            replace(EXPORTDATE, date_formats=("%d/%m/%Y %H:%M:%S",)),
            "03/04/2026 10:15:00.25",
            "2026-04-03 10:15:00.250000",
            id="configured-seconds-take-a-fraction",
        ),
        pytest.param(
            replace(EXPORTDATE, date_formats=("%d/%m/%Y %H:%M:%S.%f",)),
            "03/04/2026 10:15:00.000042",
            "2026-04-03 10:15:00.000042",
            id="configured-f",
        ),
        pytest.param(
            replace(EXPORTDATE, date_formats=("%Y%m%d%H%M%S%f",)),
            "20260403101500123",
            "2026-04-03 10:15:00.123000",
            id="configured-f-without-a-point",
        ),
    ],
)
def test_datetime_keeps_fractional_seconds_to_the_microsecond(rule, value, expected):
    assert _canonical(rule, value) == expected


@pytest.mark.parametrize(
    ("rule", "value"),
    [
        pytest.param(EXPORTDATE, "2026-04-03 10:15:00.1234567", id="seven-digits"),
        pytest.param(EXPORTDATE, "2026-04-03T10:15:00.123456789", id="nanoseconds"),
        pytest.param(
            replace(EXPORTDATE, date_formats=("%d/%m/%Y %H:%M:%S.%f",)),
            "03/04/2026 10:15:00.0000001",
            id="configured",
        ),
        pytest.param(DOTANGGAL, "03/04/2026 00:00:00.0000000", id="date-column-time-part"),
    ],
)
def test_datetime_more_than_6_fractional_digits_is_refused_never_dropped(rule, value):
    error = _error(rule, value)
    assert error.code == "too_precise_time"
    assert error.message == (
        f"{rule.name}: '{value}' has more than 6 digits of fractional seconds; the table keeps microseconds"
    )


# --- NUL bytes ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "rule",
    [
        pytest.param(rule, id=rule.data_type)
        for rule in (SKU, QTY, PRICE, ISO_DATE, EXPORTDATE, ColumnRule("ok", "bool"))
    ],
)
def test_nul_byte_in_a_value_is_a_row_error_naming_the_column(rule):
    error = _error(rule, "12\x0034")
    assert error.as_dict() == {
        "row": 2,
        "column": rule.name,
        "value": "12\x0034",
        "code": "nul_byte",
        "message": f"{rule.name}: the value contains a NUL byte (\\x00)",
    }


@pytest.mark.parametrize(
    "value", [pytest.param("a\x01b", id="start-of-heading"), pytest.param("a\x1fb", id="unit-separator")]
)
def test_nul_byte_other_control_characters_stay(value):
    assert _canonical(SKU, value) == value


# --- the distributor on every row ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "value", "mismatch"),
    [
        pytest.param(DistributorRule("31001", "prefix"), "31999", False, id="prefix-2-same-start"),
        pytest.param(DistributorRule("31001", "prefix"), "3200123", True, id="prefix-2-other-start"),
        pytest.param(DistributorRule("31001", "prefix"), "3", True, id="prefix-2-too-short"),
        pytest.param(DistributorRule("31001", "prefix", 3), "31199", True, id="prefix-3"),
        pytest.param(DistributorRule("31001", "prefix", 3), "31012", False, id="prefix-3-same"),
        pytest.param(DistributorRule("3", "prefix"), "31001", False, id="dist-id-shorter-than-the-prefix"),
        pytest.param(DistributorRule("31001", "exact"), "31001", False, id="exact-same"),
        pytest.param(DistributorRule("31001", "exact"), "31002", True, id="exact-other"),
        pytest.param(DistributorRule("31001", "exact"), "310010", True, id="exact-longer"),
    ],
)
def test_distributor_rule_mismatch(rule, value, mismatch):
    assert rule.mismatch(value) is mismatch


@pytest.mark.parametrize(
    ("rule", "described"),
    [
        pytest.param(
            DistributorRule("31001", "prefix"), "the first 2 characters of dist_id 31001", id="prefix"
        ),
        pytest.param(
            DistributorRule("31001", "prefix", 1), "the first 1 character of dist_id 31001", id="prefix-1"
        ),
        pytest.param(DistributorRule("31001", "exact"), "dist_id 31001", id="exact"),
    ],
)
def test_distributor_rule_describe(rule, described):
    assert rule.describe() == described


@pytest.mark.parametrize(
    ("match", "message"),
    [
        pytest.param(
            "nearest", "Unknown distributor match 'nearest' (expected prefix or exact).", id="unknown-match"
        ),
        pytest.param("prefix", "The distributor prefix length must be at least 1 (not 0).", id="zero-length"),
    ],
)
def test_distributor_rule_unusable_is_a_config_error(match, message):
    with pytest.raises(ConfigError) as raised:
        DistributorRule("31001", match, 0)
    assert raised.value.message == message


def test_distributor_mismatch_on_every_row():
    result = _validate(DIST, "31001", " 31002 ", "3200123", "", "42001", "31")

    assert result.frame["dist"].tolist() == ["31001", "31002", None, "31"]
    assert [e.as_dict() for e in result.errors] == [
        {
            "row": 4,
            "column": "dist",
            "value": "3200123",
            "code": "distributor_mismatch",
            "message": "dist: '3200123' does not match dist_id 31001 (first 2 characters)",
        },
        {
            "row": 6,
            "column": "dist",
            "value": "42001",
            "code": "distributor_mismatch",
            "message": "dist: '42001' does not match dist_id 31001 (first 2 characters)",
        },
    ]


def test_distributor_mismatch_exact():
    rule = replace(DIST, distributor=DistributorRule("31001", "exact"))
    result = _validate(rule, "31001", "31002")
    assert [(e.row, e.code, e.message) for e in result.errors] == [
        (3, "distributor_mismatch", "dist: '31002' does not match dist_id 31001")
    ]


def test_distributor_mismatch_empty_value_is_left_to_is_mandatory():
    result = _validate(replace(DIST, is_mandatory=True), "")
    assert [(e.code, e.message) for e in result.errors] == [("missing_value", "dist: a value is required")]


def test_distributor_mismatch_int_column_compares_the_stored_number():
    rule = ColumnRule("dist", "int", distributor=DistributorRule("31001", "exact"))
    result = _validate(rule, "031001", "+31001", "31002", "x")
    assert result.frame["dist"].tolist() == ["31001", "31001"]
    # A value that is not a number is reported as such, not as another distributor.
    assert [(e.row, e.code) for e in result.errors] == [(4, "distributor_mismatch"), (5, "invalid_int")]


def test_values_validate_quick_path_reports_the_same_codes_as_a_chunk():
    rules = [
        replace(DIST, source="dist"),
        replace(PRICE, source="price"),
        replace(DOTANGGAL, source="tanggal"),
        replace(SKU, source="sku"),
    ]
    records = [
        {"dist": "42001", "price": "1.23456", "tanggal": "31/11/2026", "sku": "a\x00b"},
        {"dist": "31001", "price": "1.5", "tanggal": "03/04/2026 23:59", "sku": "ok"},
    ]
    errors = values_validate(records=records, row_numbers=[2, 3], rules=rules)
    assert [(e.row, e.column, e.code) for e in errors] == [
        (2, "dist", "distributor_mismatch"),
        (2, "price", "too_many_decimals"),
        (2, "dotanggal", "invalid_date"),
        (2, "sku", "nul_byte"),
        (3, "dotanggal", "time_in_date"),
    ]
