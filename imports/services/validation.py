"""Check a chunk of file rows against the configured column types, one vectorised pass per column.

What a value becomes (its canonical text, the one the loader writes) and what is refused:
- Every cell is stripped of surrounding whitespace once, here, for every path (the import's chunks and quick
  validation's head rows); nothing else changes a text value: no case folding, no Unicode normalisation.
- Numbers follow the rule's separators (the table's `decimal_separator` and `thousands_separator`); the
  canonical text always uses '.' and no grouping. Thousands separators are optional, but when present they
  must group exactly 3 digits after a first group of 1 to 3 (`1,234,567.5`; never `1,23`).
- Decimals keep every digit. Trailing zeros beyond the column's scale carry no information and are dropped
  without rounding (`1.50000` into 2 places is `1.50`); other extra places are the row error
  `too_many_decimals`, unless the column rounds (`round_decimals`: half-up, exact, counted per chunk).
- Dates and times are read with the configured strftime formats (ISO by default), years 1 to 9999. A date
  column also reads each of its formats followed by a time of day (` HH:MM`, ` HH:MM:SS` or
  ` HH:MM:SS.ffffff`; ISO also with `T`), accepted only when it is midnight. A format ending in seconds
  (`%S`) also reads a fraction of up to 6 digits; datetimes keep microseconds (`YYYY-MM-DD HH:MM:SS` or
  `YYYY-MM-DD HH:MM:SS.ffffff`) and more digits are refused, never dropped. Day and month are never guessed.
"""

from __future__ import annotations

import calendar
import re
from _strptime import TimeRE
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import ROUND_HALF_UP, Context, Decimal
from functools import cache

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from importhub.errors import ConfigError

from .workbooks import WORKBOOK_ATTR

DATE_ISO_FORMATS = ("%Y-%m-%d",)
# A date-only ISO value is accepted in a datetime column and read as midnight.
DATETIME_ISO_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d",
)
# What a date column also reads after each of its formats; the ISO date also takes a T before the time.
DATE_TIME_SUFFIXES = (" %H:%M", " %H:%M:%S", " %H:%M:%S.%f")
ISO_DATE_TIME_SUFFIXES = ("T%H:%M", "T%H:%M:%S", "T%H:%M:%S.%f")
# The tables keep microseconds (datetime(6) on MySQL/MariaDB).
FRACTION_DIGITS = 6

BOOL_TRUE = ("true", "1", "yes", "y", "t")
BOOL_FALSE = ("false", "0", "no", "n", "f")

DECIMAL_SEPARATORS = (".", ",")
THOUSANDS_SEPARATORS = ("", ",", ".", " ", "'")
# A space separator also accepts the no-break spaces spreadsheets write (U+00A0, U+202F).
_SEPARATOR_CLASSES = {",": ",", ".": r"\.", "'": "'", " ": r"[ \x{00a0}\x{202f}]"}

# Signed 64-bit bounds as digit strings: compared as text, so no value is ever converted to a number.
_INT64_MAX = "9223372036854775807"
_INT64_MIN_MAGNITUDE = "9223372036854775808"

# Supersets of what strptime accepts for each directive (it also takes " 7" for %d): used only to skip
# pd.to_datetime on cells that cannot match a format, because its failure path is slow.
_DIRECTIVE_PATTERNS = {
    "d": "[ 0-9]{1,2}",
    "m": "[ 0-9]{1,2}",
    "H": "[ 0-9]{1,2}",
    "I": "[ 0-9]{1,2}",
    "M": "[ 0-9]{1,2}",
    "S": "[ 0-9]{1,2}",
    "Y": "[0-9]{4}",
    "y": "[0-9]{2}",
    "f": f"[0-9]{{1,{FRACTION_DIGITS}}}",
    "j": "[ 0-9]{1,3}",
    "b": ".+",
    "B": ".+",
    "a": ".+",
    "A": ".+",
    "p": ".+",
    "%": "%",
}
_TOO_PRECISE_FRACTION = f"[0-9]{{{FRACTION_DIGITS + 1},}}"
_TIME_DIRECTIVES = frozenset("HIMSfp")
# strptime reads whitespace in a format as Python's \s+, which knows more spaces than RE2's \s.
_WHITESPACE_PATTERN = r"(?:\s|\pZ|[\x0b\x1c-\x1f\x85])+"
_READABLE_DIRECTIVES = {
    "d": "DD",
    "m": "MM",
    "Y": "YYYY",
    "y": "YY",
    "H": "hh",
    "I": "hh",
    "M": "mm",
    "S": "ss",
    "f": "ffffff",
    "j": "DDD",
    "b": "Mon",
    "B": "Month",
    "a": "Day",
    "A": "Weekday",
    "p": "AM/PM",
    "%": "%",
}
_FORMAT_TOKENS = re.compile(r"(%.|\s+)")
_NAT = np.datetime64("NaT", "us")
# The regular expressions strptime itself matches with: a value's shape is judged exactly as strptime judges it.
_TIME_RE = TimeRE()
_MICROSECONDS_PER_DAY = 86_400_000_000

# Cells are Arrow large strings, the storage of pandas' "str" dtype, so columns convert without a copy. The
# checks call Arrow's kernels directly: pandas 3.1's .str accessor falls back to per-cell Python for \s, for $
# once a cell holds a newline (quoted CSV fields do) and for find() on non-ASCII text.
_TEXT = pa.large_string()


def column_label(column: str, header: str = "") -> str:
    """How messages name a column: the file's header and the column (`DO Date (dotanggal)`), the name once
    when they are the same, the name alone when the file has no header for it."""
    if not header or header == column:
        return column
    return f"{header} ({column})"


@dataclass(frozen=True)
class DistributorRule:
    """How every value of the distributor column must match the upload's dist_id (the table's rule).

    `prefix`: the value starts with dist_id's first `prefix_length` characters (all of them when dist_id is
    shorter); `exact`: the value is dist_id. Values are compared as stored: stripped, and canonical for int
    columns. Quick validation's head check and the full import use this same rule.
    """

    dist_id: str
    match: str  # prefix | exact
    prefix_length: int = 2

    def __post_init__(self) -> None:
        if self.match not in ("prefix", "exact"):
            raise ConfigError(f"Unknown distributor match '{self.match}' (expected prefix or exact).")
        if self.match == "prefix" and self.prefix_length < 1:
            raise ConfigError(f"The distributor prefix length must be at least 1 (not {self.prefix_length}).")

    @property
    def expected(self) -> str:
        """What a value must start with (prefix) or be (exact)."""
        return self.dist_id[: self.prefix_length] if self.match == "prefix" else self.dist_id

    def mismatch(self, value: str) -> bool:
        expected = self.expected
        if self.match == "prefix":
            return value[: len(expected)] != expected
        return value != expected

    def describe(self) -> str:
        """'the first 2 characters of dist_id 31001', or 'dist_id 31001' when the match is exact."""
        if self.match == "exact":
            return f"dist_id {self.dist_id}"
        return f"the first {_characters(len(self.expected))} of dist_id {self.dist_id}"


@dataclass(frozen=True)
class ColumnRule:
    """One configured column's checks, and the file column (normalised header) that feeds it."""

    name: str
    data_type: str  # str | int | decimal | date | datetime | bool
    is_mandatory: bool = False
    max_length: int = 255
    decimal_digits: int = 18
    decimal_places: int = 4
    date_formats: tuple[str, ...] = ()  # strftime formats; empty means ISO
    source: str | None = None  # None: the file lacks the column, so every value is missing
    round_decimals: bool = False  # decimal: round extra places half-up instead of refusing the row
    decimal_separator: str = "."  # int and decimal columns: "." or ","
    thousands_separator: str = ""  # int and decimal columns: "" (none), ",", ".", " " or "'"
    distributor: DistributorRule | None = None  # every non-empty value must match it
    header: str | None = (
        None  # the file's own header that feeds the column (`DO Date`), as the file spells it
    )

    @property
    def label(self) -> str:
        return column_label(self.name, self.header)


@dataclass(frozen=True)
class RowError:
    """One rejected cell. Codes are stable: missing_value, nul_byte, invalid_int, invalid_decimal,
    decimal_out_of_range, too_many_decimals, invalid_bool, invalid_date, ambiguous_date, time_in_date,
    invalid_datetime, too_precise_time, too_long, distributor_mismatch, excel_error (a workbook's error cell)
    (and ragged_row, from the reader)."""

    row: int  # as a spreadsheet shows it: the header is row 1
    column: str
    value: str
    code: str
    message: str

    def as_dict(self) -> dict:
        return {
            "row": self.row,
            "column": self.column,
            "value": self.value,
            "code": self.code,
            "message": self.message,
        }


@dataclass
class ValidatedChunk:
    """The valid rows as canonical text (None for NULL), ready to load, and everything about the others."""

    frame: pd.DataFrame  # valid rows only, one object column per rule, in rule order
    row_numbers: np.ndarray  # of the valid rows
    errors: list[RowError]  # ordered by row, then rule order
    rejected: np.ndarray  # sorted unique row numbers
    rejected_positions: (
        np.ndarray
    )  # positions in the input frame, to write the rejected rows' original values
    # Column name -> how many of the valid rows' values round_decimals rounded; only columns that rounded.
    rounded: dict[str, int] = field(default_factory=dict)


@dataclass
class _Failure:
    """Cells of one column that failed one check: their indexes, with one message each."""

    indexes: np.ndarray
    code: str
    messages: list[str]


@dataclass
class _Checked:
    """A type check's result over the cells it was given."""

    values: np.ndarray  # canonical text, object array
    failures: list[_Failure]
    rounded: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.intp))  # indexes


_Checker = Callable[[ColumnRule, pa.Array], _Checked]


def chunk_validate(
    *, frame: pd.DataFrame, row_numbers: np.ndarray, rules: list[ColumnRule]
) -> ValidatedChunk:
    """Validate and canonicalise a chunk of rows; return the valid rows and every error of the others."""
    count = len(frame)
    row_numbers = np.asarray(row_numbers, dtype=np.int64)
    if len(row_numbers) != count:
        raise ValueError(f"{count} rows but {len(row_numbers)} row numbers")
    workbook = frame.attrs.get(WORKBOOK_ATTR)
    if workbook is not None:
        rules = workbook_rules(rules)
    checkers = [_rule_checker(rule) for rule in rules]
    columns: dict[str, np.ndarray] = {}
    rounded: dict[str, np.ndarray] = {}
    failed: list[tuple[int, _Failure, list]] = []
    for column_index, (rule, checker) in enumerate(zip(rules, checkers, strict=True)):
        raw = None if rule.source is None else frame[rule.source]
        text = _column_text(raw, count)
        filled = _numpy(pc.not_equal(text, _literal("")))
        nul = _nul_cells(text)
        checked = _column_check(rule, text, filled & ~nul, checker)
        failures = checked.failures
        if nul.any():
            indexes = np.flatnonzero(nul)
            failures.append(
                _Failure(
                    indexes,
                    "nul_byte",
                    [f"{rule.label}: the value contains a NUL byte (\\x00)"] * len(indexes),
                )
            )
        if rule.distributor is not None:
            failures += _distributor_check(
                rule, text, checked.values, filled & ~_failed_mask(failures, count)
            )
        if rule.is_mandatory and not filled.all():
            missing = np.flatnonzero(~filled)
            failures.append(
                _Failure(missing, "missing_value", [f"{rule.label}: a value is required"] * len(missing))
            )
        if workbook is not None and rule.source is not None:
            failures = _workbook_cell_errors(rule, failures, workbook["cell_errors"])
        columns[rule.name] = checked.values
        if len(checked.rounded):
            rounded[rule.name] = checked.rounded
        for failure in failures:
            raw_values = [""] * len(failure.indexes) if raw is None else raw.iloc[failure.indexes].tolist()
            failed.append((column_index, failure, raw_values))

    bad = np.zeros(count, dtype=bool)
    for _, failure, _ in failed:
        bad[failure.indexes] = True
    good = ~bad
    names = [rule.name for rule in rules]
    rejected_positions = np.flatnonzero(bad)
    rounded_counts = {name: int(good[indexes].sum()) for name, indexes in rounded.items()}
    return ValidatedChunk(
        frame=pd.DataFrame(
            # A chunk without a rejected row keeps its columns as they are (no copy of every value).
            {name: columns[name] if not len(rejected_positions) else columns[name][good] for name in names},
            columns=names,
            dtype=object,
            copy=False,
        ),
        row_numbers=row_numbers[good],
        errors=_errors_collect(failed, row_numbers, rules),
        rejected=np.unique(row_numbers[rejected_positions]),
        rejected_positions=rejected_positions,
        rounded={name: n for name, n in rounded_counts.items() if n},
    )


# --- Workbooks (imports/services/workbooks.py marks their chunks with WORKBOOK_ATTR) ------------------------


def workbook_rules(rules: list[ColumnRule]) -> list[ColumnRule]:
    """The rules a workbook's rows are checked with (its head rows too, which carry no frame attrs)."""
    return [_workbook_rule(rule) for rule in rules]


def _workbook_rule(rule: ColumnRule) -> ColumnRule:
    """Excel date cells arrive as ISO text: a workbook's date and datetime columns also read ISO."""
    if rule.data_type not in ("date", "datetime") or not rule.date_formats:
        return rule
    iso = DATE_ISO_FORMATS if rule.data_type == "date" else DATETIME_ISO_FORMATS
    extra = tuple(fmt for fmt in iso if fmt not in rule.date_formats)
    return replace(rule, date_formats=rule.date_formats + extra) if extra else rule


def _workbook_cell_errors(rule: ColumnRule, failures: list[_Failure], cell_errors: list) -> list[_Failure]:
    """An error cell (#DIV/0!...) of this column is its row's one error for the column, naming the cell."""
    cells = [(position, ref, text) for position, column, ref, text in cell_errors if column == rule.source]
    if not cells:
        return failures
    positions = np.asarray([position for position, _, _ in cells], dtype=np.intp)
    kept = []
    for failure in failures:
        keep = ~np.isin(failure.indexes, positions)
        if keep.all():
            kept.append(failure)
        elif keep.any():
            messages = [message for message, ok in zip(failure.messages, keep, strict=True) if ok]
            kept.append(_Failure(failure.indexes[keep], failure.code, messages))
    messages = [f"{rule.name}: cell {ref} holds the Excel error {text}" for _, ref, text in cells]
    return [*kept, _Failure(positions, "excel_error", messages)]


def values_check(
    *, records: list[dict[str, str]], row_numbers: list[int], rules: list[ColumnRule]
) -> ValidatedChunk:
    """Validate a handful of records (a file's first rows) with the same checks as a chunk."""
    headers = list(dict.fromkeys(key for record in records for key in record))
    headers += [rule.source for rule in rules if rule.source is not None and rule.source not in headers]
    frame = pd.DataFrame(
        [[record.get(header, "") for header in headers] for record in records], columns=headers, dtype="str"
    )
    return chunk_validate(frame=frame, row_numbers=np.asarray(row_numbers, dtype=np.int64), rules=rules)


def values_validate(
    *, records: list[dict[str, str]], row_numbers: list[int], rules: list[ColumnRule]
) -> list[RowError]:
    """The errors of a handful of records (a file's first rows), found with the same checks as a chunk."""
    return values_check(records=records, row_numbers=row_numbers, rules=rules).errors


def _rule_checker(rule: ColumnRule) -> _Checker:
    checker = _CHECKERS.get(rule.data_type)
    if checker is None:
        raise ConfigError(f"Column '{rule.name}' has the unknown data type '{rule.data_type}'.")
    # The tables store naive dates and times: converting or dropping an offset would change the value.
    zoned = [fmt for fmt in rule.date_formats if "%z" in fmt or "%Z" in fmt]
    if zoned and rule.data_type in ("date", "datetime"):
        raise ConfigError(
            f"Column '{rule.name}': time zones (%z, %Z) are not supported in date formats ({zoned[0]})."
        )
    if rule.data_type in ("int", "decimal"):
        if rule.decimal_separator not in DECIMAL_SEPARATORS:
            raise ConfigError(f"Column '{rule.name}': the decimal separator must be '.' or ','.")
        if rule.thousands_separator not in THOUSANDS_SEPARATORS:
            raise ConfigError(
                f"Column '{rule.name}': the thousands separator must be none, ',', '.', ' ' or \"'\"."
            )
        if rule.thousands_separator == rule.decimal_separator:
            raise ConfigError(
                f"Column '{rule.name}': '{rule.decimal_separator}' cannot be both the decimal and the thousands "
                "separator."
            )
    return checker


def _column_text(raw: pd.Series | None, count: int) -> pa.Array:
    """The column's cells as Arrow strings stripped of surrounding whitespace; all empty when absent."""
    if raw is None:
        return pa.array([""] * count, type=_TEXT)
    text = pa.array(raw, type=_TEXT, from_pandas=True)
    if isinstance(text, pa.ChunkedArray):
        text = text.combine_chunks()
    if text.null_count:
        text = text.fill_null("")
    return pc.utf8_trim_whitespace(text)


def _nul_cells(text: pa.Array) -> np.ndarray:
    # NUL bytes are rare: one look at the cells' bytes, and the per-cell kernel only when one is there.
    if not _text_bytes(text).all():
        return _numpy(pc.match_substring(text, "\x00"))
    return np.zeros(len(text), dtype=bool)


def _column_check(rule: ColumnRule, text: pa.Array, checked: np.ndarray, checker: _Checker) -> _Checked:
    """Run the type check on the cells under `checked`; the others' values are None."""
    if checked.all():
        return checker(rule, text)
    values = np.full(len(text), None, dtype=object)
    positions = np.flatnonzero(checked)
    if not len(positions):
        return _Checked(values, [])
    result = checker(rule, text.filter(pa.array(checked)))
    values[positions] = result.values
    for failure in result.failures:
        failure.indexes = positions[failure.indexes]
    return _Checked(values, result.failures, positions[result.rounded])


def _failed_mask(failures: list[_Failure], count: int) -> np.ndarray:
    mask = np.zeros(count, dtype=bool)
    for failure in failures:
        mask[failure.indexes] = True
    return mask


def _distributor_check(
    rule: ColumnRule, text: pa.Array, values: np.ndarray, checked: np.ndarray
) -> list[_Failure]:
    """Every checked value (canonical) must match the upload's dist_id, by the DistributorRule itself."""
    distributor = rule.distributor
    positions = np.flatnonzero(checked)
    if not len(positions):
        return []
    # A file holds very few distinct distributors: the rule runs once per distinct value.
    encoded = pc.dictionary_encode(pa.array(values[positions], type=_TEXT))
    distinct_mismatch = np.array(
        [distributor.mismatch(v) for v in encoded.dictionary.to_pylist()], dtype=bool
    )
    indexes = (
        positions[distinct_mismatch[_numpy(encoded.indices)]] if len(distinct_mismatch) else positions[:0]
    )
    if not len(indexes):
        return []
    if distributor.match == "exact":
        rule_text = ""
    else:
        rule_text = f" (first {_characters(len(distributor.expected))})"
    messages = [
        f"{rule.label}: '{cell}' does not match dist_id {distributor.dist_id}{rule_text}"
        for cell in text.take(pa.array(indexes)).to_pylist()
    ]
    return [_Failure(indexes, "distributor_mismatch", messages)]


def _characters(count: int) -> str:
    return f"{count} character" if count == 1 else f"{count} characters"


def _errors_collect(
    failed: list[tuple[int, _Failure, list]], row_numbers: np.ndarray, rules: list[ColumnRule]
) -> list[RowError]:
    """Turn the failed cells into RowErrors ordered by row, then by the rules' column order."""
    if not failed:
        return []
    positions = np.concatenate([failure.indexes for _, failure, _ in failed])
    column_indexes = np.concatenate([np.full(len(failure.indexes), index) for index, failure, _ in failed])
    codes = [failure.code for _, failure, _ in failed for _ in failure.indexes]
    messages = [message for _, failure, _ in failed for message in failure.messages]
    raw_values = [value for _, _, values in failed for value in values]
    rows = row_numbers[positions]
    order = np.lexsort((column_indexes, rows)).tolist()
    rows, names = rows.tolist(), [rules[index].name for index in column_indexes.tolist()]
    return [RowError(rows[i], names[i], str(raw_values[i]), codes[i], messages[i]) for i in order]


# --- numbers -----------------------------------------------------------------------------------------------


def _whole_pattern(rule: ColumnRule) -> str:
    """Digits, or groups of exactly 3 after a first group of 1-3 when the table has a thousands separator."""
    separator = _SEPARATOR_CLASSES.get(rule.thousands_separator)
    if separator is None:
        return "[0-9]+"
    return f"(?:[0-9]+|[0-9]{{1,3}}(?:{separator}[0-9]{{3}})+)"


def _number_plain(rule: ColumnRule, text: pa.Array) -> pa.Array:
    """The text without thousands separators and with '.' as the decimal separator (for well-formed cells)."""
    separator = _SEPARATOR_CLASSES.get(rule.thousands_separator)
    if separator is not None:
        text = pc.replace_substring_regex(text, separator, "")
    if rule.decimal_separator != ".":
        text = pc.replace_substring(text, rule.decimal_separator, ".")
    return text


def _thousands_text(rule: ColumnRule) -> str:
    if not rule.thousands_separator:
        return "no thousands separator"
    shown = "a space" if rule.thousands_separator == " " else f"'{rule.thousands_separator}'"
    return f"{shown} as the thousands separator, in groups of 3 digits"


def _int_check(rule: ColumnRule, text: pa.Array) -> _Checked:
    well_formed = _fullmatch(text, f"[+-]?{_whole_pattern(rule)}")
    plain = _number_plain(rule, text) if rule.thousands_separator else text
    digits = pc.utf8_ltrim(pc.utf8_ltrim(plain, "+-"), "0")
    lengths = _numpy(pc.utf8_length(digits))
    zero = lengths == 0
    negative = _numpy(pc.starts_with(plain, "-")) & ~zero
    over = lengths > len(_INT64_MAX)
    at_limit = well_formed & (lengths == len(_INT64_MAX))
    if at_limit.any():
        above_max = _numpy(pc.greater(digits, _literal(_INT64_MAX)))
        below_min = _numpy(pc.greater(digits, _literal(_INT64_MIN_MAGNITUDE)))
        over |= at_limit & np.where(negative, below_min, above_max)
    if zero.any():
        digits = pc.if_else(pa.array(zero), _literal("0"), digits)
    values = _signed_text(digits, negative)

    failures = []
    indexes, cells = _cells(text, ~well_formed)
    if len(indexes):
        if rule.thousands_separator:
            rule_text = f" (with {_thousands_text(rule)})"
        elif rule.decimal_separator != ".":
            rule_text = " (no thousands separator)"
        else:
            rule_text = ""
        failures.append(
            _Failure(
                indexes,
                "invalid_int",
                [f"{rule.label}: '{v}' is not a whole number{rule_text}" for v in cells],
            )
        )
    indexes, cells = _cells(text, well_formed & over)
    if len(indexes):
        limits = f"-{_INT64_MIN_MAGNITUDE} to {_INT64_MAX}"
        failures.append(
            _Failure(
                indexes, "invalid_int", [f"{rule.label}: '{v}' is out of range ({limits})" for v in cells]
            )
        )
    return _Checked(values, failures)


def _decimal_check(rule: ColumnRule, text: pa.Array) -> _Checked:
    places = rule.decimal_places
    allowed = rule.decimal_digits - places
    point = re.escape(rule.decimal_separator)
    well_formed = _fullmatch(text, f"[+-]?(?:{_whole_pattern(rule)}(?:{point}[0-9]*)?|{point}[0-9]+)")
    plain = _number_plain(rule, text)
    # Text arithmetic, never float: "007.50" -> "7.50", ".5" -> ".5", "5." -> "5.", "0.00" -> ".00".
    unsigned = pc.utf8_ltrim(pc.utf8_ltrim(plain, "+-"), "0")
    lengths = _numpy(pc.utf8_length(unsigned))
    point_at = _numpy(pc.find_substring(unsigned, "."))
    whole_digits = np.where(point_at >= 0, point_at, lengths)
    fraction_digits = np.where(point_at >= 0, lengths - point_at - 1, 0)
    zero = _numpy(pc.equal(pc.utf8_trim(unsigned, "0."), _literal("")))
    number = pc.utf8_rtrim(unsigned, ".")
    no_whole = whole_digits == 0
    if no_whole.any():
        number = pc.if_else(pa.array(no_whole), _join("0", number), number)
    values = _decimal_pad(_signed(number, _numpy(pc.starts_with(plain, "-")) & ~zero), places)

    # Only cells written with more places than the column keeps need a closer (per-cell, exact) look; the
    # padding above left them as they were.
    too_many = np.zeros(len(values), dtype=bool)
    rounded = np.zeros(len(values), dtype=bool)
    for index in np.flatnonzero(well_formed & (fraction_digits > places)):
        whole, fraction = values[index].split(".")
        if not fraction[places:].strip("0"):
            # Trailing zeros beyond the scale: the same number, written longer.
            values[index] = f"{whole}.{fraction[:places]}" if places else whole
        elif rule.round_decimals:
            values[index] = _decimal_round(values[index], places=places, digits=rule.decimal_digits)
            whole_digits[index] = len(values[index].lstrip("-").split(".")[0].lstrip("0"))
            rounded[index] = True
        else:
            too_many[index] = True

    failures = []
    indexes, cells = _cells(text, ~well_formed)
    if len(indexes):
        if rule.decimal_separator == "." and not rule.thousands_separator:
            rule_text = "digits with an optional '.', no thousands separators"
        else:
            rule_text = (
                f"digits with '{rule.decimal_separator}' as the decimal separator and {_thousands_text(rule)}"
            )
        failures.append(
            _Failure(
                indexes,
                "invalid_decimal",
                [f"{rule.label}: '{v}' is not a number ({rule_text})" for v in cells],
            )
        )
    out_of_range = well_formed & (whole_digits > allowed)
    indexes, cells = _cells(text, out_of_range)
    if len(indexes):
        messages = []
        for index, cell in zip(indexes, cells, strict=True):
            # Rounding can carry into a new digit: 99.995 kept to 2 places is 100.00.
            carried = f" once rounded to {places} decimal places" if rounded[index] else ""
            messages.append(
                f"{rule.label}: '{cell}' has {whole_digits[index]} digits before the decimal point{carried}, "
                f"more than the {allowed} allowed"
            )
        failures.append(_Failure(indexes, "decimal_out_of_range", messages))
    indexes, cells = _cells(text, too_many & ~out_of_range)
    if len(indexes):
        failures.append(
            _Failure(
                indexes,
                "too_many_decimals",
                [
                    f"{rule.label}: '{cell}' has {_places(fraction_digits[index])}, more than the {places} allowed"
                    for index, cell in zip(indexes, cells, strict=True)
                ],
            )
        )
    return _Checked(values, failures, np.flatnonzero(rounded & ~out_of_range))


def _decimal_pad(text: pa.Array, places: int) -> np.ndarray:
    """Every value written with `places` decimal places (those with more are left as they are), as MySQL's
    DECIMAL shows it ('7.5' -> '7.5000', '7' -> '7.0000'), as a writable object array: equal numbers are equal
    text, so a unique decimal column on SQLite (stored as text) sees `7.5` and `7.50` as the same key, as MySQL
    does. One kernel pass appends each cell's missing zeros (and point), no per-cell Python."""
    if places and len(text):
        point = _numpy(pc.find_substring(text, "."))
        lengths = _numpy(pc.utf8_length(text))
        # Suffix k < places + 1 is k zeros; suffix places + 1 is the point and every place.
        suffix = np.where(point >= 0, np.clip(places - (lengths - point - 1), 0, places), places + 1)
        if suffix.any():
            suffixes = pa.array(
                ["0" * count for count in range(places + 1)] + ["." + "0" * places], type=_TEXT
            )
            text = pc.binary_join_element_wise(text, suffixes.take(pa.array(suffix)), _literal(""))
    return _numpy(text)


def _places(count: int) -> str:
    return "1 decimal place" if count == 1 else f"{count} decimal places"


def _decimal_round(value: str, *, places: int, digits: int) -> str:
    """Half-up (away from zero on a tie) to `places`, in exact decimal arithmetic; zero loses its sign."""
    context = Context(prec=max(digits, len(value)) + 2, rounding=ROUND_HALF_UP)
    rounded = context.quantize(Decimal(value), Decimal(1).scaleb(-places))
    if rounded.is_zero():
        rounded = rounded.copy_abs()
    return f"{rounded:f}"


# --- bool and text -----------------------------------------------------------------------------------------


def _bool_check(rule: ColumnRule, text: pa.Array) -> _Checked:
    lowered = pc.utf8_lower(text)
    true = _numpy(pc.is_in(lowered, value_set=pa.array(BOOL_TRUE, type=_TEXT)))
    false = _numpy(pc.is_in(lowered, value_set=pa.array(BOOL_FALSE, type=_TEXT)))
    values = np.where(true, "1", "0").astype(object)
    failures = []
    indexes, cells = _cells(text, ~(true | false))
    if len(indexes):
        accepted = ", ".join(f"{yes}/{no}" for yes, no in zip(BOOL_TRUE, BOOL_FALSE, strict=True))
        failures.append(
            _Failure(
                indexes, "invalid_bool", [f"{rule.label}: '{v}' is not yes or no ({accepted})" for v in cells]
            )
        )
    return _Checked(values, failures)


def _str_check(rule: ColumnRule, text: pa.Array) -> _Checked:
    lengths = _numpy(pc.utf8_length(text))
    failures = []
    indexes = np.flatnonzero(lengths > rule.max_length)
    if len(indexes):
        failures.append(
            _Failure(
                indexes,
                "too_long",
                [
                    f"{rule.label}: {n} characters, more than the {rule.max_length} allowed"
                    for n in lengths[indexes]
                ],
            )
        )
    return _Checked(_numpy(text), failures)


# --- dates and times ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Family:
    """One configured format and the variants read as the same format (an optional time or fraction)."""

    name: str  # the format as configured, as messages name it
    variants: tuple[str, ...]
    readable: str


def _families(rule: ColumnRule) -> list[_Family]:
    families = []
    if rule.data_type == "date":
        for fmt in rule.date_formats or DATE_ISO_FORMATS:
            if _has_time(fmt):
                variants = _with_fraction(fmt)
            else:
                suffixes = DATE_TIME_SUFFIXES + (ISO_DATE_TIME_SUFFIXES if fmt == "%Y-%m-%d" else ())
                variants = (fmt, *(fmt + suffix for suffix in suffixes))
            families.append(_Family(fmt, variants, _format_readable(fmt)))
    else:
        for fmt in rule.date_formats or DATETIME_ISO_FORMATS:
            variants = _with_fraction(fmt)
            readable = _format_readable(fmt) + ("[.ffffff]" if len(variants) > 1 else "")
            families.append(_Family(fmt, variants, readable))
    return families


def _has_time(fmt: str) -> bool:
    return any(token[1:] in _TIME_DIRECTIVES for token in _FORMAT_TOKENS.split(fmt) if token.startswith("%"))


def _with_fraction(fmt: str) -> tuple[str, ...]:
    """Seconds may carry a fraction: a format ending in %S also reads %S.%f."""
    return (fmt, f"{fmt}.%f") if fmt.endswith("%S") and "%f" not in fmt else (fmt,)


def _date_check(rule: ColumnRule, text: pa.Array) -> _Checked:
    return _temporal_check(rule, text, date_only=True)


def _datetime_check(rule: ColumnRule, text: pa.Array) -> _Checked:
    return _temporal_check(rule, text, date_only=False)


def _temporal_check(rule: ColumnRule, text: pa.Array, *, date_only: bool) -> _Checked:
    """Parse with every format, never guessing: a value that two formats read differently is ambiguous."""
    families = _families(rule)
    fast = _iso_fast_parse(text, families=families, date_only=date_only)
    if fast is None:
        return _temporal_check_all(rule, text, families=families, date_only=date_only)
    positions, stamps, verbatim = fast
    if not len(positions):
        return _temporal_check_all(rule, text, families=families, date_only=date_only)
    if len(positions) == len(text) and verbatim.all():
        return _Checked(_numpy(text), [])
    values = np.full(len(text), None, dtype=object)
    if verbatim.any():
        values[positions[verbatim]] = _numpy(text.take(pa.array(positions[verbatim])))
    if not verbatim.all():
        values[positions[~verbatim]] = _temporal_text(stamps[~verbatim], date_only=date_only)
    rest = np.ones(len(text), dtype=bool)
    rest[positions] = False
    if not rest.any():
        return _Checked(values, [])
    rest_positions = np.flatnonzero(rest)
    checked = _temporal_check_all(
        rule, text.take(pa.array(rest_positions)), families=families, date_only=date_only
    )
    values[rest_positions] = checked.values
    for failure in checked.failures:
        failure.indexes = rest_positions[failure.indexes]
    return _Checked(values, checked.failures)


def _temporal_check_all(
    rule: ColumnRule, text: pa.Array, *, families: list[_Family], date_only: bool
) -> _Checked:
    """_temporal_check's general path, for every value of every format."""
    # A chunk repeats few distinct dates, so each distinct text is parsed (and diagnosed) once.
    encoded = pc.dictionary_encode(text)
    distinct, codes = encoded.dictionary, _numpy(encoded.indices)
    readings, too_precise = _temporal_parse(distinct, families=families)
    result = np.full(len(distinct), _NAT)
    for reading in readings:
        result = np.where(np.isnat(result), reading, result)
    ambiguous = np.zeros(len(distinct), dtype=bool)
    for reading in readings:
        ambiguous |= ~np.isnat(reading) & (reading != result)
    parsed = ~np.isnat(result)
    year_zero = parsed & (result.astype("datetime64[Y]").astype(np.int64) < 1 - 1970)
    time_of_day = _time_of_day(result)
    timed = parsed & (time_of_day != 0) if date_only else np.zeros(len(distinct), dtype=bool)
    values = _temporal_text(result, date_only=date_only)[codes]

    kind, code = ("date", "invalid_date") if date_only else ("date and time", "invalid_datetime")
    # Only the values with a problem are needed as Python strings.
    troubled = np.flatnonzero(ambiguous | year_zero | timed | ~parsed)
    cells = dict(zip(troubled.tolist(), distinct.take(pa.array(troubled)).to_pylist(), strict=True))
    # One error per distinct value: (code, message), in order of precedence.
    problems: dict[int, tuple[str, str]] = {}
    for index in np.flatnonzero(ambiguous):
        seen: dict[str, str] = {}
        for family, reading in zip(families, readings, strict=True):
            if not np.isnat(reading[index]):
                seen.setdefault(
                    _temporal_text(reading[index : index + 1], date_only=date_only)[0], family.name
                )
        described = _words_join([f"{reading} with {fmt}" for reading, fmt in seen.items()], "and")
        problems[index] = (
            "ambiguous_date",
            f"{rule.label}: '{cells[index]}' is ambiguous: it reads as {described}",
        )
    for index in np.flatnonzero(year_zero & ~ambiguous):
        problems[index] = (code, f"{rule.label}: '{cells[index]}' is not a real date (there is no year 0)")
    for index in np.flatnonzero(timed & ~ambiguous & ~year_zero):
        problems[index] = (
            "time_in_date",
            f"{rule.label}: '{cells[index]}' has a time of day ({_clock_text(time_of_day[index])}); "
            "this column holds dates only",
        )
    for index in np.flatnonzero(~parsed):
        if too_precise[index]:
            problems[index] = (
                "too_precise_time",
                f"{rule.label}: '{cells[index]}' has more than {FRACTION_DIGITS} digits of fractional seconds; "
                "the table keeps microseconds",
            )
            continue
        reason = _date_impossible(cells[index], families)
        if reason:
            problems[index] = (code, f"{rule.label}: '{cells[index]}' is not a real date ({reason})")
        else:
            accepted = _words_join([family.readable for family in families], "or")
            problems[index] = (
                code,
                f"{rule.label}: '{cells[index]}' is not a {kind} in the format {accepted}",
            )

    failures = []
    if problems:
        problem_codes = np.full(len(distinct), "", dtype=object)
        problem_messages = np.full(len(distinct), "", dtype=object)
        for index, (problem_code, message) in problems.items():
            problem_codes[index], problem_messages[index] = problem_code, message
        cell_codes = problem_codes[codes]
        for problem_code in dict.fromkeys(problem_codes[list(problems)]):
            indexes = np.flatnonzero(cell_codes == problem_code)
            failures.append(_Failure(indexes, problem_code, problem_messages[codes[indexes]].tolist()))
    return _Checked(values, failures)


# What the fast path reads, by length: YYYY-MM-DD, then a space or T (either case) and hh:mm, then :ss, then
# a fraction of 1 to 6 digits; 0 stands for an ASCII digit.
_ISO_TEMPLATES = {
    length: ("0000-00-00", "0000-00-00 00:00", "0000-00-00 00:00:00", "0000-00-00 00:00:00.")[
        (length > 10) + (length > 16) + (length > 19)
    ]
    + "0" * max(length - 20, 0)
    for length in (10, 16, 19, *range(21, 27))
}
_DAYS_IN_MONTH = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)


# Directives that only ever read digits (and, padded, a space): never a '-', ':', '.' or a letter.
_NUMERIC_DIRECTIVES = frozenset("dmHIMSYyfj")
_SHAPE_CHARACTERS = frozenset("0123456789-:.Tt")


@cache
def _iso_shapes(families: tuple[_Family, ...], date_only: bool) -> frozenset[tuple[int, str]]:
    """The ISO shapes, as (length, separator: "", " " or "T"), that these formats read by the shape's own
    format (%Y-%m-%d, then %H:%M, :%S, .%f after a space or a T) and by no other variant.

    A variant cannot read a value of a shape when it needs a character the value lacks (a '/', a letter,
    whitespace where the shape has none) or, if it has only numeric directives, when its count of '-', ':',
    '.' or T differs from the shape's (numeric directives never read those). Any other variant might, and
    then the shape is left to the general path unless that variant is the shape's own format.
    """
    shapes = set()
    for length in _ISO_TEMPLATES:
        if length > 10 and date_only:
            break
        for separator in ("",) if length == 10 else (" ", "T"):
            own = "%Y-%m-%d" + (
                ""
                if length == 10
                else separator + "%H:%M" + (":%S" if length >= 19 else "") + (".%f" if length > 19 else "")
            )
            counts = {
                "-": 2,
                ":": (length >= 16) + (length >= 19),
                ".": int(length > 19),
                "T": separator == "T",
            }
            readers = [
                variant
                for family in families
                for variant in family.variants
                if _variant_may_read(variant, counts=counts, spaced=separator == " ")
            ]
            if readers and all(variant == own for variant in readers):
                shapes.add((length, separator))
    return frozenset(shapes)


def _variant_may_read(variant: str, *, counts: dict[str, int], spaced: bool) -> bool:
    tokens = [token for token in _FORMAT_TOKENS.split(variant) if token]
    directives = [token[1:] for token in tokens if token.startswith("%")]
    literals = "".join(token for token in tokens if not token.startswith("%") and not token.isspace())
    literals += "%" * directives.count("%")
    if any(character not in _SHAPE_CHARACTERS for character in literals):
        return False
    if not spaced and any(token.isspace() for token in tokens):
        return False  # strptime's whitespace needs at least one whitespace character
    if not all(directive in _NUMERIC_DIRECTIVES for directive in directives):
        return True
    upper = literals.upper()
    return all(upper.count(character) == count for character, count in counts.items())


def _iso_fast_parse(
    text: pa.Array, *, families: list[_Family], date_only: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The plain ISO values read with array arithmetic, for the cells of a whole chunk: (positions, stamps,
    verbatim: the cell is already its canonical text). None: the formats allow no ISO shape.

    A shape (YYYY-MM-DD; then a space or a T and hh:mm; then :ss; then a fraction of 1 to 6 digits) is read
    here only when the column's formats read it by its own ISO format and by no other (_iso_shapes), so a
    value of that shape can be neither ambiguous nor, as it is a real date of a year 1 to 9999 (at midnight
    when date_only), refused: its value is that one reading. Every other value is left to the general path.
    tests/imports/test_validation_fast_dates.py holds the two paths equal.
    """
    shapes = _iso_shapes(tuple(families), date_only)
    if not shapes:
        return None
    offsets = _text_offsets(text)
    lengths = np.diff(offsets)
    data = _text_bytes(text)
    found = []
    for length, template in _ISO_TEMPLATES.items():
        spaced_ok, t_ok = (length, " ") in shapes, (length, "T") in shapes
        if not (spaced_ok or t_ok or (length, "") in shapes):
            continue
        positions = np.flatnonzero(lengths == length)
        if not len(positions):
            continue
        if len(positions) == len(text):
            cells = data.reshape(len(text), length)
        else:
            cells = data[(offsets[positions] - offsets[0])[:, None] + np.arange(length)]
        digits = cells - np.uint8(ord("0"))  # below '0' wraps around past 9
        # Where each cell holds a non-digit, as one fixed-width string, compared with the template's at once.
        not_digits = bytes(int(c != "0") for c in template)
        shaped = (digits > 9).view(f"S{length}")[:, 0] == not_digits
        for at, char in enumerate(template):
            if at == 10:
                separator = cells[:, at]
                shaped &= ((separator == ord(" ")) & spaced_ok) | (
                    ((separator == ord("T")) | (separator == ord("t"))) & t_ok
                )
            elif char != "0":
                shaped &= cells[:, at] == ord(char)

        def field(at: int, width: int, digits: np.ndarray = digits) -> np.ndarray:
            value = digits[:, at].astype(np.int64)
            for column in range(at + 1, at + width):
                value = value * 10 + digits[:, column]
            return value

        year, month, day = field(0, 4), field(5, 2), field(8, 2)
        ok = shaped & (year >= 1) & (month >= 1) & (month <= 12) & (day >= 1)
        leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
        ok &= day <= _DAYS_IN_MONTH[np.where(ok, month, 0)] + (leap & (month == 2))
        months = np.where(ok, (year - 1970) * 12 + month - 1, 0).astype("datetime64[M]")
        days = months.astype("datetime64[D]").view(np.int64) + day - 1
        if length == 10:
            stamps = (days * _MICROSECONDS_PER_DAY).view("datetime64[us]")
            found.append((positions[ok], stamps[ok], date_only))
            continue
        hour, minute = field(11, 2), field(14, 2)
        second = field(17, 2) if length > 16 else 0
        fraction = field(20, length - 20) * 10 ** (26 - length) if length > 19 else 0
        ok &= (hour <= 23) & (minute <= 59) & (second <= 59)
        micros = ((hour * 60 + minute) * 60 + second) * 1_000_000 + fraction
        stamps = (days * _MICROSECONDS_PER_DAY + micros).view("datetime64[us]")
        # YYYY-MM-DD HH:MM:SS is the canonical text itself.
        spaced = cells[:, 10] == ord(" ")
        for marked, verbatim in ((ok & spaced, length == 19), (ok & ~spaced, False)):
            found.append((positions[marked], stamps[marked], verbatim))
    if not found:
        return np.zeros(0, dtype=np.intp), np.zeros(0, dtype="datetime64[us]"), np.zeros(0, dtype=bool)
    return (
        np.concatenate([positions for positions, _, _ in found]),
        np.concatenate([stamps for _, stamps, _ in found]),
        np.concatenate([np.full(len(positions), verbatim) for positions, _, verbatim in found]),
    )


def _temporal_parse(text: pa.Array, *, families: list[_Family]) -> tuple[list[np.ndarray], np.ndarray]:
    """Each family's reading of each cell (NaT: none), to the microsecond; and which cells are too precise."""
    count = len(text)
    cells_as_objects = None
    too_precise = np.zeros(count, dtype=bool)
    readings = []
    for family in families:
        reading = np.full(count, _NAT)
        for variant in family.variants:
            todo = np.isnat(reading)
            pattern = _format_pattern(variant)
            candidates = todo & (
                np.ones(count, dtype=bool) if pattern is None else _fullmatch(text, pattern, ignore_case=True)
            )
            if "%f" in variant:
                precise = _format_pattern(variant, fraction=_TOO_PRECISE_FRACTION)
                if precise is not None:
                    too_precise |= todo & _fullmatch(text, precise, ignore_case=True)
            if not candidates.any():
                continue
            if cells_as_objects is None:
                cells_as_objects = _numpy(text)
            reading[candidates] = _strings_parse(cells_as_objects[candidates], variant)
        readings.append(reading)
    return readings, too_precise


def _strings_parse(cells: np.ndarray, fmt: str) -> np.ndarray:
    """pandas' vectorised parser first; what it leaves out is tried with strptime itself, one value at a time.

    strptime is the reference (the formats are strftime formats) and knows every year from 1 to 9999; pandas'
    parser is only the fast path, which may refuse some of what strptime reads.
    """
    try:
        stamps = pd.to_datetime(cells, format=fmt, errors="coerce").to_numpy()
    except (ValueError, TypeError):
        stamps = np.full(len(cells), _NAT)
    parsed = np.array(stamps, dtype="datetime64[us]", copy=True)
    for index in np.flatnonzero(np.isnat(parsed)):
        try:
            parsed[index] = np.datetime64(datetime.strptime(cells[index], fmt), "us")
        except ValueError:
            continue
    return parsed


def _date_impossible(cell: str, families: list[_Family]) -> str:
    """Why a value shaped like one of the formats is no date ('November has 30 days'); '' when it is not."""
    for family in families:
        for variant in family.variants:
            parts = _date_parts(cell, variant)
            if parts is None:
                continue
            year, month, day = parts
            if year == 0:
                return "there is no year 0"
            days = calendar.monthrange(year, month)[1]
            if day > days:
                name = calendar.month_name[month]
                return f"{name} {year} has {days} days" if month == 2 else f"{name} has {days} days"
    return ""


def _date_parts(cell: str, fmt: str) -> tuple[int, int, int] | None:
    """Year, month and day as a value spells them in fmt, read with the very pattern strptime matches with."""
    try:
        found = _strptime_regex(fmt).match(cell)
    except (re.error, KeyError, ValueError):
        return None
    if found is None or found.end() != len(cell):
        return None
    parts = found.groupdict()
    if parts.get("d") is None:
        return None
    locale_time = _TIME_RE.locale_time
    if parts.get("Y") is not None:
        year = int(parts["Y"])
    elif parts.get("y") is not None:
        # strptime's pivot: 69-99 are 1969-1999, 00-68 are 2000-2068.
        short = int(parts["y"])
        year = short + (1900 if short >= 69 else 2000)
    else:
        year = 1900
    if parts.get("m") is not None:
        month = int(parts["m"])
    elif parts.get("b") is not None:
        month = locale_time.a_month.index(parts["b"].lower())
    elif parts.get("B") is not None:
        month = locale_time.f_month.index(parts["B"].lower())
    else:
        month = 1
    return year, month, int(parts["d"])


@cache
def _strptime_regex(fmt: str) -> re.Pattern:
    return _TIME_RE.compile(fmt)


def _time_of_day(stamps: np.ndarray) -> np.ndarray:
    """Microseconds since midnight (0 for NaT)."""
    micros = stamps.astype(np.int64)
    return np.where(np.isnat(stamps), 0, micros % _MICROSECONDS_PER_DAY)


def _clock_text(micros: int) -> str:
    """'23:59', '23:59:30' or '23:59:30.500000'."""
    seconds, fraction = divmod(int(micros), 1_000_000)
    minutes, second = divmod(seconds, 60)
    hour, minute = divmod(minutes, 60)
    text = f"{hour:02d}:{minute:02d}"
    if second or fraction:
        text += f":{second:02d}"
    if fraction:
        text += f".{fraction:06d}"
    return text


def _temporal_text(stamps: np.ndarray, *, date_only: bool) -> np.ndarray:
    """Canonical text: YYYY-MM-DD, or YYYY-MM-DD HH:MM:SS with .ffffff only when the seconds have a fraction."""
    if date_only:
        return _numpy(pa.array(stamps.astype("datetime64[D]")).cast(pa.string()))
    whole = stamps.astype("datetime64[s]")
    text = _numpy(pa.array(whole).cast(pa.string()))
    fractional = ~np.isnat(stamps) & (whole != stamps)
    if fractional.any():
        text[fractional] = _numpy(pa.array(stamps[fractional]).cast(pa.string()))
    return text


def _format_pattern(fmt: str, *, fraction: str | None = None) -> str | None:
    """A regex matching at least every value strptime could accept for fmt; None for unknown directives."""
    pieces = []
    for token in _FORMAT_TOKENS.split(fmt):
        if token.startswith("%"):
            pattern = (
                fraction if fraction is not None and token == "%f" else _DIRECTIVE_PATTERNS.get(token[1:])
            )
            if pattern is None:
                return None
            pieces.append(pattern)
        elif token.isspace():
            pieces.append(_WHITESPACE_PATTERN)
        elif token:
            pieces.append(re.escape(token))
    return "".join(pieces)


def _format_readable(fmt: str) -> str:
    """'%d/%m/%Y' -> 'DD/MM/YYYY', for messages a distributor can act on."""
    return _FORMAT_TOKENS.sub(
        lambda m: (
            _READABLE_DIRECTIVES.get(m.group()[1:], m.group()) if m.group().startswith("%") else m.group()
        ),
        fmt,
    )


def _words_join(items: list[str], last: str) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} {last} {items[-1]}"


# --- Arrow helpers -----------------------------------------------------------------------------------------


def _signed(number: pa.Array, negative: np.ndarray) -> pa.Array:
    """The unsigned canonical text with "-" put back where negative."""
    if negative.any():
        number = pc.if_else(pa.array(negative), _join("-", number), number)
    return number


def _signed_text(number: pa.Array, negative: np.ndarray) -> np.ndarray:
    """The unsigned canonical text with "-" put back where negative, as a writable object array."""
    return _numpy(_signed(number, negative))


def _fullmatch(text: pa.Array, pattern: str, *, ignore_case: bool = False) -> np.ndarray:
    # RE2's $ matches only at the very end (Python's also before a final newline), so this is a full match.
    return _numpy(pc.match_substring_regex(text, f"^(?:{pattern})$", ignore_case=ignore_case))


def _cells(text: pa.Array, mask: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Indexes and (stripped) values of the cells under mask: only failed cells, so few."""
    indexes = np.flatnonzero(mask)
    return indexes, text.take(pa.array(indexes)).to_pylist() if len(indexes) else []


def _join(prefix: str, text: pa.Array) -> pa.Array:
    return pc.binary_join_element_wise(_literal(prefix), text, _literal(""))


def _literal(value: str) -> pa.Scalar:
    return pa.scalar(value, type=_TEXT)


def _numpy(array: pa.Array) -> np.ndarray:
    return array.to_numpy(zero_copy_only=False)


def _text_offsets(text: pa.Array) -> np.ndarray:
    """Where each cell's bytes start in the data buffer, and where the last ends (len(text) + 1 offsets)."""
    if not len(text):
        return np.zeros(1, dtype=np.int64)
    text = text if text.type == _TEXT else text.cast(_TEXT)
    return np.frombuffer(text.buffers()[1], dtype=np.int64)[text.offset : text.offset + len(text) + 1]


def _text_bytes(text: pa.Array) -> np.ndarray:
    """Every cell's bytes, one after another (a view, no copy)."""
    text = text if text.type == _TEXT else text.cast(_TEXT)
    offsets = _text_offsets(text)
    if offsets[0] == offsets[-1]:
        return np.zeros(0, dtype=np.uint8)
    return np.frombuffer(text.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]]


_CHECKERS: dict[str, _Checker] = {
    "str": _str_check,
    "int": _int_check,
    "decimal": _decimal_check,
    "bool": _bool_check,
    "date": _date_check,
    "datetime": _datetime_check,
}
