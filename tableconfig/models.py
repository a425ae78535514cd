"""Import tables, their typed columns and the header aliases a file may use for each column."""

import datetime as dt
import re

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from .naming import normalize_name, validate_column_identifier, validate_table_identifier

# Widest varchar the physical tables use: a UNIQUE index over utf8mb4 stays within InnoDB's 3072 bytes.
STR_MAX_LENGTH = 768


class DataType(models.TextChoices):
    STR = "str", "Text"
    INT = "int", "Whole number"
    DECIMAL = "decimal", "Decimal number"
    DATE = "date", "Date"
    DATETIME = "datetime", "Date and time"
    BOOL = "bool", "Yes/no"


class ColumnRole(models.TextChoices):
    DISTRIBUTOR = "distributor", "Distributor id"
    PERIOD = "period", "Period (document date)"
    AMOUNT = "amount", "Amount"
    EXPORT_DATE = "export_date", "Export date"


class DuplicatePolicy(models.TextChoices):
    UPDATE = "update", "Update the existing row in place"
    SKIP = "skip", "Keep the existing row, skip the new one"
    REJECT = "reject", "Reject the new row as an error"


class DecimalSeparator(models.TextChoices):
    POINT = ".", "Point (1234.56)"
    COMMA = ",", "Comma (1234,56)"


class ThousandsSeparator(models.TextChoices):
    NONE = "", "None (1234)"
    COMMA = ",", "Comma (1,234)"
    POINT = ".", "Point (1.234)"
    SPACE = " ", "Space (1 234)"
    APOSTROPHE = "'", "Apostrophe (1'234)"


class DistributorMatch(models.TextChoices):
    PREFIX = "prefix", "The first characters match"
    EXACT = "exact", "The whole value matches"


# The data types each role can be read from: the summaries take a period or export date from a date, an amount
# from a number, and compare a distributor id with the upload's dist_id.
ROLE_TYPES = {
    ColumnRole.PERIOD: (DataType.DATE, DataType.DATETIME),
    ColumnRole.EXPORT_DATE: (DataType.DATE, DataType.DATETIME),
    ColumnRole.AMOUNT: (DataType.INT, DataType.DECIMAL),
    ColumnRole.DISTRIBUTOR: (DataType.STR, DataType.INT),
}


class ImportTable(models.Model):
    table_name = models.CharField(
        max_length=63,
        unique=True,
        validators=[validate_table_identifier],
        help_text="The physical table in the database: lowercase letters, digits and underscores.",
    )
    display_name = models.CharField(max_length=200, blank=True)
    allowed_filename = models.CharField(
        max_length=1000,
        blank=True,
        help_text="Comma-separated file names (without extension) that belong to this table; "
        "an entry is either the whole name or a glob such as sales_*.",
    )
    description = models.TextField(blank=True)
    is_active = models.BooleanField(default=True)
    reject_file_on_error = models.BooleanField(
        default=False,
        help_text="Reject the whole file when any row is invalid, instead of skipping those rows.",
    )
    on_duplicate = models.CharField(
        max_length=10,
        choices=DuplicatePolicy.choices,
        default=DuplicatePolicy.UPDATE,
        help_text="What a row whose unique key is already in the table (or earlier in the file) does.",
    )
    decimal_separator = models.CharField(
        max_length=1, choices=DecimalSeparator.choices, default=DecimalSeparator.POINT
    )
    thousands_separator = models.CharField(
        max_length=1, choices=ThousandsSeparator.choices, default=ThousandsSeparator.NONE, blank=True
    )
    distributor_match = models.CharField(
        max_length=10,
        choices=DistributorMatch.choices,
        default=DistributorMatch.PREFIX,
        help_text="How the distributor column is compared with the upload's dist_id.",
    )
    distributor_prefix_length = models.PositiveSmallIntegerField(
        default=2,
        validators=[MinValueValidator(1), MaxValueValidator(50)],
        help_text="With prefix matching: how many leading characters must equal dist_id's.",
    )
    expected_in_batch = models.BooleanField(
        default=False,
        help_text="Every batch (with table 'auto') must include a file for this table: without one, the batch "
        "shows it as not uploaded (status 0).",
    )
    sheet_name = models.CharField(
        max_length=100,
        blank=True,
        help_text="For Excel and OpenDocument files: the sheet to read. Empty means the first sheet.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["table_name"]

    def __str__(self) -> str:
        return self.display_name or self.table_name

    @property
    def filename_entries(self) -> list[str]:
        return [e.strip().lower() for e in self.allowed_filename.split(",") if e.strip()]

    def clean(self) -> None:
        if self.thousands_separator and self.thousands_separator == self.decimal_separator:
            raise ValidationError(
                {
                    "thousands_separator": ValidationError(
                        f"The thousands separator cannot be the decimal separator ('{self.decimal_separator}'): "
                        "a number such as 1.234 would read two ways.",
                        code="separator_clash",
                    )
                }
            )


class ColumnConfig(models.Model):
    table = models.ForeignKey(ImportTable, on_delete=models.CASCADE, related_name="columns")
    column_name = models.CharField(max_length=63, validators=[validate_column_identifier])
    data_type = models.CharField(max_length=10, choices=DataType.choices, default=DataType.STR)
    is_mandatory = models.BooleanField(default=False)
    is_unique = models.BooleanField(default=False)
    max_length = models.PositiveIntegerField(
        default=255,
        validators=[MinValueValidator(1), MaxValueValidator(STR_MAX_LENGTH)],
        help_text=f"For text columns: the most characters a value may have (1 to {STR_MAX_LENGTH}).",
    )
    decimal_digits = models.PositiveSmallIntegerField(
        default=18, validators=[MinValueValidator(1), MaxValueValidator(65)], help_text="Decimal precision."
    )
    decimal_places = models.PositiveSmallIntegerField(
        default=4, validators=[MaxValueValidator(30)], help_text="Digits after the decimal point."
    )
    date_format = models.CharField(
        max_length=200,
        blank=True,
        help_text="For dates: one or more strftime formats separated by '|' (e.g. %Y-%m-%d|%d/%m/%Y). "
        "Empty means ISO (2026-10-31).",
    )
    round_decimals = models.BooleanField(
        default=False,
        help_text="For decimals: round values with more decimal places than configured (half-up) instead of "
        "rejecting the row.",
    )
    role = models.CharField(max_length=20, choices=ColumnRole.choices, blank=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["table", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["table", "column_name"], name="column_unique_per_table"),
        ]

    def __str__(self) -> str:
        return f"{self.table.table_name}.{self.column_name}"

    @property
    def date_formats(self) -> list[str]:
        return column_date_formats_parse(self.date_format)

    def clean(self) -> None:
        """The rules one column can break on its own; those between columns are the services' (services.py)."""
        errors = {}
        if self.decimal_places > self.decimal_digits:
            errors["decimal_places"] = ValidationError(
                "Decimal places cannot exceed the precision.", code="invalid_decimal"
            )
        for fmt in self.date_formats:
            problem = date_format_problem(fmt)
            if problem:
                errors["date_format"] = ValidationError(problem, code="invalid_date_format")
                break
        fitting = ROLE_TYPES.get(self.role, ())
        if self.role and self.data_type not in fitting:
            errors["role"] = ValidationError(
                f"The role '{self.role}' needs a column of type {' or '.join(fitting)}; "
                f"'{self.column_name}' is of type {self.data_type}.",
                code="role_type_mismatch",
            )
        if self.round_decimals and self.data_type != DataType.DECIMAL:
            errors["round_decimals"] = ValidationError(
                f"Rounding applies to columns of type decimal only; '{self.column_name}' is of type {self.data_type}.",
                code="option_type_mismatch",
            )
        if errors:
            raise ValidationError(errors)


def column_date_formats_parse(value: str) -> list[str]:
    """Split a stored date_format ('%Y-%m-%d|%d/%m/%Y') into its formats; only '|' separates them."""
    return [f.strip() for f in value.split("|") if f.strip()]


# A moment with every part different (day > 12, hour > 12, microseconds), written with a format and read back.
DATE_FORMAT_SAMPLE = dt.datetime(2026, 10, 31, 13, 45, 56, 123456)
# Which parts of a datetime each strptime directive sets: a part a format sets must read back as written.
_DIRECTIVE_PARTS = {
    "Y": ("year",),
    "y": ("year",),
    "G": ("year",),
    "m": ("month",),
    "b": ("month",),
    "B": ("month",),
    "d": ("day",),
    "j": ("month", "day"),
    "H": ("hour",),
    "I": ("hour",),
    "M": ("minute",),
    "S": ("second",),
    "f": ("microsecond",),
    "c": ("year", "month", "day", "hour", "minute", "second"),
    "x": ("year", "month", "day"),
    "X": ("hour", "minute", "second"),
}
_DIRECTIVE_RE = re.compile(r"%(.?)")


def date_format_problem(fmt: str) -> str | None:
    """Why the import cannot read dates with strftime format `fmt`, or None.

    The format writes DATE_FORMAT_SAMPLE and must read that text back with strptime, every part it sets
    unchanged: unknown directives fail there, and so does a 12-hour clock without %p (13:45 reads as 01:45).
    """
    directives = _DIRECTIVE_RE.findall(fmt)
    if not [d for d in directives if d != "%"]:
        return f"'{fmt}' is not a strftime format (it has no % directive)."
    if {"z", "Z"} & set(directives):
        return f"'{fmt}' has a time zone (%z or %Z), but time zones are not stored: remove it."
    try:
        written = DATE_FORMAT_SAMPLE.strftime(fmt)
        read = dt.datetime.strptime(written, fmt)
    except ValueError as exc:
        return f"'{fmt}' is not a date format the import can read: {exc}."
    parts = [part for d in directives for part in _DIRECTIVE_PARTS.get(d, ())]
    wrong = [p for p in dict.fromkeys(parts) if getattr(read, p) != getattr(DATE_FORMAT_SAMPLE, p)]
    if wrong:
        return (
            f"'{fmt}' cannot read back the dates it writes: {DATE_FORMAT_SAMPLE:%Y-%m-%d %H:%M:%S.%f} is "
            f"written '{written}' and read back as {read:%Y-%m-%d %H:%M:%S.%f} (the {wrong[0]} differs)."
        )
    return None


class Alias(models.Model):
    column = models.ForeignKey(ColumnConfig, on_delete=models.CASCADE, related_name="aliases")
    alias_name = models.CharField(max_length=200)

    class Meta:
        ordering = ["column", "alias_name"]
        verbose_name_plural = "aliases"

    def __str__(self) -> str:
        return self.alias_name

    @property
    def normalized(self) -> str:
        return normalize_name(self.alias_name)

    def clean(self) -> None:
        if not self.normalized:
            raise ValidationError(
                {"alias_name": ValidationError("An alias cannot be empty.", code="invalid_alias")}
            )
