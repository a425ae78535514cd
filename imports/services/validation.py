"""Check a chunk of file rows against the configured column types, one vectorised pass per column."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Context, Decimal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from importhub.errors import ConfigError

DATE_ISO_FORMATS = ("%Y-%m-%d",)
# A date-only ISO value is accepted in a datetime column and read as midnight.
DATETIME_ISO_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d")

BOOL_TRUE = ("true", "1", "yes", "y", "t")
BOOL_FALSE = ("false", "0", "no", "n", "f")

# Signed 64-bit bounds as digit strings: compared as text, so no value is ever converted to a number.
_INT64_MAX = "9223372036854775807"
_INT64_MIN_MAGNITUDE = "9223372036854775808"

_INT_PATTERN = r"[+-]?[0-9]+"
_DECIMAL_PATTERN = r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)"

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
    "f": "[0-9]{1,9}",
    "j": "[ 0-9]{1,3}",
    "b": ".+",
    "B": ".+",
    "a": ".+",
    "A": ".+",
    "p": ".+",
    "%": "%",
}
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

# Cells are Arrow large strings, the storage of pandas' "str" dtype, so columns convert without a copy. The
# checks call Arrow's kernels directly: pandas 3.1's .str accessor falls back to per-cell Python for \s, for $
# once a cell holds a newline (quoted CSV fields do) and for find() on non-ASCII text.
_TEXT = pa.large_string()


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


@dataclass(frozen=True)
class RowError:
    """One rejected cell. Codes are stable: missing_value, invalid_int, invalid_decimal, decimal_out_of_range,
    invalid_bool, invalid_date, ambiguous_date, invalid_datetime, too_long (and ragged_row, from the reader)."""

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


@dataclass
class _Failure:
    """Cells of one column that failed one check: their indexes, with one message each."""

    indexes: np.ndarray
    code: str
    messages: list[str]


_Checker = Callable[[ColumnRule, pa.Array], tuple[np.ndarray, list[_Failure]]]


def chunk_validate(
    *, frame: pd.DataFrame, row_numbers: np.ndarray, rules: list[ColumnRule]
) -> ValidatedChunk:
    """Validate and canonicalise a chunk of rows; return the valid rows and every error of the others."""
    count = len(frame)
    row_numbers = np.asarray(row_numbers, dtype=np.int64)
    if len(row_numbers) != count:
        raise ValueError(f"{count} rows but {len(row_numbers)} row numbers")
    checkers = [_rule_checker(rule) for rule in rules]
    columns: dict[str, np.ndarray] = {}
    failed: list[tuple[int, _Failure, list]] = []
    for column_index, (rule, checker) in enumerate(zip(rules, checkers, strict=True)):
        raw = None if rule.source is None else frame[rule.source]
        text = _column_text(raw, count)
        filled = _numpy(pc.not_equal(text, _literal("")))
        values, failures = _column_check(rule, text, filled, checker)
        if rule.is_mandatory and not filled.all():
            missing = np.flatnonzero(~filled)
            failures.append(
                _Failure(missing, "missing_value", [f"{rule.name}: a value is required"] * len(missing))
            )
        columns[rule.name] = values
        for failure in failures:
            raw_values = [""] * len(failure.indexes) if raw is None else raw.iloc[failure.indexes].tolist()
            failed.append((column_index, failure, raw_values))

    bad = np.zeros(count, dtype=bool)
    for _, failure, _ in failed:
        bad[failure.indexes] = True
    good = ~bad
    names = [rule.name for rule in rules]
    rejected_positions = np.flatnonzero(bad)
    return ValidatedChunk(
        frame=pd.DataFrame(
            {name: columns[name][good] for name in names}, columns=names, dtype=object, copy=False
        ),
        row_numbers=row_numbers[good],
        errors=_errors_collect(failed, row_numbers, rules),
        rejected=np.unique(row_numbers[rejected_positions]),
        rejected_positions=rejected_positions,
    )


def values_validate(
    *, records: list[dict[str, str]], row_numbers: list[int], rules: list[ColumnRule]
) -> list[RowError]:
    """Validate a handful of records (a file's first rows) with the same checks as a chunk."""
    headers = list(dict.fromkeys(key for record in records for key in record))
    headers += [rule.source for rule in rules if rule.source is not None and rule.source not in headers]
    frame = pd.DataFrame(
        [[record.get(header, "") for header in headers] for record in records], columns=headers, dtype="str"
    )
    return chunk_validate(
        frame=frame, row_numbers=np.asarray(row_numbers, dtype=np.int64), rules=rules
    ).errors


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
    return checker


def _column_text(raw: pd.Series | None, count: int) -> pa.Array:
    """The column's cells as Arrow strings stripped of surrounding whitespace; all empty when absent."""
    if raw is None:
        return pa.array([""] * count, type=_TEXT)
    text = pa.array(raw, type=_TEXT, from_pandas=True)
    if isinstance(text, pa.ChunkedArray):
        text = text.combine_chunks()
    return pc.utf8_trim_whitespace(text.fill_null(""))


def _column_check(
    rule: ColumnRule, text: pa.Array, filled: np.ndarray, checker: _Checker
) -> tuple[np.ndarray, list[_Failure]]:
    """Run the type check on the non-empty cells; return the column's values (None when empty) and failures."""
    if filled.all():
        return checker(rule, text)
    values = np.full(len(text), None, dtype=object)
    positions = np.flatnonzero(filled)
    if not len(positions):
        return values, []
    checked, failures = checker(rule, text.filter(pa.array(filled)))
    values[positions] = checked
    for failure in failures:
        failure.indexes = positions[failure.indexes]
    return values, failures


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


def _int_check(rule: ColumnRule, text: pa.Array) -> tuple[np.ndarray, list[_Failure]]:
    well_formed = _fullmatch(text, _INT_PATTERN)
    digits = pc.utf8_ltrim(pc.utf8_ltrim(text, "+-"), "0")
    lengths = _numpy(pc.utf8_length(digits))
    zero = lengths == 0
    negative = _numpy(pc.starts_with(text, "-")) & ~zero
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
        failures.append(
            _Failure(indexes, "invalid_int", [f"{rule.name}: '{v}' is not a whole number" for v in cells])
        )
    indexes, cells = _cells(text, well_formed & over)
    if len(indexes):
        limits = f"-{_INT64_MIN_MAGNITUDE} to {_INT64_MAX}"
        failures.append(
            _Failure(
                indexes, "invalid_int", [f"{rule.name}: '{v}' is out of range ({limits})" for v in cells]
            )
        )
    return values, failures


def _decimal_check(rule: ColumnRule, text: pa.Array) -> tuple[np.ndarray, list[_Failure]]:
    places = rule.decimal_places
    allowed = rule.decimal_digits - places
    well_formed = _fullmatch(text, _DECIMAL_PATTERN)
    # Text arithmetic, never float: "007.50" -> "7.50", ".5" -> ".5", "5." -> "5.", "0.00" -> ".00".
    unsigned = pc.utf8_ltrim(pc.utf8_ltrim(text, "+-"), "0")
    lengths = _numpy(pc.utf8_length(unsigned))
    point = _numpy(pc.find_substring(unsigned, "."))
    whole_digits = np.where(point >= 0, point, lengths)
    fraction_digits = np.where(point >= 0, lengths - point - 1, 0)
    zero = _numpy(pc.equal(pc.utf8_trim(unsigned, "0."), _literal("")))
    number = pc.utf8_rtrim(unsigned, ".")
    no_whole = whole_digits == 0
    if no_whole.any():
        number = pc.if_else(pa.array(no_whole), _join("0", number), number)
    values = _signed_text(number, _numpy(pc.starts_with(text, "-")) & ~zero)

    # Only cells with more fractional digits than the column keeps need exact (Decimal) rounding.
    rounded_cells = well_formed & (fraction_digits > places) & (whole_digits <= allowed)
    rounding = np.flatnonzero(rounded_cells)
    if len(rounding):
        context = Context(prec=rule.decimal_digits + 2, rounding=ROUND_HALF_UP)
        exponent = Decimal(1).scaleb(-places)
        for index in rounding:
            rounded = context.quantize(Decimal(values[index]), exponent)
            if rounded.is_zero():
                rounded = rounded.copy_abs()
            values[index] = f"{rounded:f}"
            whole_digits[index] = len(values[index].lstrip("-").split(".")[0].lstrip("0"))

    failures = []
    indexes, cells = _cells(text, ~well_formed)
    if len(indexes):
        rule_text = "digits with an optional '.', no thousands separators"
        failures.append(
            _Failure(
                indexes,
                "invalid_decimal",
                [f"{rule.name}: '{v}' is not a number ({rule_text})" for v in cells],
            )
        )
    indexes, cells = _cells(text, well_formed & (whole_digits > allowed))
    if len(indexes):
        messages = []
        for index, cell in zip(indexes, cells, strict=True):
            # Rounding can carry into a new digit: 99.995 kept to 2 places is 100.00.
            carried = f" once rounded to {places} decimal places" if rounded_cells[index] else ""
            messages.append(
                f"{rule.name}: '{cell}' has {whole_digits[index]} digits before the decimal point{carried}, "
                f"more than the {allowed} allowed"
            )
        failures.append(_Failure(indexes, "decimal_out_of_range", messages))
    return values, failures


def _bool_check(rule: ColumnRule, text: pa.Array) -> tuple[np.ndarray, list[_Failure]]:
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
                indexes, "invalid_bool", [f"{rule.name}: '{v}' is not yes or no ({accepted})" for v in cells]
            )
        )
    return values, failures


def _str_check(rule: ColumnRule, text: pa.Array) -> tuple[np.ndarray, list[_Failure]]:
    lengths = _numpy(pc.utf8_length(text))
    failures = []
    indexes = np.flatnonzero(lengths > rule.max_length)
    if len(indexes):
        failures.append(
            _Failure(
                indexes,
                "too_long",
                [
                    f"{rule.name}: {n} characters, more than the {rule.max_length} allowed"
                    for n in lengths[indexes]
                ],
            )
        )
    return _numpy(text), failures


def _date_check(rule: ColumnRule, text: pa.Array) -> tuple[np.ndarray, list[_Failure]]:
    return _temporal_check(rule, text, formats=rule.date_formats or DATE_ISO_FORMATS, unit="D")


def _datetime_check(rule: ColumnRule, text: pa.Array) -> tuple[np.ndarray, list[_Failure]]:
    return _temporal_check(rule, text, formats=rule.date_formats or DATETIME_ISO_FORMATS, unit="s")


def _temporal_check(
    rule: ColumnRule, text: pa.Array, *, formats: tuple[str, ...], unit: str
) -> tuple[np.ndarray, list[_Failure]]:
    """Parse with every format, never guessing: a value that two formats read differently is ambiguous."""
    # A chunk repeats few distinct dates, so each distinct text is parsed once.
    encoded = pc.dictionary_encode(text)
    distinct, codes = encoded.dictionary, _numpy(encoded.indices)
    result, ambiguous, readings = _temporal_parse(distinct, formats=formats, unit=unit)
    values = _temporal_text(result)[codes]

    kind, code = ("date", "invalid_date") if unit == "D" else ("date and time", "invalid_datetime")
    failures = []
    indexes, cells = _cells(text, np.isnat(result)[codes])
    if len(indexes):
        accepted = _words_join([_format_readable(fmt) for fmt in formats], "or")
        failures.append(
            _Failure(
                indexes, code, [f"{rule.name}: '{v}' is not a {kind} in the format {accepted}" for v in cells]
            )
        )
    indexes, cells = _cells(text, ambiguous[codes])
    if len(indexes):
        messages = []
        for index, cell in zip(codes[indexes], cells, strict=True):
            seen: dict[str, str] = {}
            for fmt, parsed in zip(formats, readings, strict=True):
                if not np.isnat(parsed[index]):
                    seen.setdefault(_temporal_text(parsed[index : index + 1])[0], fmt)
            described = _words_join([f"{reading} with {fmt}" for reading, fmt in seen.items()], "and")
            messages.append(f"{rule.name}: '{cell}' is ambiguous: it reads as {described}")
        failures.append(_Failure(indexes, "ambiguous_date", messages))
    return values, failures


def _temporal_parse(
    text: pa.Array, *, formats: tuple[str, ...], unit: str
) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """The first reading of each cell (NaT: none), which cells two formats read differently, every reading."""
    dtype = f"datetime64[{unit}]"
    count = len(text)
    cells_as_objects = None
    result = np.full(count, np.datetime64("NaT"), dtype=dtype)
    ambiguous = np.zeros(count, dtype=bool)
    readings = []
    for fmt in formats:
        pattern = _format_pattern(fmt)
        candidates = (
            np.ones(count, dtype=bool) if pattern is None else _fullmatch(text, pattern, ignore_case=True)
        )
        parsed = np.full(count, np.datetime64("NaT"), dtype=dtype)
        if candidates.any():
            if cells_as_objects is None:
                cells_as_objects = _numpy(text)
            stamps = pd.to_datetime(cells_as_objects[candidates], format=fmt, errors="coerce")
            parsed[candidates] = stamps.to_numpy().astype(dtype)
        ambiguous |= ~np.isnat(parsed) & ~np.isnat(result) & (parsed != result)
        result = np.where(np.isnat(result), parsed, result)
        readings.append(parsed)
    return result, ambiguous, readings


def _temporal_text(stamps: np.ndarray) -> np.ndarray:
    """Canonical text: Arrow writes date32 as YYYY-MM-DD and timestamp[s] as YYYY-MM-DD HH:MM:SS."""
    return _numpy(pa.array(stamps).cast(pa.string()))


def _format_pattern(fmt: str) -> str | None:
    """A regex matching at least every value strptime could accept for fmt; None for unknown directives."""
    pieces = []
    for token in _FORMAT_TOKENS.split(fmt):
        if token.startswith("%"):
            pattern = _DIRECTIVE_PATTERNS.get(token[1:])
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


def _signed_text(number: pa.Array, negative: np.ndarray) -> np.ndarray:
    """The unsigned canonical text with "-" put back where negative, as a writable object array."""
    if negative.any():
        number = pc.if_else(pa.array(negative), _join("-", number), number)
    return _numpy(number)


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


_CHECKERS: dict[str, _Checker] = {
    "str": _str_check,
    "int": _int_check,
    "decimal": _decimal_check,
    "bool": _bool_check,
    "date": _date_check,
    "datetime": _datetime_check,
}
