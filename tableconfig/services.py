"""Configuration services: every front end (API, admin, staff pages, commands) changes tables here."""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from importhub.errors import ConfigError

from .models import Alias, ColumnConfig, DataType, ImportTable
from .naming import normalize_name
from .schema import ColumnSpec, SchemaPlan, table_schema_apply, table_schema_plan

# A table's own settings, as every front end edits them.
TABLE_FIELDS = (
    "table_name",
    "display_name",
    "allowed_filename",
    "description",
    "is_active",
    "reject_file_on_error",
)
# A column's rules besides its name and type: what the API, the pages and the admin let users set.
COLUMN_OPTIONS = (
    "is_mandatory",
    "is_unique",
    "max_length",
    "decimal_digits",
    "decimal_places",
    "date_format",
    "role",
)
COLUMN_FIELDS = ("column_name", "data_type", *COLUMN_OPTIONS, "position")
COLUMN_UPDATABLE = ("data_type", *COLUMN_OPTIONS, "position")


def _validation_error_raise(exc: ValidationError) -> None:
    """Turn a model ValidationError into a ConfigError naming the field."""
    if hasattr(exc, "error_dict"):
        field, errors = next(iter(exc.error_dict.items()))
        message = errors[0].messages[0] if errors else str(exc)
        code = errors[0].code if errors and errors[0].code else "invalid"
        prefix = "" if field == "__all__" else f"{field}: "
        raise ConfigError(prefix + message, code=code, details={"field": field}) from exc
    raise ConfigError("; ".join(exc.messages), code=exc.code or "invalid") from exc


def _full_clean(instance, *, exclude: Iterable[str] = ()) -> None:
    try:
        instance.full_clean(exclude=list(exclude))
    except ValidationError as exc:
        _validation_error_raise(exc)


def table_headers_check(*, columns: Iterable[tuple[str, Iterable[str]]]) -> None:
    """Refuse a configuration where one normalised header would belong to two columns.

    `columns` holds (column name, its alias names) for every column of one table.
    """
    owner: dict[str, str] = {}
    for column_name, aliases in columns:
        for header in [column_name, *aliases]:
            key = normalize_name(header)
            if not key:
                continue
            if owner.setdefault(key, column_name) != column_name:
                raise ConfigError(
                    f"The header '{header}' (read as '{key}') would belong to both '{owner[key]}' "
                    f"and '{column_name}'.",
                    code="header_clash",
                    details={"field": "alias_name"},
                )


def table_specs(table: ImportTable, *, replace: ColumnConfig | None = None, add: ColumnConfig | None = None):
    """The physical column specs of `table`, with one column replaced or added (not yet saved)."""
    specs = []
    for column in table.columns.all():
        specs.append(ColumnSpec.from_config(replace if replace and replace.pk == column.pk else column))
    if add is not None:
        specs.append(ColumnSpec.from_config(add))
    return specs


def _table_columns_with_aliases(table: ImportTable) -> list[tuple[str, list[str]]]:
    return [(c.column_name, [a.alias_name for a in c.aliases.all()]) for c in table.columns.all()]


def import_table_create(
    *,
    table_name: str,
    display_name: str = "",
    allowed_filename: str = "",
    description: str = "",
    is_active: bool = True,
    reject_file_on_error: bool = False,
    columns: list[dict],
) -> ImportTable:
    """Create a table configuration with its columns (and aliases), then the physical table."""
    table = ImportTable(
        table_name=table_name,
        display_name=display_name or table_name.replace("_", " ").title(),
        allowed_filename=allowed_filename,
        description=description,
        is_active=is_active,
        reject_file_on_error=reject_file_on_error,
    )
    _full_clean(table)
    column_objects = []
    for position, data in enumerate(columns, start=1):
        data = dict(data)
        aliases = data.pop("aliases", [])
        column = ColumnConfig(table=table, position=data.pop("position", position), **data)
        _full_clean(column, exclude=["table"])
        column_objects.append((column, aliases))
    # ColumnConfig.clean() checks roles against saved columns only, and these are not saved yet.
    roles = [c.role for c, _ in column_objects if c.role]
    repeated = next((r for r in roles if roles.count(r) > 1), None)
    if repeated:
        raise ConfigError(
            f"role: more than one column has the role '{repeated}'.",
            code="role_taken",
            details={"field": "role"},
        )
    table_headers_check(columns=[(c.column_name, a) for c, a in column_objects])
    plan = table_schema_plan(
        table_name=table_name, specs=[ColumnSpec.from_config(c) for c, _ in column_objects]
    )
    if plan.exists:
        raise ConfigError(
            f"A table named '{table_name}' already exists in the database.",
            code="table_exists",
            details={"field": "table_name"},
        )
    table_schema_apply(plan)
    with transaction.atomic():
        table.save()
        for column, aliases in column_objects:
            column.table = table
            column.save()
            Alias.objects.bulk_create([Alias(column=column, alias_name=a) for a in aliases])
    return table


def import_table_update(*, table: ImportTable, **changes) -> ImportTable:
    """Change a table's own fields (names, file names, flags); a new table_name renames the table."""
    old_name = ImportTable.objects.filter(pk=table.pk).values_list("table_name", flat=True).first()
    for key, value in changes.items():
        setattr(table, key, value)
    _full_clean(table)
    if old_name and old_name != table.table_name:
        table_schema_apply(
            table_schema_plan(table_name=table.table_name, specs=table_specs(table), rename_from=old_name)
        )
    table.save()
    return table


def column_create(
    *, table: ImportTable, column_name: str, data_type: str = DataType.STR, **options
) -> ColumnConfig:
    """Add a column to a table's configuration and to its physical table."""
    unknown = set(options) - set(COLUMN_FIELDS)
    if unknown:
        raise ConfigError(f"Unknown column option: {', '.join(sorted(unknown))}.", code="invalid")
    if "position" not in options:
        options["position"] = (table.columns.count() or 0) + 1
    column = ColumnConfig(table=table, column_name=column_name, data_type=data_type, **options)
    _full_clean(column)
    table_headers_check(columns=[*_table_columns_with_aliases(table), (column.column_name, [])])
    table_schema_apply(table_schema_plan(table_name=table.table_name, specs=table_specs(table, add=column)))
    try:
        column.save()
    except IntegrityError as exc:
        raise ConfigError(
            f"Column '{column_name}' already exists in {table.table_name}.", code="duplicate_column"
        ) from exc
    return column


def column_update(*, column: ColumnConfig, **changes) -> tuple[ColumnConfig, list[str]]:
    """Change a column's type or rules; alters the physical column when needed. Returns what changed physically."""
    unknown = set(changes) - set(COLUMN_UPDATABLE)
    if unknown:
        raise ConfigError(
            f"These fields cannot be changed here: {', '.join(sorted(unknown))}.",
            code="invalid",
            details={"field": sorted(unknown)[0]},
        )
    for key, value in changes.items():
        setattr(column, key, value)
    _full_clean(column)
    plan = table_schema_plan(
        table_name=column.table.table_name, specs=table_specs(column.table, replace=column)
    )
    done = table_schema_apply(plan)
    column.save()
    return column, done


def alias_create(*, column: ColumnConfig, alias_name: str) -> Alias:
    """Add a header alias to a column; a header already taken in the table is refused."""
    alias = Alias(column=column, alias_name=(alias_name or "").strip())
    _full_clean(alias)
    existing = _table_columns_with_aliases(column.table)
    existing = [
        (name, [*aliases, alias.alias_name] if name == column.column_name else aliases)
        for name, aliases in existing
    ]
    table_headers_check(columns=existing)
    alias.save()
    return alias


def alias_delete(*, alias: Alias) -> None:
    alias.delete()


def table_schema_sync_config(*, table: ImportTable) -> list[str]:
    """Bring the physical table of a saved configuration in line; return what was done."""
    return table_schema_apply(table_schema_check(table=table))


def table_schema_check(*, table: ImportTable) -> SchemaPlan:
    """What `table_schema_sync_config` would do, without doing it."""
    return table_schema_plan(table_name=table.table_name, specs=table_specs(table))
