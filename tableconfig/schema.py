"""Physical tables: build a model at run time from the configuration and let Django's schema editor
create or alter the real table, on SQLite and MySQL alike. The only module that runs DDL.

What a physical column holds is exactly what was written to it:
- text columns compare exactly: on MySQL/MariaDB they use the binary collation `utf8mb4_bin` (the
  database's own collation is usually case- and accent-insensitive); SQLite compares bytes already;
- decimals keep every digit: DECIMAL(p,s) on MySQL; on SQLite a column declared `decimal_text(p,s)`,
  which SQLite gives TEXT affinity, so a value is kept as the text written (NUMERIC affinity, Django's
  default, would keep a binary float). SQL comparisons and sums of such a column on SQLite are textual
  or float: read the values and use `Decimal` to compare or add them exactly.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation

from django.apps.registry import Apps
from django.db import DatabaseError, connection, models

from importhub.errors import SchemaChangeRefused

from .naming import ENGINE_COLUMNS, identifier_problem

logger = logging.getLogger(__name__)

# Conversions that keep every existing value, so they are allowed on a table that holds rows
# (int -> decimal and anything -> str are still checked value by value against the new size).
SAFE_CONVERSIONS = {
    ("int", "decimal"),
    ("int", "str"),
    ("decimal", "str"),
    ("date", "datetime"),
    ("date", "str"),
    ("datetime", "str"),
    ("bool", "int"),
    ("bool", "str"),
}
# Columns the engine adds to every table besides the primary key, in the order they are added.
ENGINE_DATA_COLUMNS = ("import_job_id", "imported_at")
# How many stored values a refusal quotes.
EXAMPLES = 3
_SCAN_BATCH = 5000
_SQLITE_EXACT_DECIMAL_RE = re.compile(r"decimal_text\((\d+),(\d+)\)")
_TYPE_ARGUMENTS_RE = re.compile(r"\((\d+)(?:,(\d+))?\)")


@dataclass(frozen=True)
class ColumnSpec:
    """What one configured column needs physically.

    The last two fields are only set by inspection, for a physical column that does not keep values
    exactly: `collation`, a MySQL text column's collation other than `text_collation()`; `decimal_as_float`,
    a SQLite decimal declared with NUMERIC affinity (Django's plain `decimal`), which stores binary floats.
    """

    name: str
    data_type: str
    max_length: int = 255
    decimal_digits: int = 18
    decimal_places: int = 4
    is_unique: bool = False
    collation: str | None = None
    decimal_as_float: bool = False

    @classmethod
    def from_config(cls, column) -> ColumnSpec:
        return cls(
            name=column.column_name,
            data_type=column.data_type,
            max_length=column.max_length,
            decimal_digits=column.decimal_digits,
            decimal_places=column.decimal_places,
            is_unique=column.is_unique,
        )

    def describe(self) -> str:
        if self.data_type == "str":
            kind = f"str({self.max_length})"
        elif self.data_type == "decimal" and self.decimal_as_float:
            kind = "decimal (binary float)"
        elif self.data_type == "decimal":
            kind = f"decimal({self.decimal_digits},{self.decimal_places})"
        else:
            kind = self.data_type
        return kind + (" unique" if self.is_unique else "")


@dataclass
class SchemaChange:
    kind: str  # create_table, rename_table, add_column, alter_column, add_engine_column
    column: str | None
    description: str
    old: ColumnSpec | None = None
    new: ColumnSpec | None = None


@dataclass
class SchemaPlan:
    table_name: str
    exists: bool
    rename_from: str | None = None
    specs: list[ColumnSpec] = field(default_factory=list)
    changes: list[SchemaChange] = field(default_factory=list)
    extra_columns: list[str] = field(default_factory=list)
    # Columns no longer configured stay in the table (their data is kept) and in the model used for DDL,
    # because SQLite rebuilds a table from the model on ALTER and would otherwise drop them.
    kept: list[ColumnSpec] = field(default_factory=list)

    @property
    def in_line(self) -> bool:
        return not self.changes

    def summary(self) -> list[str]:
        return [c.description for c in self.changes]


def decimal_text(value: Decimal, places: int) -> str:
    """A decimal as SQLite keeps it: plain notation (never an exponent), rounded half-up to `places`."""
    exponent = Decimal(1).scaleb(-places)
    rounded = value.quantize(exponent, context=Context(prec=100, rounding=ROUND_HALF_UP))
    return f"{rounded:f}"


class ExactDecimalField(models.DecimalField):
    """DECIMAL(p,s) on MySQL; on SQLite text in a column declared `decimal_text(p,s)` (TEXT affinity).

    Its own internal type keeps SQLite's float converter (15 significant digits) away from the values:
    they are read back with `Decimal(text)`, every digit kept.
    """

    def get_internal_type(self) -> str:
        return "ExactDecimalField"

    def db_type(self, connection) -> str:
        if connection.vendor == "sqlite":
            return f"decimal_text({self.max_digits},{self.decimal_places})"
        return connection.data_types["DecimalField"] % self.db_type_parameters(connection)

    def get_db_prep_value(self, value, connection, prepared=False):
        value = super().get_db_prep_value(value, connection, prepared)
        if connection.vendor == "sqlite" and isinstance(value, Decimal):
            return decimal_text(value, self.decimal_places)
        return value

    def from_db_value(self, value, expression, connection):
        if value is None or isinstance(value, Decimal):
            return value
        return Decimal(repr(value) if isinstance(value, float) else str(value))


def text_collation() -> str | None:
    """The collation of every text column on MySQL/MariaDB (None on SQLite, which compares bytes).

    Binary and NO PAD: `abc`/`ABC`, `straße`/`strasse`, `résumé`/`resume`, NFC/NFD forms and `a`/`a `
    are different keys, as on SQLite. (`utf8mb4_bin` is PAD SPACE: it would take `a` and `a ` for one key;
    it is used only on a MySQL too old for `utf8mb4_0900_bin`.)
    """
    if connection.vendor != "mysql":
        return None
    if connection.mysql_is_mariadb:
        return "utf8mb4_nopad_bin"
    return "utf8mb4_0900_bin" if connection.mysql_version >= (8, 0, 17) else "utf8mb4_bin"


def _field_build(spec: ColumnSpec) -> models.Field:
    common = {"null": True, "blank": True, "unique": spec.is_unique, "db_column": spec.name}
    if spec.data_type == "str":
        collation = (spec.collation or text_collation()) if connection.vendor == "mysql" else None
        return models.CharField(max_length=spec.max_length, db_collation=collation, **common)
    if spec.data_type == "int":
        return models.BigIntegerField(**common)
    if spec.data_type == "decimal":
        decimal_field = models.DecimalField if spec.decimal_as_float else ExactDecimalField
        return decimal_field(max_digits=spec.decimal_digits, decimal_places=spec.decimal_places, **common)
    if spec.data_type == "date":
        return models.DateField(**common)
    if spec.data_type == "datetime":
        return models.DateTimeField(**common)
    if spec.data_type == "bool":
        return models.BooleanField(**common)
    raise SchemaChangeRefused(f"Unknown data type '{spec.data_type}'.", code="invalid_data_type")


def identifiers_check(table_name: str, specs: list[ColumnSpec]) -> None:
    """Refuse any identifier that is not allow-listed, right before DDL (quote_name alone is no defence)."""
    problem = identifier_problem(table_name, kind="table")
    for spec in specs:
        problem = problem or identifier_problem(spec.name, kind="column")
    if problem:
        raise SchemaChangeRefused(problem, code="invalid_identifier")


def physical_model_build(table_name: str, specs: list[ColumnSpec]) -> type[models.Model]:
    """A throwaway model for `table_name` (its own app registry, so nothing global changes)."""
    identifiers_check(table_name, specs)
    attrs = {
        "__module__": __name__,
        "Meta": type("Meta", (), {"db_table": table_name, "app_label": "physical", "apps": Apps()}),
        "id": models.BigAutoField(primary_key=True),
        "import_job_id": models.BigIntegerField(null=True, db_index=True),
        "imported_at": models.DateTimeField(null=True),
    }
    for spec in specs:
        attrs[f"c_{spec.name}"] = _field_build(spec)
    return type(f"Physical_{table_name}", (models.Model,), attrs)


def model_field(model: type[models.Model], column: str) -> models.Field:
    return model._meta.get_field(f"c_{column}")


# --- Inspection: one query per table --------------------------------------------------------------

# Each column with its type, size, collation and whether a single-column UNIQUE index covers it whole.
_MYSQL_COLUMNS_SQL = """
SELECT c.COLUMN_NAME, c.DATA_TYPE, c.CHARACTER_MAXIMUM_LENGTH, c.NUMERIC_PRECISION, c.NUMERIC_SCALE,
       c.COLLATION_NAME, MAX(u.INDEX_NAME IS NOT NULL)
FROM information_schema.COLUMNS c
LEFT JOIN (
    SELECT s.INDEX_NAME, MIN(s.COLUMN_NAME) AS COLUMN_NAME
    FROM information_schema.STATISTICS s
    WHERE s.TABLE_SCHEMA = DATABASE() AND s.TABLE_NAME = %s AND s.NON_UNIQUE = 0
      AND s.INDEX_NAME <> 'PRIMARY'
    GROUP BY s.INDEX_NAME
    HAVING COUNT(*) = 1 AND MAX(s.SUB_PART) IS NULL
) u ON u.COLUMN_NAME = c.COLUMN_NAME
WHERE c.TABLE_SCHEMA = DATABASE() AND c.TABLE_NAME = %s
GROUP BY c.ORDINAL_POSITION, c.COLUMN_NAME, c.DATA_TYPE, c.CHARACTER_MAXIMUM_LENGTH, c.NUMERIC_PRECISION,
         c.NUMERIC_SCALE, c.COLLATION_NAME
ORDER BY c.ORDINAL_POSITION
"""
_SQLITE_COLUMNS_SQL = """
SELECT c.name, c.type, EXISTS (
    SELECT 1 FROM pragma_index_list(%s) AS i
    WHERE i."unique" = 1 AND i.origin <> 'pk' AND i.partial = 0
      AND (SELECT COUNT(*) FROM pragma_index_info(i.name)) = 1
      AND (SELECT k.name FROM pragma_index_info(i.name) AS k) = c.name
)
FROM pragma_table_info(%s) AS c
ORDER BY c.cid
"""


def _kind(raw: str) -> str | None:
    if raw in ("varchar", "char", "text"):
        return "str"
    if raw in ("bigint", "integer", "int", "smallint", "mediumint"):
        return "int"
    if raw in ("decimal", "numeric", "decimal_text"):
        return "decimal"
    if raw == "date":
        return "date"
    if raw in ("datetime", "timestamp"):
        return "datetime"
    if raw in ("bool", "boolean", "tinyint"):
        return "bool"
    return None


def _spec_mysql(name, data_type, length, precision, scale, collation, unique) -> ColumnSpec | None:
    kind = _kind(str(data_type).lower())
    if kind is None:
        return None
    return ColumnSpec(
        name=name,
        data_type=kind,
        max_length=int(length or 255) if kind == "str" else 255,
        decimal_digits=int(precision or 18) if kind == "decimal" else 18,
        decimal_places=int(scale if scale is not None else 4) if kind == "decimal" else 4,
        is_unique=bool(unique),
        collation=collation if kind == "str" and collation != text_collation() else None,
    )


def _spec_sqlite(name, declared, unique) -> ColumnSpec | None:
    declared = re.sub(r"\s+", "", str(declared or "").lower())
    kind = _kind(declared.split("(")[0])
    if kind is None:
        return None
    arguments = _TYPE_ARGUMENTS_RE.search(declared)
    first = int(arguments.group(1)) if arguments else None
    second = int(arguments.group(2)) if arguments and arguments.group(2) else None
    exact = kind == "decimal" and _SQLITE_EXACT_DECIMAL_RE.fullmatch(declared) is not None
    return ColumnSpec(
        name=name,
        data_type=kind,
        max_length=(first or 255) if kind == "str" else 255,
        decimal_digits=(first or 18) if kind == "decimal" else 18,
        decimal_places=(second if second is not None else 4) if kind == "decimal" else 4,
        is_unique=bool(unique),
        decimal_as_float=kind == "decimal" and not exact,
    )


def table_exists(table_name: str) -> bool:
    with connection.cursor() as cursor:
        return table_name in connection.introspection.table_names(cursor)


def table_schema_inspect(table_name: str) -> dict[str, ColumnSpec | None] | None:
    """The physical columns of `table_name` as specs (None for a column of a type we do not manage),
    or None when there is no such table. One query: information_schema on MySQL, pragmas on SQLite."""
    with connection.cursor() as cursor:
        cursor.execute(
            _MYSQL_COLUMNS_SQL if connection.vendor == "mysql" else _SQLITE_COLUMNS_SQL,
            [table_name, table_name],
        )
        rows = cursor.fetchall()
    if not rows:
        return None
    build = _spec_mysql if connection.vendor == "mysql" else _spec_sqlite
    return {row[0]: build(*row) for row in rows}


# --- Comparison: one rule for the plan and the drift check ------------------------------------------


def _differences(current: ColumnSpec, spec: ColumnSpec) -> list[str]:
    """Each way the physical column `current` differs from the configured `spec`, as a sentence."""
    name = spec.name
    problems = []
    if current.data_type != spec.data_type or (spec.data_type == "decimal" and current.decimal_as_float):
        what = current.describe().removesuffix(" unique")
        problems.append(f"Column {name} is {what} in the table, configured as {spec.describe()}.")
    elif spec.data_type == "str" and current.max_length != spec.max_length:
        size = "narrower" if current.max_length < spec.max_length else "wider"
        problems.append(
            f"Column {name} holds {current.max_length} characters in the table, {size} than the configured "
            f"{spec.max_length}."
        )
    elif spec.data_type == "decimal" and (current.decimal_digits, current.decimal_places) != (
        spec.decimal_digits,
        spec.decimal_places,
    ):
        problems.append(
            f"Column {name} is decimal({current.decimal_digits},{current.decimal_places}) in the table, "
            f"configured as decimal({spec.decimal_digits},{spec.decimal_places})."
        )
    if current.is_unique != spec.is_unique:
        if spec.is_unique:
            problems.append(f"Column {name} has no UNIQUE index in the table, configured unique.")
        else:
            problems.append(f"Column {name} has a UNIQUE index in the table, configured not unique.")
    if current.data_type == spec.data_type == "str" and current.collation:
        problems.append(
            f"Column {name} compares with collation {current.collation} in the table, not exactly "
            f"({text_collation()})."
        )
    return problems


def _alter_description(current: ColumnSpec, spec: ColumnSpec) -> str:
    parts = []
    if current.describe() != spec.describe():
        parts.append(f"changed column {spec.name} from {current.describe()} to {spec.describe()}")
    if current.data_type == spec.data_type == "str" and current.collation:
        parts.append(f"changed collation of column {spec.name} to {text_collation()} (exact comparison)")
    return "; ".join(parts)


def _unmanaged_refuse(table_name: str, column: str) -> None:
    raise SchemaChangeRefused(
        f"Column '{column}' of table {table_name} has a type importhub does not manage; "
        "change it by hand or choose another column name.",
        code="unmanaged_column",
    )


def table_schema_drift(*, table_name: str, specs: list[ColumnSpec]) -> list[str]:
    """How the physical table differs from the configured `specs`, one plain sentence per mismatch (empty
    when in line; extra physical columns are fine). Cheap: one query, for a check before every load.
    Agrees with `table_schema_plan`: no drift exactly when the plan has no change."""
    identifiers_check(table_name, specs)
    actual = table_schema_inspect(table_name)
    if actual is None:
        return [f"Table {table_name} does not exist."]
    problems = [
        f"Column {c} (added by the engine) is missing." for c in ENGINE_DATA_COLUMNS if c not in actual
    ]
    for spec in specs:
        if spec.name not in actual:
            problems.append(f"Column {spec.name} is missing (configured as {spec.describe()}).")
        elif actual[spec.name] is None:
            problems.append(f"Column {spec.name} has a type importhub does not manage.")
        else:
            problems += _differences(actual[spec.name], spec)
    return problems


def table_schema_plan(
    *, table_name: str, specs: list[ColumnSpec], rename_from: str | None = None
) -> SchemaPlan:
    """Compare the configuration with the real table and list the DDL needed; refuse unsafe changes."""
    identifiers_check(table_name, specs)
    names = [s.name for s in specs]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise SchemaChangeRefused(f"Column names repeat: {', '.join(duplicates)}.", code="duplicate_column")
    if rename_from:
        identifiers_check(rename_from, [])
    actual = table_schema_inspect(table_name)
    plan = SchemaPlan(table_name=table_name, exists=actual is not None, specs=list(specs))
    if actual is None and rename_from and rename_from != table_name:
        actual = table_schema_inspect(rename_from)
        if actual is not None:
            plan.rename_from = rename_from
            plan.exists = True
            plan.changes.append(
                SchemaChange("rename_table", None, f"renamed table {rename_from} to {table_name}")
            )
    if actual is None:
        described = ", ".join(f"{s.name} {s.describe()}" for s in specs) or "no configured columns"
        plan.changes.append(SchemaChange("create_table", None, f"created table {table_name} ({described})"))
        return plan

    source = plan.rename_from or table_name
    for engine_column in ENGINE_DATA_COLUMNS:
        if engine_column not in actual:
            plan.changes.append(
                SchemaChange("add_engine_column", engine_column, f"added column {engine_column}")
            )
    for spec in specs:
        if spec.name not in actual:
            plan.changes.append(
                SchemaChange("add_column", spec.name, f"added column {spec.name} {spec.describe()}", new=spec)
            )
            continue
        current = actual[spec.name]
        if current is None:
            _unmanaged_refuse(table_name, spec.name)
        if not _differences(current, spec):
            continue
        _change_check(source, table_name, current, spec)
        plan.changes.append(
            SchemaChange("alter_column", spec.name, _alter_description(current, spec), old=current, new=spec)
        )
    plan.extra_columns = sorted(n for n in actual if n not in ENGINE_COLUMNS and n not in names)
    plan.kept = [actual[n] for n in plan.extra_columns if actual[n] is not None]
    unmanaged = [n for n in plan.extra_columns if actual[n] is None]
    if unmanaged and connection.vendor == "sqlite" and any(_sqlite_rebuilds(c) for c in plan.changes):
        raise SchemaChangeRefused(
            f"Table {table_name} has columns of a type importhub does not manage ({', '.join(unmanaged)}): "
            "SQLite rebuilds the table for this change and would drop them. Convert or drop them by hand first.",
            code="unmanaged_column",
        )
    order = {"rename_table": 0, "add_engine_column": 1, "add_column": 2, "alter_column": 3}
    plan.changes.sort(key=lambda c: order.get(c.kind, 0))
    return plan


def _sqlite_rebuilds(change: SchemaChange) -> bool:
    """Whether Django's SQLite schema editor makes this change by copying the table into a new one, which
    keeps only the columns of the model."""
    return change.kind == "alter_column" or (change.kind == "add_column" and change.new.is_unique)


# --- Refusals: a change that would lose, round or reject stored values ------------------------------


def _quoted(value) -> str:
    text = f"{value:f}" if isinstance(value, Decimal) else str(value)
    return f"'{text[:40]}…'" if len(text) > 40 else f"'{text}'"


def _examples(values: list) -> str:
    return ", ".join(_quoted(v) for v in values)


def _fetch(sql: str, params: list) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _misfits_sql(table_sql: str, column_sql: str, condition: str, params: list) -> tuple[int, list]:
    """How many non-null values of the column meet `condition`, and the first few of them."""
    where = f"{column_sql} IS NOT NULL AND ({condition})"
    count = _fetch(f"SELECT COUNT(*) FROM {table_sql} WHERE {where}", params)[0][0]
    if not count:
        return 0, []
    rows = _fetch(f"SELECT {column_sql} FROM {table_sql} WHERE {where} ORDER BY id LIMIT {EXAMPLES}", params)
    return count, [row[0] for row in rows]


def _as_decimal(value) -> Decimal | None:
    try:
        number = Decimal(repr(value) if isinstance(value, float) else str(value).strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _decimal_misfits(
    table_sql: str, column_sql: str, current: ColumnSpec, places: int | None, whole: int | None
) -> tuple[tuple[int, list], tuple[int, list]]:
    """Stored values with non-zero digits beyond `places`, and values of `whole` or more digits before the
    point (None: that check is not needed). MySQL: in SQL; SQLite (text, or floats in an old column):
    read in batches and compared as Decimal, which no SQL function there does exactly."""
    if connection.vendor == "mysql":
        scale = (0, [])
        if places is not None and current.data_type == "decimal":
            scale = _misfits_sql(table_sql, column_sql, f"{column_sql} <> ROUND({column_sql}, %s)", [places])
        size = (0, [])
        if whole is not None:
            # No ABS(): it overflows on the smallest BIGINT. The limit travels as exact decimal text.
            limit = "CAST(%s AS DECIMAL(65,0))"
            size = _misfits_sql(
                table_sql,
                column_sql,
                f"{column_sql} >= {limit} OR {column_sql} <= -{limit}",
                [str(10**whole), str(10**whole)],
            )
        return scale, size
    exponent = Decimal(1).scaleb(-places) if places is not None else None
    limit = Decimal(10) ** whole if whole is not None else None
    scale_count, scale_examples, size_count, size_examples = 0, [], 0, []
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column_sql} FROM {table_sql} WHERE {column_sql} IS NOT NULL ORDER BY id")
        while batch := cursor.fetchmany(_SCAN_BATCH):
            for (value,) in batch:
                number = _as_decimal(value)
                if exponent is not None and (
                    number is None or number != number.quantize(exponent, context=Context(prec=100))
                ):
                    scale_count += 1
                    if len(scale_examples) < EXAMPLES:
                        scale_examples.append(value)
                elif limit is not None and (number is None or abs(number) >= limit):
                    size_count += 1
                    if len(size_examples) < EXAMPLES:
                        size_examples.append(value)
    return (scale_count, scale_examples), (size_count, size_examples)


def _plural(count: int, one: str, many: str) -> str:
    return f"{count:,} {one if count == 1 else many}"


def _change_check(source: str, table_name: str, current: ColumnSpec, spec: ColumnSpec) -> None:
    """Refuse, with the reason and example values, a change that would lose, round or reject stored values.

    `source` is the physical table as it is now (the old name when the table is being renamed)."""
    column = spec.name
    quote = connection.ops.quote_name
    table_sql, column_sql = quote(source), quote(column)
    if current.data_type != spec.data_type and (current.data_type, spec.data_type) not in SAFE_CONVERSIONS:
        count = _misfits_sql(table_sql, column_sql, "1 = 1", [])[0]
        if count:
            raise SchemaChangeRefused(
                f"Cannot change column '{column}' of {table_name} from {current.data_type} to {spec.data_type}: "
                f"it holds {count:,} values that may not convert. Empty the column first, or add a new column.",
                code="type_change_refused",
            )
    if spec.data_type == "decimal" and current.data_type in ("int", "decimal"):
        _decimal_change_check(table_sql, column_sql, table_name, current, spec)
    if spec.data_type == "str" and (current.data_type != "str" or spec.max_length < current.max_length):
        length = "CHAR_LENGTH" if connection.vendor == "mysql" else "LENGTH"
        count, examples = _misfits_sql(
            table_sql, column_sql, f"{length}({column_sql}) > %s", [spec.max_length]
        )
        if count:
            longest = _fetch(f"SELECT MAX({length}({column_sql})) FROM {table_sql}", [])[0][0]
            raise SchemaChangeRefused(
                f"Cannot shorten column '{column}' of {table_name} to {spec.max_length} characters: "
                f"a stored value has {longest} ({_plural(count, 'value is', 'values are')} longer, "
                f"e.g. {_examples(examples)}).",
                code="length_change_refused",
            )
    if spec.is_unique and not current.is_unique:
        value_sql = column_sql
        if connection.vendor == "mysql" and current.data_type == "str":
            # Duplicates as the new column will compare them: exactly, whatever the old collation.
            value_sql = f"CONVERT({column_sql} USING utf8mb4) COLLATE {text_collation()}"
        duplicates = _fetch(
            f"SELECT {value_sql} AS v FROM {table_sql} WHERE {column_sql} IS NOT NULL "
            f"GROUP BY v HAVING COUNT(*) > 1 ORDER BY v LIMIT 1",
            [],
        )
        if duplicates:
            raise SchemaChangeRefused(
                f"Cannot make column '{column}' of {table_name} unique: the value {_quoted(duplicates[0][0])} "
                "appears more than once.",
                code="unique_change_refused",
            )


def _decimal_change_check(
    table_sql: str, column_sql: str, table_name: str, current: ColumnSpec, spec: ColumnSpec
) -> None:
    """int or decimal -> decimal(p,s): every stored value must fit as it is (MySQL would round or refuse)."""
    column, places = spec.name, spec.decimal_places
    whole = spec.decimal_digits - places
    unknown = current.decimal_as_float or current.data_type != "decimal"
    check_places = (
        places if current.data_type == "decimal" and (unknown or places < current.decimal_places) else None
    )
    if current.data_type == "int":
        check_whole = whole if whole < 19 else None  # every BIGINT has at most 19 digits
    else:
        check_whole = whole if unknown or whole < current.decimal_digits - current.decimal_places else None
    if check_places is None and check_whole is None:
        return
    (scale_count, scale_examples), (size_count, size_examples) = _decimal_misfits(
        table_sql, column_sql, current, check_places, check_whole
    )
    target = f"decimal({spec.decimal_digits},{places})"
    if scale_count:
        raise SchemaChangeRefused(
            f"Cannot change column '{column}' of {table_name} to {target}: "
            f"{_plural(scale_count, 'stored value has', 'stored values have')} more than {places} decimal "
            f"places and would be rounded, e.g. {_examples(scale_examples)}.",
            code="decimal_change_refused",
        )
    if size_count:
        raise SchemaChangeRefused(
            f"Cannot change column '{column}' of {table_name} to {target}: "
            f"{_plural(size_count, 'stored value needs', 'stored values need')} more than {whole} digits before "
            f"the decimal point, e.g. {_examples(size_examples)}.",
            code="decimal_change_refused",
        )


def _indexes_rename(editor, *, old_name: str, new_name: str) -> None:
    """Give a renamed table's indexes names of the new table's: on SQLite index names belong to the whole
    database, so indexes still named after the old table would stop a new table of that name being created."""
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, new_name)
    quote = editor.quote_name
    for name, info in constraints.items():
        if (
            info["primary_key"]
            or not (info["index"] or info["unique"])
            or not name.startswith(f"{old_name}_")
        ):
            continue
        renamed = editor._create_index_name(
            new_name, info["columns"], suffix="_uniq" if info["unique"] else ""
        )
        if connection.vendor == "sqlite":
            editor.execute(f"DROP INDEX {quote(name)}")
            editor.execute(
                f"CREATE {'UNIQUE ' if info['unique'] else ''}INDEX {quote(renamed)} ON {quote(new_name)} "
                f"({', '.join(quote(c) for c in info['columns'])})"
            )
        else:
            editor.execute(f"ALTER TABLE {quote(new_name)} RENAME INDEX {quote(name)} TO {quote(renamed)}")


def table_schema_apply(plan: SchemaPlan) -> list[str]:
    """Run the plan's DDL. Never inside a transaction: MySQL commits implicitly on DDL."""
    if not plan.changes:
        return []
    if connection.in_atomic_block:
        raise RuntimeError("Physical table changes must run outside a transaction.")
    identifiers_check(plan.table_name, plan.specs + plan.kept)
    try:
        with connection.schema_editor() as editor:
            if plan.rename_from:
                old_model = physical_model_build(plan.rename_from, [])
                editor.alter_db_table(old_model, plan.rename_from, plan.table_name)
                _indexes_rename(editor, old_name=plan.rename_from, new_name=plan.table_name)
            target = physical_model_build(plan.table_name, plan.specs + plan.kept)
            for change in plan.changes:
                if change.kind == "create_table":
                    editor.create_model(target)
                elif change.kind == "add_engine_column":
                    editor.add_field(target, target._meta.get_field(change.column))
                elif change.kind == "add_column":
                    editor.add_field(target, model_field(target, change.column))
                elif change.kind == "alter_column":
                    old_model = physical_model_build(plan.table_name, [change.old])
                    old_field = model_field(old_model, change.column)
                    editor.alter_field(target, old_field, model_field(target, change.column))
    except DatabaseError as exc:
        logger.warning("DDL on %s refused by the database: %s", plan.table_name, exc)
        raise SchemaChangeRefused(
            f"The database refused the change to table {plan.table_name}: {exc}", code="ddl_failed"
        ) from exc
    logger.info("Physical table %s: %s", plan.table_name, "; ".join(plan.summary()))
    return plan.summary()


def table_schema_sync(
    *, table_name: str, specs: list[ColumnSpec], rename_from: str | None = None
) -> list[str]:
    """Bring one physical table in line with its configuration; return what was done."""
    return table_schema_apply(table_schema_plan(table_name=table_name, specs=specs, rename_from=rename_from))
