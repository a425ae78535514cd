"""Admin for import tables, their columns and aliases; the physical table follows each save after commit.

The admin saves inside `transaction.atomic`, and DDL must never run there (MySQL commits implicitly, SQLite's
schema editor refuses). So the forms check the change read-only (`table_schema_plan`) and the DDL runs in a
`transaction.on_commit` callback that reports what it did as a message.
"""

from __future__ import annotations

import logging
from functools import partial

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import DatabaseError, transaction
from django.db.models import Count, Max

from importhub.errors import ConfigError, ImportHubError

from .models import Alias, ColumnConfig, ImportTable
from .naming import identifier_problem
from .schema import ColumnSpec, table_exists, table_schema_plan, table_schema_sync
from .services import TABLE_FIELDS, table_headers_check, table_schema_sync_config, table_specs

logger = logging.getLogger(__name__)

COLUMN_FORM_FIELDS = (
    "column_name",
    "data_type",
    "max_length",
    "decimal_digits",
    "decimal_places",
    "is_mandatory",
    "is_unique",
    "date_format",
    "role",
    "position",
)


def _form_error(exc: ConfigError) -> ValidationError:
    return ValidationError(exc.message, code=exc.code)


def physical_table_sync_report(request, *, table_id: int, rename_from: str | None = None) -> None:
    """Bring one table's physical table in line and say what changed; a refusal becomes an error message."""
    table = ImportTable.objects.filter(pk=table_id).first()
    if table is None:
        return
    name = table.table_name
    try:
        if rename_from and rename_from != name:
            if table_exists(name) and table_exists(rename_from):
                raise ConfigError(
                    f"Cannot rename table {rename_from} to {name}: a table named {name} already exists.",
                    code="table_exists",
                )
            done = table_schema_sync(table_name=name, specs=table_specs(table), rename_from=rename_from)
        else:
            done = table_schema_sync_config(table=table)
    except (ImportHubError, DatabaseError) as exc:
        # The configuration is already committed; only the DDL failed (e.g. rows arrived since the form check).
        logger.warning("Physical table %s not synced: %s", name, exc)
        messages.error(
            request,
            f"Physical table {name} was not changed: {exc} The configuration is saved; correct it, "
            "or use the 'Sync physical tables' action once the data allows the change.",
        )
        return
    if done:
        messages.success(request, f"Physical table {name}: {'; '.join(done)}")
    else:
        messages.info(request, f"Physical table {name}: in line")


def _on_commit_sync(request, *, table_id: int, rename_from: str | None = None) -> None:
    transaction.on_commit(
        partial(physical_table_sync_report, request, table_id=table_id, rename_from=rename_from)
    )


def _kept_columns_warn(request, table_name: str, column_names: list[str]) -> None:
    if column_names:
        columns = ", ".join(f"{table_name}.{name}" for name in column_names)
        messages.warning(
            request,
            f"No longer configured, but kept in the database with their data: {columns}. "
            "Drop them by hand if they are not needed.",
        )


def _kept_tables_warn(request, table_names: list[str]) -> None:
    if table_names:
        messages.warning(
            request,
            f"Physical table(s) kept in the database with their rows: {', '.join(table_names)}. "
            "Drop them by hand if they are not needed.",
        )


# --- ImportTable with its columns inline ---------------------------------------------------------


class ImportTableAdminForm(forms.ModelForm):
    class Meta:
        model = ImportTable
        fields = TABLE_FIELDS
        help_texts = {
            "table_name": "The physical table in the database: lowercase letters, digits and underscores. "
            "Changing it renames the physical table.",
        }

    def clean_table_name(self):
        name = self.cleaned_data["table_name"]
        old_name = self.initial.get("table_name") if self.instance.pk else None
        if name != old_name and table_exists(name):
            raise ValidationError(
                f"A table named '{name}' already exists in the database.", code="table_exists"
            )
        return name


class ColumnInlineForm(forms.ModelForm):
    class Meta:
        model = ColumnConfig
        fields = COLUMN_FORM_FIELDS

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            # A rename would add a new physical column and orphan the old one's data: add a column instead.
            self.fields["column_name"].disabled = True


class ColumnInlineFormSet(forms.BaseInlineFormSet):
    """Checks the table as it would be saved: one role per column, header clashes, then the physical change."""

    def clean(self):
        super().clean()
        if any(self.errors):
            return
        columns = [
            form.instance
            for form in self.forms
            if form.cleaned_data and not (self.can_delete and form.cleaned_data.get("DELETE"))
        ]
        roles: dict[str, str] = {}
        for column in columns:
            if column.role and roles.setdefault(column.role, column.column_name) != column.column_name:
                raise ValidationError(
                    f"Only one column can have the role '{column.role}': "
                    f"'{roles[column.role]}' and '{column.column_name}' both have it.",
                    code="role_taken",
                )
        try:
            table_headers_check(
                columns=[
                    (c.column_name, [a.alias_name for a in c.aliases.all()] if c.pk else []) for c in columns
                ]
            )
        except ConfigError as exc:
            raise _form_error(exc) from exc

        table = self.instance
        if identifier_problem(table.table_name, kind="table"):
            return  # the table's own form reports the name
        old_name = None
        if table.pk:
            old_name = ImportTable.objects.filter(pk=table.pk).values_list("table_name", flat=True).first()
        if table.table_name != old_name and table_exists(table.table_name):
            return  # the table's own form reports the existing table
        try:
            table_schema_plan(
                table_name=table.table_name,
                specs=[ColumnSpec.from_config(c) for c in columns],
                rename_from=old_name if old_name != table.table_name else None,
            )
        except ConfigError as exc:
            raise _form_error(exc) from exc

    def save_new(self, form, commit=True):
        if not form.instance.position:
            last = self.instance.columns.aggregate(last=Max("position"))["last"] or 0
            form.instance.position = last + 1
        return super().save_new(form, commit=commit)


class ColumnInline(admin.TabularInline):
    model = ColumnConfig
    form = ColumnInlineForm
    formset = ColumnInlineFormSet
    fields = (*COLUMN_FORM_FIELDS, "alias_names")
    readonly_fields = ("alias_names",)
    extra = 1
    show_change_link = True

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("aliases")

    @admin.display(description="aliases (edit via the change link)")
    def alias_names(self, obj: ColumnConfig) -> str:
        if not obj.pk:
            return ""
        return ", ".join(a.alias_name for a in obj.aliases.all()) or "-"


@admin.register(ImportTable)
class ImportTableAdmin(admin.ModelAdmin):
    form = ImportTableAdminForm
    inlines = [ColumnInline]
    list_display = ("table_name", "display_name", "allowed_filename", "is_active", "column_count")
    list_filter = ("is_active", "reject_file_on_error")
    search_fields = ("table_name", "display_name", "allowed_filename")
    readonly_fields = ("created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("table_name", "display_name", "allowed_filename", "description")}),
        ("Import rules", {"fields": ("is_active", "reject_file_on_error")}),
        ("History", {"fields": ("created_at", "updated_at"), "classes": ["collapse"]}),
    )
    actions = ["physical_tables_sync"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(column_total=Count("columns"))

    @admin.display(description="columns", ordering="column_total")
    def column_count(self, obj: ImportTable) -> int:
        return obj.column_total

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        table = form.instance
        old_name = form.initial.get("table_name") if change else None
        _on_commit_sync(
            request, table_id=table.pk, rename_from=old_name if old_name != table.table_name else None
        )
        deleted = [c.column_name for formset in formsets for c in getattr(formset, "deleted_objects", ())]
        _kept_columns_warn(request, table.table_name, deleted)

    def delete_model(self, request, obj):
        name = obj.table_name
        super().delete_model(request, obj)
        _kept_tables_warn(request, [name])

    def delete_queryset(self, request, queryset):
        names = list(queryset.values_list("table_name", flat=True))
        super().delete_queryset(request, queryset)
        _kept_tables_warn(request, names)

    @admin.action(description="Sync physical tables", permissions=["change"])
    def physical_tables_sync(self, request, queryset):
        # Admin actions are not wrapped in atomic, so on_commit runs at once; it still defers the DDL
        # should anything (ATOMIC_REQUESTS, a wrapping caller) open a transaction around the action.
        for table_id in queryset.values_list("pk", flat=True):
            _on_commit_sync(request, table_id=table_id)


# --- ColumnConfig with its aliases inline ----------------------------------------------------------


class ColumnAdminForm(forms.ModelForm):
    class Meta:
        model = ColumnConfig
        fields = ("table", *COLUMN_FORM_FIELDS)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "table" in self.fields:
            self.fields["table"].queryset = ImportTable.objects.order_by("table_name")

    def _post_clean(self):
        super()._post_clean()
        column = self.instance
        if self.errors or not column.table_id:
            return
        table = column.table
        specs = table_specs(table, replace=column) if column.pk else table_specs(table, add=column)
        try:
            table_schema_plan(table_name=table.table_name, specs=specs)
        except ConfigError as exc:
            self.add_error(None, _form_error(exc))


class AliasInlineFormSet(forms.BaseInlineFormSet):
    """A column's own name and aliases may not read as a header another column of the table already has."""

    def clean(self):
        super().clean()
        if any(self.errors):
            return
        column = self.instance
        if not column.table_id or not column.column_name:
            return
        names = [
            form.cleaned_data["alias_name"]
            for form in self.forms
            if form.cleaned_data and not (self.can_delete and form.cleaned_data.get("DELETE"))
        ]
        others = column.table.columns.exclude(pk=column.pk).prefetch_related("aliases")
        try:
            table_headers_check(
                columns=[
                    *((c.column_name, [a.alias_name for a in c.aliases.all()]) for c in others),
                    (column.column_name, names),
                ]
            )
        except ConfigError as exc:
            raise _form_error(exc) from exc


class AliasInline(admin.TabularInline):
    model = Alias
    formset = AliasInlineFormSet
    fields = ("alias_name",)
    extra = 1


@admin.register(ColumnConfig)
class ColumnConfigAdmin(admin.ModelAdmin):
    form = ColumnAdminForm
    inlines = [AliasInline]
    list_display = (
        "column_name",
        "table",
        "data_type",
        "is_mandatory",
        "is_unique",
        "role",
        "position",
        "alias_names",
    )
    list_filter = ("data_type", "is_mandatory", "is_unique", "role", "table")
    search_fields = ("column_name", "table__table_name", "aliases__alias_name")
    list_select_related = ("table",)
    fieldsets = (
        (None, {"fields": ("table", "column_name", "data_type", "position", "role")}),
        (
            "Rules",
            {"fields": ("is_mandatory", "is_unique", "max_length", "decimal_digits", "decimal_places")},
        ),
        ("Dates", {"fields": ("date_format",)}),
    )

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("aliases")

    def get_readonly_fields(self, request, obj=None):
        # Moving or renaming a column would orphan its physical data: add a new column instead.
        return ("table", "column_name") if obj else ()

    @admin.display(description="aliases")
    def alias_names(self, obj: ColumnConfig) -> str:
        return ", ".join(a.alias_name for a in obj.aliases.all())

    def save_model(self, request, obj, form, change):
        if not change and not obj.position:
            last = obj.table.columns.aggregate(last=Max("position"))["last"] or 0
            obj.position = last + 1
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        _on_commit_sync(request, table_id=form.instance.table_id)

    def delete_model(self, request, obj):
        table_name, column_name = obj.table.table_name, obj.column_name
        super().delete_model(request, obj)
        _kept_columns_warn(request, table_name, [column_name])

    def delete_queryset(self, request, queryset):
        doomed = list(queryset.values_list("table__table_name", "column_name"))
        super().delete_queryset(request, queryset)
        for table_name in sorted({t for t, _ in doomed}):
            _kept_columns_warn(request, table_name, [c for t, c in doomed if t == table_name])


# --- Alias on its own ------------------------------------------------------------------------------


class AliasAdminForm(forms.ModelForm):
    class Meta:
        model = Alias
        fields = ("column", "alias_name")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["column"].queryset = ColumnConfig.objects.select_related("table").order_by(
            "table__table_name", "position", "id"
        )

    def _post_clean(self):
        super()._post_clean()
        alias = self.instance
        if self.errors or not alias.column_id:
            return
        columns = []
        for column in alias.column.table.columns.prefetch_related("aliases"):
            names = [a.alias_name for a in column.aliases.all() if a.pk != alias.pk]
            if column.pk == alias.column_id:
                names.append(alias.alias_name)
            columns.append((column.column_name, names))
        try:
            table_headers_check(columns=columns)
        except ConfigError as exc:
            self.add_error("alias_name", _form_error(exc))


@admin.register(Alias)
class AliasAdmin(admin.ModelAdmin):
    form = AliasAdminForm
    list_display = ("alias_name", "column", "table_name")
    list_filter = ("column__table",)
    search_fields = ("alias_name", "column__column_name", "column__table__table_name")
    list_select_related = ("column__table",)

    @admin.display(description="table", ordering="column__table__table_name")
    def table_name(self, obj: Alias) -> str:
        return obj.column.table.table_name
