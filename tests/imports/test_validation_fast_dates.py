"""The ISO fast path for dates and times reads exactly what the general path (regex, pandas, strptime) reads."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imports.services import validation
from imports.services.validation import DATETIME_ISO_FORMATS, ColumnRule, chunk_validate

ISO_DATE = ColumnRule("d", "date", source="file_column")
ISO_DATETIME = ColumnRule("exportdate", "datetime", source="file_column")

TRICKY = [
    "2026-04-03",
    "0001-01-01",
    "9999-12-31",
    "0000-01-01",
    "0000-01-01 00:00:00",
    "0001-01-01 00:00:00",
    "0999-12-31 23:59:59",
    "1900-02-29",
    "2000-02-29 12:00:00",
    "2024-02-29",
    "2023-02-29",
    "2024-02-30",
    "2024-04-31",
    "2024-13-01",
    "2024-00-10",
    "2024-01-00",
    "2024-1-01",
    "2024-01-01 ",
    " 2024-01-01 10:00:00 ",
    "2026-10-01T10:00",
    "2026-10-01t10:00",
    "2026-10-01 10:00",
    "2026-10-01 00:00",
    "2026-10-01T00:00:00",
    "2026-10-01t10:00:00",
    "2026-10-01 10:00:00",
    "2026-10-01  10:00:00",
    "2026-10-01\u00a010:00:00",
    "2026-10-01 1:2:3",
    "2026-10-01 24:00:00",
    "2026-10-01 23:60:00",
    "2026-10-01 23:59:60",
    "2026-10-01 23:59:59.9",
    "2026-10-01 10:00:00.",
    "2026-10-01 10:00:00.0",
    "2026-10-01 00:00:00.000000",
    "2026-10-01 10:00:00.123456",
    "2026-10-01T10:00:00.999999",
    "2026-10-01 10:00:00.1234567",
    "2026-10-01 10:00:00.0000000",
    "9999-12-31 23:59:59.999999",
    "0001-01-01T00:00:00.000001",
    "2026-10-01x10:00:00",
    "2026/10/01",
    "01/02/2026",
    "13/02/2026",
    "02/13/2026",
    "01/02/2026 10:00",
    "２０２６-10-01",
    "2026-10-01 1０:00:00",
    "abcd-ef-gh",
    "2026-10-01 10:00:0",
]

RULES = [
    pytest.param(ISO_DATE, id="date-iso"),
    pytest.param(ISO_DATETIME, id="datetime-iso"),
    pytest.param(replace(ISO_DATETIME, date_formats=DATETIME_ISO_FORMATS), id="datetime-iso-configured"),
    pytest.param(replace(ISO_DATE, date_formats=("%Y-%m-%d",)), id="date-iso-configured"),
    pytest.param(replace(ISO_DATE, date_formats=DATETIME_ISO_FORMATS), id="date-with-the-datetime-formats"),
    pytest.param(replace(ISO_DATETIME, date_formats=("%Y-%m-%d",)), id="datetime-with-the-date-format"),
    pytest.param(replace(ISO_DATE, date_formats=("%d/%m/%Y", "%m/%d/%Y")), id="date-ambiguous-formats"),
    pytest.param(replace(ISO_DATE, date_formats=("%Y-%m-%d", "%d/%m/%Y")), id="date-two-formats"),
    pytest.param(
        replace(ISO_DATETIME, date_formats=("%m/%d/%Y %H:%M", *DATETIME_ISO_FORMATS)),
        id="datetime-with-us-format",
    ),
    # The demo sales table's formats: its ISO shapes are read fast, its day-first ones by the general path.
    pytest.param(
        replace(
            ISO_DATETIME,
            date_formats=("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M"),
        ),
        id="datetime-sales-formats",
    ),
    pytest.param(replace(ISO_DATETIME, date_formats=("%Y-%m-%d %H:%M:%S",)), id="datetime-seconds-only"),
    pytest.param(replace(ISO_DATETIME, date_formats=("%Y-%m-%dT%H:%M",)), id="datetime-t-minutes-only"),
    # Formats that read some ISO shapes another way, or might: those shapes stay on the general path.
    pytest.param(replace(ISO_DATE, date_formats=("%Y-%m-%d", "%Y-%d-%m")), id="date-year-day-month"),
    pytest.param(replace(ISO_DATE, date_formats=("%Y-%m-%d", "%Y-%m-01")), id="date-literal-digits"),
    pytest.param(replace(ISO_DATE, date_formats=("%Y-%m-%d", "%Y-%b-%d")), id="date-month-name"),
    pytest.param(
        replace(ISO_DATETIME, date_formats=("%Y-%m-%d %H:%M:%S", "%Y-%m-%d%H:%M:%S")), id="datetime-no-space"
    ),
    pytest.param(
        replace(ISO_DATETIME, date_formats=("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %I:%M:%S %p")),
        id="datetime-am-pm",
    ),
    pytest.param(
        replace(ISO_DATETIME, date_formats=("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S")),
        id="datetime-fraction-twice",
    ),
    pytest.param(replace(ISO_DATE, date_formats=("%Y%m%d", "%Y-%m-%d")), id="date-compact-and-iso"),
]


def _both_paths(rule: ColumnRule, values: list[str], monkeypatch):
    frame = pd.DataFrame({"file_column": values}, dtype="str")
    rows = np.arange(2, 2 + len(values))
    fast = chunk_validate(frame=frame, row_numbers=rows, rules=[rule])
    with monkeypatch.context() as patched:
        patched.setattr(validation, "_iso_fast_parse", lambda text, **_: None)
        general = chunk_validate(frame=frame, row_numbers=rows, rules=[rule])
    return fast, general


def _assert_same(fast, general):
    assert fast.errors == general.errors
    assert fast.frame.to_dict("list") == general.frame.to_dict("list")
    assert fast.row_numbers.tolist() == general.row_numbers.tolist()
    assert fast.rejected.tolist() == general.rejected.tolist()


@pytest.mark.parametrize("rule", RULES)
def test_temporal_fast_path_values_and_errors_are_the_general_paths(rule, monkeypatch):
    fast, general = _both_paths(rule, TRICKY, monkeypatch)
    _assert_same(fast, general)
    assert len(fast.frame) > 0


@pytest.mark.parametrize("rule", RULES)
def test_temporal_fast_path_one_value_at_a_time_is_the_general_paths(rule, monkeypatch):
    for value in TRICKY:
        fast, general = _both_paths(rule, [value], monkeypatch)
        _assert_same(fast, general)


@pytest.mark.parametrize(
    ("rule", "value", "expected"),
    [
        pytest.param(ISO_DATE, "0001-01-01", "0001-01-01", id="date-year-1"),
        pytest.param(
            ISO_DATETIME, "9999-12-31 23:59:59.999999", "9999-12-31 23:59:59.999999", id="last-moment"
        ),
        pytest.param(ISO_DATETIME, "2026-10-01t10:00", "2026-10-01 10:00:00", id="lowercase-t"),
        pytest.param(
            ISO_DATETIME, "2026-10-01 10:00:00.5", "2026-10-01 10:00:00.500000", id="one-fraction-digit"
        ),
        pytest.param(ISO_DATETIME, "2024-02-29", "2024-02-29 00:00:00", id="date-only"),
    ],
)
def test_temporal_fast_path_reads_the_plain_iso_shapes(rule, value, expected):
    """The fast path itself reads these (so the comparisons above compare two paths) and reads them right."""
    families = validation._families(rule)
    cells = pa.array([value], type=pa.large_string())
    positions, _, _ = validation._iso_fast_parse(cells, families=families, date_only=rule.data_type == "date")
    assert positions.tolist() == [0]
    frame = pd.DataFrame({"file_column": [value]}, dtype="str")
    result = chunk_validate(frame=frame, row_numbers=np.array([2]), rules=[rule])
    assert result.errors == []
    assert result.frame[rule.name].tolist() == [expected]


@pytest.mark.parametrize(
    "value",
    ["2024-02-30", "0000-01-01", "2024-13-01", "2026-10-01 24:00", "2026-10-01 10:00:60", "2026-10-01x10:00"],
)
def test_temporal_fast_path_leaves_what_is_no_real_date_to_the_general_path(value):
    families = validation._families(ISO_DATETIME)
    cells = pa.array([value], type=pa.large_string())
    positions, _, _ = validation._iso_fast_parse(cells, families=families, date_only=False)
    assert positions.tolist() == []


_DIGIT = st.sampled_from("0123456789")
_ISO_LIKE = st.builds(
    "".join,
    st.lists(
        st.one_of(
            _DIGIT,
            _DIGIT,
            _DIGIT,
            st.sampled_from(
                ["-", ":", ".", " ", "T", "t", "x", "/", "\u00a0", "０", "00", "29", "-02-", " 23:59:"]
            ),
        ),
        max_size=28,
    ),
)
_PLAIN = st.builds(
    lambda y, m, d, time, fraction: f"{y:04d}-{m:02d}-{d:02d}{time}{fraction}",
    st.integers(0, 9999),
    st.integers(0, 13),
    st.integers(0, 32),
    st.sampled_from(
        ["", " 00:00", "T10:00", "t23:59", " 00:00:00", " 23:59:59", "T24:00:00", " 12:60:00", " 12:00:60"]
    ),
    st.sampled_from(["", ".5", ".123456", ".1234567", "."]),
)


@settings(max_examples=150, deadline=None)
@given(values=st.lists(st.one_of(_PLAIN, _ISO_LIKE), min_size=1, max_size=20))
def test_temporal_fast_path_is_the_general_path_on_generated_values(values):
    with pytest.MonkeyPatch.context() as monkeypatch:
        for rule in [param.values[0] for param in RULES]:
            fast, general = _both_paths(rule, values, monkeypatch)
            _assert_same(fast, general)


SPACED_FRACTIONS = {(length, " ") for length in range(21, 27)}


@pytest.mark.parametrize(
    ("formats", "date_only", "shapes"),
    [
        pytest.param(
            ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M"),
            False,
            {(16, " "), (19, " "), *SPACED_FRACTIONS},
            id="sales-datetimes",
        ),
        pytest.param(("%Y-%m-%d", "%d/%m/%Y"), True, {(10, "")}, id="sales-dates"),
        pytest.param(("%Y%m%d", "%Y-%m-%d"), True, {(10, "")}, id="compact-cannot-read-dashes"),
        pytest.param(("%Y-%m-%d", "%Y-%d-%m"), True, set(), id="year-day-month-might"),
        pytest.param(("%Y-%m-%d", "%Y-%b-%d"), True, set(), id="a-month-name-might"),
        pytest.param(("%Y-%m-%d %H:%M:%S", "%Y-%m-%d%H:%M:%S"), False, set(), id="no-space-might"),
        pytest.param(("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %I:%M:%S %p"), False, set(), id="am-pm-might"),
        pytest.param(("%Y-%m-%dT%H:%M",), False, {(16, "T")}, id="t-minutes"),
    ],
)
def test_temporal_fast_path_reads_only_the_shapes_no_other_format_can(formats, date_only, shapes):
    rule = replace(ISO_DATE if date_only else ISO_DATETIME, date_formats=formats)
    assert validation._iso_shapes(tuple(validation._families(rule)), date_only) == shapes
