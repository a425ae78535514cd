"""Physical tables: build a model at run time from the configuration and let Django's schema editor
create or alter the real table, on SQLite and MySQL alike. The only module that runs DDL."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from django.apps.registry import Apps
from django.db import DatabaseError, connection, models
from django.db.models.functions import Length

from importhub.errors import SchemaChangeRefused

from .naming import ENGINE_COLUMNS, identifier_problem

logger = logging.getLogger(__name__)

# Conversions that keep every existing value, so they are allowed on a table that holds rows.
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


@dataclass(frozen=True)
class ColumnSpec:
    """What one configured column needs physically."""

    name: str
    data_type: str
    max_length: int = 255
    decimal_digits: int = 18
    decimal_places: int = 4
    is_unique: bool = False

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


def _field_build(spec: ColumnSpec) -> models.Field:
    common = {"null": True, "blank": True, "unique": spec.is_unique, "db_column": spec.name}
    if spec.data_type == "str":
        return models.CharField(max_length=spec.max_length, **common)
    if spec.data_type == "int":
        return models.BigIntegerField(**common)
    if spec.data_type == "decimal":
        return models.DecimalField(
            max_digits=spec.decimal_digits, decimal_places=spec.decimal_places, **common
        )
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


def _spec_from_description(info, unique_columns: set[str]) -> ColumnSpec | None:
    raw = getattr(info, "data_type", None) or info.type_code
    raw = str(raw).lower().split("(")[0].strip()
    if raw in ("varchar", "char", "text"):
        kind = "str"
    elif raw in ("bigint", "integer", "int", "smallint", "mediumint"):
        kind = "int"
    elif raw in ("decimal", "numeric"):
        kind = "decimal"
    elif raw == "date":
        kind = "date"
    elif raw in ("datetime", "timestamp"):
        kind = "datetime"
    elif raw in ("bool", "boolean", "tinyint"):
        kind = "bool"
    else:
        return None
    return ColumnSpec(
        name=info.name,
        data_type=kind,
        max_length=int(info.display_size or info.internal_size or 255) if kind == "str" else 255,
        decimal_digits=int(info.precision or 18) if kind == "decimal" else 18,
        decimal_places=int(info.scale if info.scale is not None else 4) if kind == "decimal" else 4,
        is_unique=info.name in unique_columns,
    )


def table_exists(table_name: str) -> bool:
    with connection.cursor() as cursor:
        return table_name in connection.introspection.table_names(cursor)


def table_schema_inspect(table_name: str) -> dict[str, ColumnSpec | None] | None:
    """The physical columns of `table_name` as specs (None for a column of a type we do not manage)."""
    with connection.cursor() as cursor:
        if table_name not in connection.introspection.table_names(cursor):
            return None
        description = connection.introspection.get_table_description(cursor, table_name)
        constraints = connection.introspection.get_constraints(cursor, table_name)
    unique_columns = {
        c["columns"][0]
        for c in constraints.values()
        if c["unique"] and not c["primary_key"] and len(c["columns"]) == 1
    }
    return {info.name: _spec_from_description(info, unique_columns) for info in description}


def _same(a: ColumnSpec, b: ColumnSpec) -> bool:
    if a.data_type != b.data_type or a.is_unique != b.is_unique:
        return False
    if a.data_type == "str":
        return a.max_length == b.max_length
    if a.data_type == "decimal" and connection.vendor != "sqlite":
        # SQLite keeps no precision: any declared decimal matches there.
        return (a.decimal_digits, a.decimal_places) == (b.decimal_digits, b.decimal_places)
    return True


def table_schema_plan(
    *, table_name: str, specs: list[ColumnSpec], rename_from: str | None = None
) -> SchemaPlan:
    """Compare the configuration with the real table and list the DDL needed; refuse unsafe changes."""
    identifiers_check(table_name, specs)
    names = [s.name for s in specs]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise SchemaChangeRefused(f"Column names repeat: {', '.join(duplicates)}.", code="duplicate_column")
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
    model = physical_model_build(
        source, [s for s in (actual[n] for n in actual if n not in ENGINE_COLUMNS) if s]
    )
    for engine_column in ("import_job_id", "imported_at"):
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
            raise SchemaChangeRefused(
                f"Column '{spec.name}' of table {table_name} has a type importhub does not manage; "
                "change it by hand or choose another column name.",
                code="unmanaged_column",
            )
        if _same(current, spec):
            continue
        _change_check(model, table_name, current, spec)
        plan.changes.append(
            SchemaChange(
                "alter_column",
                spec.name,
                f"changed column {spec.name} from {current.describe()} to {spec.describe()}",
                old=current,
                new=spec,
            )
        )
    plan.extra_columns = sorted(n for n in actual if n not in ENGINE_COLUMNS and n not in names)
    plan.kept = [actual[n] for n in plan.extra_columns if actual[n] is not None]
    order = {"rename_table": 0, "add_engine_column": 1, "add_column": 2, "alter_column": 3}
    plan.changes.sort(key=lambda c: order.get(c.kind, 0))
    return plan


def _change_check(model, table_name: str, current: ColumnSpec, spec: ColumnSpec) -> None:
    """Refuse, with the reason, a change that would lose or reject existing values."""
    column = spec.name
    values = model.objects.filter(**{f"c_{column}__isnull": False})
    if current.data_type != spec.data_type:
        if (current.data_type, spec.data_type) in SAFE_CONVERSIONS or not values.exists():
            pass
        else:
            raise SchemaChangeRefused(
                f"Cannot change column '{column}' of {table_name} from {current.data_type} to {spec.data_type}: "
                f"it holds {values.count():,} values that may not convert. Empty the column first, "
                "or add a new column.",
                code="type_change_refused",
            )
    if spec.data_type == "str" and current.data_type == "str" and spec.max_length < current.max_length:
        longest = values.aggregate(m=models.Max(Length(f"c_{column}")))["m"] or 0
        if longest > spec.max_length:
            raise SchemaChangeRefused(
                f"Cannot shorten column '{column}' of {table_name} to {spec.max_length} characters: "
                f"a stored value has {longest}.",
                code="length_change_refused",
            )
    if spec.is_unique and not current.is_unique:
        duplicate = (
            values.values(f"c_{column}")
            .annotate(n=models.Count("id"))
            .filter(n__gt=1)
            .order_by()
            .values_list(f"c_{column}", flat=True)[:1]
        )
        duplicate = next(iter(duplicate), None)
        if duplicate is not None:
            raise SchemaChangeRefused(
                f"Cannot make column '{column}' of {table_name} unique: the value '{duplicate}' appears "
                "more than once.",
                code="unique_change_refused",
            )


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
