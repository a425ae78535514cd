"""Row validation: each type's accepted spellings and canonical text, each rejection's code and message."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from importhub.errors import ConfigError
from imports.services.validation import ColumnRule, RowError, chunk_validate, values_validate

QTY = ColumnRule("qty", "int")
AMOUNT = ColumnRule("amount_jual", "decimal", decimal_digits=18, decimal_places=4)
ACTIVE = ColumnRule("active", "bool")
DOTANGGAL = ColumnRule("dotanggal", "date", date_formats=("%Y-%m-%d", "%d/%m/%Y"))
DAY_OR_MONTH_FIRST = ColumnRule("dotanggal", "date", date_formats=("%d/%m/%Y", "%m/%d/%Y"))
EXPORTDATE = ColumnRule("exportdate", "datetime")
SKU = ColumnRule("sku", "str")


def _validate(rule: ColumnRule, *values: str):
    """One rule fed by a one-column file under another header, rows numbered from 2 as in a spreadsheet."""
    frame = pd.DataFrame({"file_column": list(values)}, dtype="str")
    rows = np.arange(2, 2 + len(values))
    return chunk_validate(frame=frame, row_numbers=rows, rules=[replace(rule, source="file_column")])


def _canonical(rule: ColumnRule, value: str):
    result = _validate(rule, value)
    assert result.errors == []
    return result.frame[rule.name].iloc[0]


def _error(rule: ColumnRule, value: str) -> RowError:
    result = _validate(rule, value)
    assert len(result.errors) == 1 and len(result.frame) == 0
    return result.errors[0]


# --- int -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("123", "123", id="plain"),
        pytest.param("+123", "123", id="plus-sign-dropped"),
        pytest.param("-45", "-45", id="negative"),
        pytest.param("007", "7", id="leading-zeros"),
        pytest.param("000", "0", id="all-zeros"),
        pytest.param("-0", "0", id="minus-zero"),
        pytest.param("  42\t", "42", id="surrounding-whitespace"),
        pytest.param("9223372036854775807", "9223372036854775807", id="int64-max"),
        pytest.param("-9223372036854775808", "-9223372036854775808", id="int64-min"),
        pytest.param("+0009223372036854775807", "9223372036854775807", id="int64-max-zero-padded"),
    ],
)
def test_int_valid_canonical(value, expected):
    assert _canonical(QTY, value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param("12.7", "qty: '12.7' is not a whole number", id="fraction"),
        pytest.param("abc", "qty: 'abc' is not a whole number", id="letters"),
        pytest.param("1e3", "qty: '1e3' is not a whole number", id="exponent"),
        pytest.param("1,000", "qty: '1,000' is not a whole number", id="thousands-separator"),
        pytest.param("1 000", "qty: '1 000' is not a whole number", id="inner-space"),
        pytest.param("--1", "qty: '--1' is not a whole number", id="double-sign"),
        pytest.param("+", "qty: '+' is not a whole number", id="sign-only"),
        pytest.param("\u0663", "qty: '\u0663' is not a whole number", id="non-ascii-digit"),
        pytest.param(
            "9223372036854775808",
            "qty: '9223372036854775808' is out of range (-9223372036854775808 to 9223372036854775807)",
            id="int64-max-plus-one",
        ),
        pytest.param(
            "-9223372036854775809",
            "qty: '-9223372036854775809' is out of range (-9223372036854775808 to 9223372036854775807)",
            id="int64-min-minus-one",
        ),
        pytest.param(
            "123456789012345678901",
            "qty: '123456789012345678901' is out of range (-9223372036854775808 to 9223372036854775807)",
            id="21-digits",
        ),
    ],
)
def test_int_invalid(value, message):
    error = _error(QTY, value)
    assert (error.code, error.message) == ("invalid_int", message)


# --- decimal -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("1250000.50", "1250000.5000", id="every-digit-at-the-scale"),
        pytest.param("12", "12.0000", id="no-point"),
        pytest.param("+1.5", "1.5000", id="plus-sign-dropped"),
        pytest.param("-1.5", "-1.5000", id="negative"),
        pytest.param(".5", "0.5000", id="no-whole-part"),
        pytest.param("-.5", "-0.5000", id="negative-no-whole-part"),
        pytest.param("5.", "5.0000", id="trailing-point"),
        pytest.param("007.50", "7.5000", id="leading-zeros"),
        pytest.param("-0.00", "0.0000", id="minus-zero"),
        pytest.param("0.1", "0.1000", id="no-float-noise"),
        pytest.param("99999999999999.9999", "99999999999999.9999", id="largest"),
        pytest.param("000012345678901234.5", "12345678901234.5000", id="leading-zeros-not-counted"),
        pytest.param("1.50000000", "1.5000", id="trailing-zeros-beyond-the-scale-dropped"),
        pytest.param("-0.000000", "0.0000", id="minus-zero-long"),
    ],
)
def test_decimal_valid_canonical(value, expected):
    assert _canonical(AMOUNT, value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("1.23455", "1.2346", id="rounds-half-up"),
        pytest.param("1.23454", "1.2345", id="rounds-down"),
        pytest.param("-1.23455", "-1.2346", id="negative-half-away-from-zero"),
        pytest.param("-0.00004", "0.0000", id="rounds-to-zero-unsigned"),
        pytest.param("1234567890123.45678", "1234567890123.4568", id="rounding-exact-beyond-float"),
        pytest.param("0.1000000000000000000000000001", "0.1000", id="long-fraction"),
    ],
)
def test_decimal_round_decimals_rounds_half_up_exactly(value, expected):
    assert _canonical(replace(AMOUNT, round_decimals=True), value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("12.5", "13", id="half-up"),
        pytest.param("12.4", "12", id="down"),
        pytest.param("-12.5", "-13", id="negative-half"),
        pytest.param("12.0", "12", id="zero-fraction"),
    ],
)
def test_decimal_no_places_rounds_to_whole(value, expected):
    rule = replace(AMOUNT, decimal_digits=10, decimal_places=0, round_decimals=True)
    assert _canonical(rule, value) == expected


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("1,000.50", id="thousands-separator"),
        pytest.param("1.000,50", id="decimal-comma"),
        pytest.param("1e3", id="exponent"),
        pytest.param("abc", id="letters"),
        pytest.param(".", id="point-only"),
        pytest.param("1.2.3", id="two-points"),
        pytest.param("+-1", id="two-signs"),
        pytest.param("12 345", id="inner-space"),
        pytest.param("Rp 100", id="currency"),
    ],
)
def test_decimal_invalid(value):
    error = _error(AMOUNT, value)
    assert error.code == "invalid_decimal"
    assert error.message == (
        f"amount_jual: '{value}' is not a number (digits with an optional '.', no thousands separators)"
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param(
            "123456789012345",
            "amount_jual: '123456789012345' has 15 digits before the decimal point, more than the 14 allowed",
            id="whole-part-too-long",
        ),
        pytest.param(
            "-123456789012345.1",
            "amount_jual: '-123456789012345.1' has 15 digits before the decimal point, more than the 14 allowed",
            id="negative",
        ),
        pytest.param(
            "99999999999999.99995",
            "amount_jual: '99999999999999.99995' has 15 digits before the decimal point once rounded to 4 "
            "decimal places, more than the 14 allowed",
            id="rounding-carries-a-digit",
        ),
    ],
)
def test_decimal_out_of_range(value, message):
    error = _error(replace(AMOUNT, round_decimals=True), value)
    assert (error.code, error.message) == ("decimal_out_of_range", message)


# --- bool ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        *[
            pytest.param(v, "1", id=f"true-{v}")
            for v in ("true", "TRUE", "True", "yes", " Yes ", "Y", "t", "1")
        ],
        *[pytest.param(v, "0", id=f"false-{v}") for v in ("false", "False", "no", "N", "f", "0")],
    ],
)
def test_bool_valid_canonical(value, expected):
    assert _canonical(ACTIVE, value) == expected


@pytest.mark.parametrize("value", ["2", "maybe", "on", "ja", "-1", "yess"])
def test_bool_invalid(value):
    error = _error(ACTIVE, value)
    assert error.code == "invalid_bool"
    assert error.message == f"active: '{value}' is not yes or no (true/false, 1/0, yes/no, y/n, t/f)"


# --- date ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "value", "expected"),
    [
        pytest.param(DOTANGGAL, "2026-04-03", "2026-04-03", id="iso"),
        pytest.param(DOTANGGAL, "03/04/2026", "2026-04-03", id="day-first"),
        pytest.param(DOTANGGAL, "3/4/2026", "2026-04-03", id="day-first-no-padding"),
        pytest.param(DOTANGGAL, "29/02/2024", "2024-02-29", id="leap-day"),
        pytest.param(DOTANGGAL, "9999-12-31", "9999-12-31", id="far-future"),
        pytest.param(DOTANGGAL, "1900-01-01", "1900-01-01", id="far-past"),
        pytest.param(ColumnRule("d", "date"), "2026-04-03", "2026-04-03", id="iso-by-default"),
        pytest.param(DAY_OR_MONTH_FIRST, "03/03/2026", "2026-03-03", id="both-orders-same-date"),
        pytest.param(DAY_OR_MONTH_FIRST, "13/04/2026", "2026-04-13", id="only-day-first-fits"),
        pytest.param(DAY_OR_MONTH_FIRST, "04/13/2026", "2026-04-13", id="only-month-first-fits"),
    ],
)
def test_date_valid_canonical(rule, value, expected):
    assert _canonical(rule, value) == expected


@pytest.mark.parametrize(
    ("rule", "value", "message"),
    [
        pytest.param(
            DOTANGGAL,
            "31/02/2026",
            "dotanggal: '31/02/2026' is not a real date (February 2026 has 28 days)",
            id="impossible-day",
        ),
        pytest.param(
            DOTANGGAL,
            "29/02/2026",
            "dotanggal: '29/02/2026' is not a real date (February 2026 has 28 days)",
            id="no-leap-day",
        ),
        pytest.param(
            DOTANGGAL,
            "2026-13-01",
            "dotanggal: '2026-13-01' is not a date in the format YYYY-MM-DD or DD/MM/YYYY",
            id="month-13",
        ),
        pytest.param(
            DOTANGGAL,
            "03/04/26",
            "dotanggal: '03/04/26' is not a date in the format YYYY-MM-DD or DD/MM/YYYY",
            id="two-digit-year",
        ),
        pytest.param(
            DOTANGGAL,
            "2026-04-03 10:00 PM",
            "dotanggal: '2026-04-03 10:00 PM' is not a date in the format YYYY-MM-DD or DD/MM/YYYY",
            id="trailing-time-not-a-time-part",
        ),
        pytest.param(
            ColumnRule("dotanggal", "date", date_formats=("%d/%m/%Y",)),
            "2026-04-03",
            "dotanggal: '2026-04-03' is not a date in the format DD/MM/YYYY",
            id="iso-not-configured",
        ),
        pytest.param(
            ColumnRule("d", "date"),
            "03/04/2026",
            "d: '03/04/2026' is not a date in the format YYYY-MM-DD",
            id="iso-only-by-default",
        ),
        pytest.param(
            DOTANGGAL,
            "yesterday",
            "dotanggal: 'yesterday' is not a date in the format YYYY-MM-DD or DD/MM/YYYY",
            id="words",
        ),
    ],
)
def test_date_invalid(rule, value, message):
    error = _error(rule, value)
    assert (error.code, error.message) == ("invalid_date", message)


def test_date_ambiguous_day_month_order_is_never_guessed():
    error = _error(DAY_OR_MONTH_FIRST, "03/04/2026")
    assert error.code == "ambiguous_date"
    assert error.message == (
        "dotanggal: '03/04/2026' is ambiguous: it reads as 2026-04-03 with %d/%m/%Y and 2026-03-04 with %m/%d/%Y"
    )


# --- datetime ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "value", "expected"),
    [
        pytest.param(EXPORTDATE, "2026-04-03 10:15:00", "2026-04-03 10:15:00", id="iso"),
        pytest.param(EXPORTDATE, "2026-04-03T10:15:00", "2026-04-03 10:15:00", id="iso-with-t"),
        pytest.param(EXPORTDATE, "2026-04-03 10:15", "2026-04-03 10:15:00", id="iso-without-seconds"),
        pytest.param(EXPORTDATE, "2026-04-03", "2026-04-03 00:00:00", id="iso-date-is-midnight"),
        pytest.param(
            replace(EXPORTDATE, date_formats=("%d/%m/%Y %H:%M",)),
            "03/04/2026 10:15",
            "2026-04-03 10:15:00",
            id="configured-format",
        ),
        pytest.param(
            replace(EXPORTDATE, date_formats=("%d/%m/%Y",)),
            "03/04/2026",
            "2026-04-03 00:00:00",
            id="date-only-format-is-midnight",
        ),
        pytest.param(
            replace(EXPORTDATE, date_formats=("%d %b %Y %H:%M",)),
            "03 Apr 2026 10:15",
            "2026-04-03 10:15:00",
            id="month-name",
        ),
    ],
)
def test_datetime_valid_canonical(rule, value, expected):
    assert _canonical(rule, value) == expected


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("2026-04-03 25:00:00", id="hour-25"),
        pytest.param("03/04/2026 10:15", id="not-iso"),
        pytest.param("2026-04-03 10:15:00,5", id="fraction-after-a-comma"),
        pytest.param("now", id="words"),
    ],
)
def test_datetime_invalid(value):
    error = _error(EXPORTDATE, value)
    assert error.code == "invalid_datetime"
    assert error.message == (
        f"exportdate: '{value}' is not a date and time in the format "
        "YYYY-MM-DD hh:mm:ss[.ffffff], YYYY-MM-DDThh:mm:ss[.ffffff], YYYY-MM-DD hh:mm, YYYY-MM-DDThh:mm or YYYY-MM-DD"
    )


def test_datetime_ambiguous():
    rule = replace(EXPORTDATE, date_formats=("%d/%m/%Y %H:%M", "%m/%d/%Y %H:%M"))
    error = _error(rule, "03/04/2026 10:15")
    assert error.code == "ambiguous_date"
    assert error.message == (
        "exportdate: '03/04/2026 10:15' is ambiguous: it reads as 2026-04-03 10:15:00 with %d/%m/%Y %H:%M "
        "and 2026-03-04 10:15:00 with %m/%d/%Y %H:%M"
    )


# --- str -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("SKU-001", "SKU-001", id="plain"),
        pytest.param("  SKU 001 \t", "SKU 001", id="stripped-inner-space-kept"),
        pytest.param("é" * 255, "é" * 255, id="255-accented"),
        pytest.param("🚀" * 255, "🚀" * 255, id="255-emoji-4-bytes-each"),
    ],
)
def test_str_valid_canonical(value, expected):
    assert _canonical(SKU, value) == expected


@pytest.mark.parametrize(
    ("rule", "value", "message"),
    [
        pytest.param(SKU, "x" * 300, "sku: 300 characters, more than the 255 allowed", id="ascii"),
        pytest.param(
            SKU, "é" * 256, "sku: 256 characters, more than the 255 allowed", id="counts-characters"
        ),
        pytest.param(
            replace(SKU, max_length=3), "abcd", "sku: 4 characters, more than the 3 allowed", id="small"
        ),
    ],
)
def test_str_too_long(rule, value, message):
    error = _error(rule, value)
    assert (error.code, error.message, error.value) == ("too_long", message, value)


# --- empty cells -----------------------------------------------------------------------------------------


ALL_TYPES = [QTY, AMOUNT, ACTIVE, DOTANGGAL, EXPORTDATE, SKU]


@pytest.mark.parametrize("value", [pytest.param("", id="empty"), pytest.param("   \t", id="whitespace-only")])
@pytest.mark.parametrize("rule", [pytest.param(r, id=r.data_type) for r in ALL_TYPES])
def test_empty_optional_is_null(rule, value):
    result = _validate(rule, value)
    assert result.errors == []
    assert result.frame[rule.name].tolist() == [None]


@pytest.mark.parametrize("value", [pytest.param("", id="empty"), pytest.param("   \t", id="whitespace-only")])
@pytest.mark.parametrize("rule", [pytest.param(r, id=r.data_type) for r in ALL_TYPES])
def test_empty_mandatory_is_missing_value(rule, value):
    error = _error(replace(rule, is_mandatory=True), value)
    assert error.as_dict() == {
        "row": 2,
        "column": rule.name,
        "value": value,
        "code": "missing_value",
        "message": f"{rule.name}: a value is required",
    }


# --- whole chunks --------------------------------------------------------------------------------------

SALES = [
    ColumnRule("distid", "str", is_mandatory=True, source="distid"),
    ColumnRule(
        "dotanggal", "date", is_mandatory=True, date_formats=("%Y-%m-%d", "%d/%m/%Y"), source="tanggal"
    ),
    ColumnRule("qty", "int", is_mandatory=True, source="qty"),
    ColumnRule("amount_jual", "decimal", is_mandatory=True, source="amount"),
    ColumnRule("note", "str", max_length=10, source="keterangan"),
]


def _sales_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "keterangan": ["", "ok", "far too long a note", "", "x"],
            "amount": ["10.5", "abc", "7", "+3.00", "1.00010"],
            "qty": ["1", "2", "12.7", " 04 ", "5"],
            "distid": ["D1", "D1", "", "D1", "D1"],
            "tanggal": ["2026-04-03", "03/04/2026", "31/02/2026", "2026-04-05", "06/04/2026"],
            "unused": ["?", "?", "?", "?", "?"],
        },
        dtype="str",
    )


def test_chunk_valid_frame_holds_only_good_rows_in_rule_order():
    result = chunk_validate(frame=_sales_frame(), row_numbers=np.array([2, 3, 5, 6, 9]), rules=SALES)

    assert list(result.frame.columns) == ["distid", "dotanggal", "qty", "amount_jual", "note"]
    assert result.frame.dtypes.tolist() == [np.dtype(object)] * 5
    assert result.frame.to_dict("records") == [
        {"distid": "D1", "dotanggal": "2026-04-03", "qty": "1", "amount_jual": "10.5000", "note": None},
        {"distid": "D1", "dotanggal": "2026-04-05", "qty": "4", "amount_jual": "3.0000", "note": None},
        {"distid": "D1", "dotanggal": "2026-04-06", "qty": "5", "amount_jual": "1.0001", "note": "x"},
    ]
    assert result.row_numbers.tolist() == [2, 6, 9]
    assert result.rejected.tolist() == [3, 5]
    assert result.rejected_positions.tolist() == [1, 2]


def test_chunk_errors_every_error_of_a_row_ordered_by_row_then_column():
    result = chunk_validate(frame=_sales_frame(), row_numbers=np.array([2, 3, 5, 6, 9]), rules=SALES)

    assert [(e.row, e.column, e.code, e.value) for e in result.errors] == [
        (3, "amount_jual", "invalid_decimal", "abc"),
        (5, "distid", "missing_value", ""),
        (5, "dotanggal", "invalid_date", "31/02/2026"),
        (5, "qty", "invalid_int", "12.7"),
        (5, "note", "too_long", "far too long a note"),
    ]


def test_chunk_error_value_is_the_raw_cell_message_the_stripped_one():
    result = _validate(QTY, " 12.7 ")
    assert result.errors[0].value == " 12.7 "
    assert result.errors[0].message == "qty: '12.7' is not a whole number"


def test_chunk_source_none_mandatory_rejects_every_row():
    rules = [ColumnRule("distid", "str", source="distid"), ColumnRule("custid", "str", is_mandatory=True)]
    frame = pd.DataFrame({"distid": ["D1", "D2", "D3"]}, dtype="str")

    result = chunk_validate(frame=frame, row_numbers=np.array([2, 3, 4]), rules=rules)

    assert [(e.row, e.column, e.code, e.value, e.message) for e in result.errors] == [
        (row, "custid", "missing_value", "", "custid: a value is required") for row in (2, 3, 4)
    ]
    assert len(result.frame) == 0 and result.rejected.tolist() == [2, 3, 4]


def test_chunk_source_none_optional_is_all_null():
    rules = [ColumnRule("distid", "str", source="distid"), ColumnRule("note", "str")]
    frame = pd.DataFrame({"distid": ["D1", "D2"]}, dtype="str")

    result = chunk_validate(frame=frame, row_numbers=np.array([2, 3]), rules=rules)

    assert result.errors == []
    assert result.frame.to_dict("records") == [{"distid": "D1", "note": None}, {"distid": "D2", "note": None}]


def test_chunk_extra_file_columns_ignored():
    frame = pd.DataFrame({"qty": ["1"], "junk": ["not a number"], "more": [""]}, dtype="str")

    result = chunk_validate(frame=frame, row_numbers=np.array([2]), rules=[replace(QTY, source="qty")])

    assert result.errors == []
    assert result.frame.to_dict("records") == [{"qty": "1"}]


def test_chunk_object_dtype_frame_and_offset_index():
    frame = pd.DataFrame({"qty": ["1", "x"]}, dtype=object, index=[100, 101])

    result = chunk_validate(frame=frame, row_numbers=np.array([40, 41]), rules=[replace(QTY, source="qty")])

    assert result.frame.to_dict("records") == [{"qty": "1"}]
    assert [(e.row, e.code) for e in result.errors] == [(41, "invalid_int")]
    assert result.rejected_positions.tolist() == [1]


def test_chunk_empty_frame():
    frame = pd.DataFrame({"qty": pd.Series([], dtype="str")})

    result = chunk_validate(
        frame=frame, row_numbers=np.array([], dtype=np.int64), rules=[replace(QTY, source="qty")]
    )

    assert result.errors == [] and len(result.frame) == 0 and list(result.frame.columns) == ["qty"]


def test_values_validate_same_checks_as_a_chunk():
    records = [
        {"distid": "D1", "tanggal": "03/04/2026", "qty": "x", "amount": "1", "keterangan": ""},
        {"distid": "", "tanggal": "2026-04-03", "qty": "3", "amount": "1,5"},
    ]

    errors = values_validate(records=records, row_numbers=[2, 3], rules=SALES)

    assert [e.as_dict() for e in errors] == [
        {
            "row": 2,
            "column": "qty",
            "value": "x",
            "code": "invalid_int",
            "message": "qty: 'x' is not a whole number",
        },
        {
            "row": 3,
            "column": "distid",
            "value": "",
            "code": "missing_value",
            "message": "distid: a value is required",
        },
        {
            "row": 3,
            "column": "amount_jual",
            "value": "1,5",
            "code": "invalid_decimal",
            "message": "amount_jual: '1,5' is not a number (digits with an optional '.', no thousands separators)",
        },
    ]


def test_values_validate_valid_records_have_no_errors():
    records = [{"distid": "D1", "tanggal": "2026-04-03", "qty": "3", "amount": "1.5", "keterangan": "ok"}]
    assert values_validate(records=records, row_numbers=[2], rules=SALES) == []


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        pytest.param(
            ColumnRule("qty", "float", source="c"),
            "Column 'qty' has the unknown data type 'float'.",
            id="unknown-type",
        ),
        pytest.param(
            ColumnRule("exportdate", "datetime", date_formats=("%Y-%m-%d %H:%M:%S%z",), source="c"),
            "Column 'exportdate': time zones (%z, %Z) are not supported in date formats (%Y-%m-%d %H:%M:%S%z).",
            id="time-zone-format",
        ),
    ],
)
def test_chunk_unusable_rule_is_a_config_error(rule, message):
    frame = pd.DataFrame({"c": ["1"]}, dtype="str")
    with pytest.raises(ConfigError) as raised:
        chunk_validate(frame=frame, row_numbers=np.array([2]), rules=[rule])
    assert (raised.value.code, raised.value.message) == ("invalid_config", message)
