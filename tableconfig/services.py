"""Configuration services: every front end (API, admin, staff pages, commands) changes tables here.

Every change goes through `import_table_save`. It applies the change to a fresh copy of the table's
configuration, checks every rule on the result (the models' clean() for what one table, column or alias can
break on its own; the rules between columns here; the physical change in schema.py) and only then changes the
physical table, outside any transaction, and saves the configuration in one. A refused change changes nothing.
The other services are shortcuts to it, so the API, the pages and the admin cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from importhub.errors import ConfigError, NotFound

from .models import Alias, ColumnConfig, DataType, ImportTable
from .naming import normalize_name
from .schema import ColumnSpec, SchemaPlan, table_exists, table_schema_apply, table_schema_plan

# A table's own settings, as every front end edits them.
TABLE_FIELDS = (
    "table_name",
    "display_name",
    "allowed_filename",
    "description",
    "is_active",
    "reject_file_on_error",
    "on_duplicate",
    "decimal_separator",
    "thousands_separator",
    "distributor_match",
    "distributor_prefix_length",
    "expected_in_batch",
    "sheet_name",
)
# A column's rules besides its name and type: what the API, the pages and the admin let users set.
COLUMN_OPTIONS = (
    "is_mandatory",
    "is_unique",
    "max_length",
    "decimal_digits",
    "decimal_places",
    "round_decimals",
    "date_format",
    "role",
)
COLUMN_FIELDS = ("column_name", "data_type", *COLUMN_OPTIONS, "position")
COLUMN_UPDATABLE = ("data_type", *COLUMN_OPTIONS, "position")
# What a change of a column may also do to its aliases: a list of names, {alias id: new name}, a list of ids.
ALIAS_CHANGES = ("aliases_added", "aliases_renamed", "aliases_deleted")


@dataclass
class TableSaved:
    """What `import_table_save` did (or, in a dry run, would do)."""

    table: ImportTable
    columns: list[ColumnConfig]  # the columns added or changed, in the order given
    aliases: list[Alias]  # the aliases added or renamed, in the order given
    schema_changes: list[str]  # what changed in the physical table
    schema_checked: bool  # False when nothing asked for a physical change, so the table was not compared


@dataclass
class _ColumnDraft:
    """One column as the change would leave it."""

    column: ColumnConfig
    aliases: list[Alias]
    saved: ColumnSpec | None = None  # its physical spec before the change; None for a new column
    saved_role: str | None = None
    changed: bool = False  # new, or one of its fields changed
    aliases_changed: list[Alias] = field(default_factory=list)  # added or renamed, not yet saved
    aliases_deleted: list[Alias] = field(default_factory=list)
    new_headers: set[str] = field(default_factory=set)

    @property
    def name(self) -> str:
        return self.column.column_name


def _validation_error_raise(exc: ValidationError) -> None:
    """Turn a model ValidationError into a ConfigError naming the field."""
    if hasattr(exc, "error_dict"):
        field_name, errors = next(iter(exc.error_dict.items()))
        message = errors[0].messages[0] if errors else str(exc)
        code = errors[0].code if errors and errors[0].code else "invalid"
        prefix = "" if field_name == "__all__" else f"{field_name}: "
        raise ConfigError(prefix + message, code=code, details={"field": field_name}) from exc
    raise ConfigError("; ".join(exc.messages), code=exc.code or "invalid") from exc


def _full_clean(instance, *, exclude: Iterable[str] = (), validate_constraints: bool = True) -> None:
    try:
        instance.full_clean(exclude=list(exclude), validate_constraints=validate_constraints)
    except ValidationError as exc:
        _validation_error_raise(exc)


def _unknown_refuse(data: Mapping, allowed: Iterable[str], message: str) -> None:
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise ConfigError(f"{message}: {', '.join(unknown)}.", code="invalid", details={"field": unknown[0]})


def table_headers_check(
    *, columns: Iterable[tuple[str, Iterable[str]]], new: set[tuple[str, str]] | None = None
) -> None:
    """Refuse a configuration where one normalised header would be read twice: for two columns, or twice for
    one column (an alias reading as its own column's name, or as another of its aliases).

    `columns` holds (column name, its alias names) for every column of one table, in order. `new` holds the
    (column name, header) pairs being added (None: all of them); a clash between two older headers is not
    refused here, so a configuration saved before this rule still takes unrelated changes.
    """
    first: dict[str, tuple[str, str, bool, bool]] = {}  # key -> (column, header, is an alias, is new)
    for column_name, aliases in columns:
        for index, header in enumerate([column_name, *aliases]):
            key = normalize_name(header)
            if not key:
                continue
            is_new = new is None or (column_name, header) in new
            if key not in first:
                first[key] = (column_name, header, index > 0, is_new)
                continue
            owner, earlier, earlier_is_alias, earlier_is_new = first[key]
            if not (is_new or earlier_is_new):
                continue
            if owner != column_name:
                message = f"The header '{header}' (read as '{key}') would belong to both '{owner}' and '{column_name}'."
            elif earlier_is_alias:
                message = (
                    f"The alias '{header}' (read as '{key}') repeats the alias '{earlier}' of '{owner}'."
                )
            else:
                message = f"The alias '{header}' (read as '{key}') is the name of its own column '{owner}'."
            raise ConfigError(message, code="header_clash", details={"field": "alias_name"})


def _names_check(table: ImportTable, drafts: list[_ColumnDraft]) -> None:
    seen: dict[str, _ColumnDraft] = {}
    for draft in drafts:
        earlier = seen.setdefault(draft.name, draft)
        if earlier is draft:
            continue
        if earlier.saved is not None:
            raise ConfigError(
                f"Column '{draft.name}' already exists in {table.table_name}.",
                code="duplicate_column",
                details={"field": "column_name"},
            )
        raise ConfigError(
            f"Column names repeat: {draft.name}.", code="duplicate_column", details={"field": "column_name"}
        )


def _roles_check(drafts: list[_ColumnDraft]) -> None:
    """One column per role: a column keeping its role holds it against one taking it now."""
    holders: dict[str, _ColumnDraft] = {}
    for draft in sorted(drafts, key=lambda d: d.column.role != d.saved_role):
        role = draft.column.role
        if not role:
            continue
        holder = holders.setdefault(role, draft)
        if holder is draft:
            continue
        if draft.column.role != draft.saved_role or holder.column.role != holder.saved_role:
            raise ConfigError(
                f"role: Column '{holder.name}' already has the role '{role}'.",
                code="role_taken",
                details={"field": "role"},
            )


def _column_change(draft: _ColumnDraft, data: Mapping) -> None:
    """Apply one column's changes (fields and aliases) to its draft."""
    data = dict(data)
    added = data.pop("aliases_added", ())
    renamed = data.pop("aliases_renamed", None) or {}
    deleted = set(data.pop("aliases_deleted", ()))
    _unknown_refuse(data, COLUMN_UPDATABLE, "These fields cannot be changed here")
    column = draft.column
    for key, value in data.items():
        if getattr(column, key) != value:
            setattr(column, key, value)
            draft.changed = True
    by_pk = {a.pk: a for a in draft.aliases}
    missing = sorted((deleted | set(renamed)) - set(by_pk))
    if missing:
        raise NotFound(f"Alias {missing[0]} not found.")
    draft.aliases_deleted = [a for a in draft.aliases if a.pk in deleted]
    draft.aliases = [a for a in draft.aliases if a.pk not in deleted]
    for pk, name in renamed.items():
        alias = by_pk[pk]
        name = (name or "").strip()
        if pk not in deleted and name != alias.alias_name:
            alias.alias_name = name
            draft.aliases_changed.append(alias)
            draft.new_headers.add(name)
    for name in added:
        alias = Alias(column=column, alias_name=(name or "").strip())
        draft.aliases.append(alias)
        draft.aliases_changed.append(alias)
        draft.new_headers.add(alias.alias_name)


def _column_add(table: ImportTable, data: Mapping, position: int) -> _ColumnDraft:
    data = dict(data)
    aliases = data.pop("aliases", ())
    _unknown_refuse(data, COLUMN_FIELDS, "Unknown column option")
    column = ColumnConfig(table=table, **data)
    if not column.position:
        column.position = position
    draft = _ColumnDraft(column=column, aliases=[], changed=True)
    draft.new_headers.add(column.column_name)
    _column_change(draft, {"aliases_added": aliases})
    return draft


def _table_check(
    table: ImportTable, old_name: str | None, drafts: list[_ColumnDraft], *, creating: bool
) -> SchemaPlan | None:
    """Every rule on the table as the change would leave it; the physical plan when the table may change."""
    _full_clean(table)
    renamed = old_name is not None and table.table_name != old_name
    if renamed and table_exists(table.table_name):
        raise ConfigError(
            f"Cannot rename table {old_name} to {table.table_name}: a table named '{table.table_name}' already "
            "exists in the database.",
            code="table_exists",
            details={"field": "table_name"},
        )
    _names_check(table, drafts)
    for draft in drafts:
        if draft.changed:
            _full_clean(draft.column, exclude=["table"] if creating else [], validate_constraints=False)
        for alias in draft.aliases_changed:
            _full_clean(alias, exclude=["column"])
    _roles_check(drafts)
    table_headers_check(
        columns=[(d.name, [a.alias_name for a in d.aliases]) for d in drafts],
        new=None if creating else {(d.name, header) for d in drafts for header in d.new_headers},
    )
    specs = [ColumnSpec.from_config(d.column) for d in drafts]
    if not (creating or renamed or any(d.saved != spec for d, spec in zip(drafts, specs, strict=True))):
        return None
    plan = table_schema_plan(
        table_name=table.table_name, specs=specs, rename_from=old_name if renamed else None
    )
    if creating and plan.exists:
        raise ConfigError(
            f"A table named '{table.table_name}' already exists in the database.",
            code="table_exists",
            details={"field": "table_name"},
        )
    return plan


def import_table_save(
    *,
    table: ImportTable,
    changes: Mapping[str, object] | None = None,
    columns_added: Iterable[Mapping] = (),
    columns_changed: Mapping[int, Mapping] | None = None,
    columns_deleted: Iterable[int] = (),
    dry_run: bool = False,
) -> TableSaved:
    """Create or change a table with its columns and their aliases in one go, or refuse the whole change.

    `table` is a new (unsaved) instance, which is saved, or a saved one, whose stored configuration is
    changed. `changes` sets its own fields; `columns_added` holds new columns (fields and `aliases`, a list
    of names); `columns_changed` maps a column id to its changes (fields, and ALIAS_CHANGES);
    `columns_deleted` lists the ids of columns to remove from the configuration (their physical columns and
    data stay). A column without a position goes last. A dry run checks everything and changes nothing.
    """
    changes = dict(changes or {})
    _unknown_refuse(changes, TABLE_FIELDS, "Unknown table setting")
    creating = table.pk is None
    if creating:
        target, old_name, saved_columns = table, None, []
    else:
        target = ImportTable.objects.filter(pk=table.pk).first()
        if target is None:
            raise NotFound(f"Table {table.pk} not found.")
        old_name = target.table_name
        saved_columns = list(target.columns.prefetch_related("aliases"))
    for key, value in changes.items():
        setattr(target, key, value)
    if creating and not target.display_name:
        target.display_name = target.table_name.replace("_", " ").title()

    drafts = [
        _ColumnDraft(
            column=c, aliases=list(c.aliases.all()), saved=ColumnSpec.from_config(c), saved_role=c.role
        )
        for c in saved_columns
    ]
    by_pk = {d.column.pk: d for d in drafts}
    columns_deleted = list(columns_deleted)
    missing = sorted((set(columns_deleted) | set(columns_changed or {})) - set(by_pk))
    if missing:
        raise NotFound(f"Column {missing[0]} not found in {old_name}.")
    deleted = [by_pk[pk] for pk in columns_deleted]
    drafts = [d for d in drafts if d.column.pk not in columns_deleted]
    touched = []
    for pk, data in (columns_changed or {}).items():
        _column_change(by_pk[pk], data)
        touched.append(by_pk[pk])
    position = max((d.column.position for d in drafts), default=0)
    for data in columns_added:
        position += 1
        draft = _column_add(target, data, position)
        position = max(position, draft.column.position)
        drafts.append(draft)
        touched.append(draft)

    plan = _table_check(target, old_name, drafts, creating=creating)
    aliases = [a for d in touched for a in d.aliases_changed]
    if dry_run:
        return TableSaved(
            target, [d.column for d in touched], aliases, plan.summary() if plan else [], plan is not None
        )
    done = table_schema_apply(plan) if plan else []
    try:
        with transaction.atomic():
            if creating or changes:
                target.save()
            ColumnConfig.objects.filter(pk__in=[d.column.pk for d in deleted]).delete()
            for draft in drafts:
                if draft.changed:
                    draft.column.table = target
                    draft.column.save()
                Alias.objects.filter(pk__in=[a.pk for a in draft.aliases_deleted]).delete()
                for alias in draft.aliases_changed:
                    alias.column = draft.column
                    alias.save()
    except IntegrityError as exc:
        # Only a concurrent change of the same table gets here: the checks above passed a moment ago.
        raise ConfigError(f"Table {target.table_name} changed meanwhile: {exc}", code="conflict") from exc
    return TableSaved(target, [d.column for d in touched], aliases, done, plan is not None)


def import_table_create(*, table_name: str, columns: Iterable[Mapping] = (), **settings) -> ImportTable:
    """Create a table configuration with its columns (and their `aliases`), then the physical table."""
    saved = import_table_save(
        table=ImportTable(), changes={"table_name": table_name, **settings}, columns_added=columns
    )
    return saved.table


def import_table_update(*, table: ImportTable, **changes) -> tuple[ImportTable, list[str]]:
    """Change a table's own settings; a new table_name renames the physical table. Returns what changed physically."""
    saved = import_table_save(table=table, changes=changes)
    return saved.table, saved.schema_changes


def column_create(
    *, table: ImportTable, column_name: str, data_type: str = DataType.STR, **options
) -> ColumnConfig:
    """Add a column (and its `aliases`) to a table's configuration and to its physical table."""
    column = {"column_name": column_name, "data_type": data_type, **options}
    return import_table_save(table=table, columns_added=[column]).columns[0]


def column_update(*, column: ColumnConfig, **changes) -> tuple[ColumnConfig, list[str]]:
    """Change a column's type or rules (and its aliases); alters the physical column when needed.
    Returns the column and what changed physically."""
    saved = import_table_save(table=column.table, columns_changed={column.pk: changes})
    return saved.columns[0], saved.schema_changes


def column_delete(*, column: ColumnConfig) -> None:
    """Remove a column from the configuration; its physical column keeps its data."""
    import_table_save(table=column.table, columns_deleted=[column.pk])


def alias_create(*, column: ColumnConfig, alias_name: str) -> Alias:
    """Add a header alias to a column; a header already read for a column of the table is refused."""
    changes = {column.pk: {"aliases_added": [alias_name]}}
    return import_table_save(table=column.table, columns_changed=changes).aliases[0]


def alias_update(*, alias: Alias, alias_name: str) -> Alias:
    """Rename a header alias, with the checks of a new one."""
    changes = {alias.column_id: {"aliases_renamed": {alias.pk: alias_name}}}
    saved = import_table_save(table=alias.column.table, columns_changed=changes)
    return saved.aliases[0] if saved.aliases else alias


def alias_delete(*, alias: Alias) -> None:
    """Remove a header alias."""
    changes = {alias.column_id: {"aliases_deleted": [alias.pk]}}
    import_table_save(table=alias.column.table, columns_changed=changes)


def table_specs(table: ImportTable) -> list[ColumnSpec]:
    """The physical column specs of a saved table's configuration."""
    return [ColumnSpec.from_config(column) for column in table.columns.all()]


def table_schema_sync_config(*, table: ImportTable) -> list[str]:
    """Bring the physical table of a saved configuration in line; return what was done."""
    return table_schema_apply(table_schema_check(table=table))


def table_schema_check(*, table: ImportTable) -> SchemaPlan:
    """What `table_schema_sync_config` would do, without doing it."""
    return table_schema_plan(table_name=table.table_name, specs=table_specs(table))
