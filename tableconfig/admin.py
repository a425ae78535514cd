"""Admin for import tables, their columns and aliases: a declarative front end over the configuration services.

Every save goes through `services.import_table_save`, as the API and the pages do, so every rule lives there.
The forms only type the input. Once a form (and its inline rows) is valid, a dry run of the very service call
the save will make checks the change, and its refusal becomes a form error: nothing is saved. The save itself
runs the service again, outside the transaction Django's admin opens around a save, because the service changes
the physical table (DDL never runs inside a transaction: MySQL commits implicitly, SQLite's schema editor
refuses) and saves the configuration in a transaction of its own. Should the data change between the check and
the save, the service refuses again, still saving nothing, and the page says why.
"""

from __future__ import annotations

import logging
from functools import partial

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import csrf_protect_m
from django.core.exceptions import ValidationError
from django.db import DatabaseError, transaction
from django.db.models import Count
from django.forms.models import construct_instance
from django.http import HttpResponseRedirect

from importhub.errors import ConfigError, ImportHubError

from . import services
from .forms import FIELD_TYPES
from .models import Alias, ColumnConfig, DataType, ImportTable
from .services import COLUMN_FIELDS, COLUMN_UPDATABLE, TABLE_FIELDS, TableSaved

logger = logging.getLogger(__name__)

COLUMN_FORM_FIELDS = (
    "column_name",
    "data_type",
    "max_length",
    "decimal_digits",
    "decimal_places",
    "round_decimals",
    "is_mandatory",
    "is_unique",
    "date_format",
    "role",
    "position",
)


def _form_error(exc: ConfigError) -> ValidationError:
    return ValidationError(exc.message, code=exc.code)


def _table_settings(table: ImportTable) -> dict:
    return {name: getattr(table, name) for name in TABLE_FIELDS}


def _column_rules(column: ColumnConfig) -> dict:
    return {name: getattr(column, name) for name in COLUMN_UPDATABLE}


def _schema_report(request, saved: TableSaved) -> None:
    name = saved.table.table_name
    if saved.schema_changes:
        messages.success(request, f"Physical table {name}: {'; '.join(saved.schema_changes)}")
    elif saved.schema_checked:
        messages.info(request, f"Physical table {name}: in line")


def physical_table_sync_report(request, *, table_id: int) -> None:
    """Bring one table's physical table in line and say what changed; a refusal becomes an error message."""
    table = ImportTable.objects.filter(pk=table_id).first()
    if table is None:
        return
    try:
        done = services.table_schema_sync_config(table=table)
    except (ImportHubError, DatabaseError) as exc:
        logger.warning("Physical table %s not synced: %s", table.table_name, exc)
        messages.error(request, f"Physical table {table.table_name} was not changed: {exc}")
        return
    if done:
        messages.success(request, f"Physical table {table.table_name}: {'; '.join(done)}")
    else:
        messages.info(request, f"Physical table {table.table_name}: in line")


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


class ServiceCheckedForm(forms.ModelForm):
    """Types the input and fills the instance, leaving every rule of the model to the service's dry run."""

    def _post_clean(self):
        try:
            self.instance = construct_instance(self, self.instance, self._meta.fields, self._meta.exclude)
        except ValidationError as exc:
            self._update_errors(exc)
        if not self._errors:
            try:
                self.service_check()
            except ConfigError as exc:
                self.add_error(None, _form_error(exc))
        # The inline rows are checked with this form's values only when this form holds no error.
        self.instance._admin_form_valid = not self._errors

    def service_check(self) -> None:
        """The dry run of what saving this form alone would ask of the service."""


def _admin_form_valid(instance) -> bool:
    return getattr(instance, "_admin_form_valid", False)


class ServiceSavedAdmin(admin.ModelAdmin):
    """Saves through the services, outside the transaction ModelAdmin opens (see the module docstring)."""

    @csrf_protect_m
    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return self._changeform_view(request, object_id, form_url, extra_context)
        except ImportHubError as exc:
            # Refused between the form's dry run and the save (the data or the configuration changed
            # meanwhile): the service saved nothing.
            messages.error(request, f"Nothing was saved: {exc.message}")
            return HttpResponseRedirect(request.get_full_path())

    def save_model(self, request, obj, form, change):
        """Nothing here: save_related saves the object together with its inline rows, through the service."""


# --- ImportTable with its columns inline ---------------------------------------------------------


class ImportTableAdminForm(ServiceCheckedForm):
    class Meta:
        model = ImportTable
        fields = TABLE_FIELDS
        labels = {"expected_in_batch": "Expected in every batch", "sheet_name": "Sheet (Excel, OpenDocument)"}
        help_texts = {
            "table_name": "The physical table in the database: lowercase letters, digits and underscores. "
            "Changing it renames the physical table.",
            "decimal_separator": "Between the whole part and the decimals of the numbers in this table's files.",
            "thousands_separator": "Groups the thousands of numbers, if the files do; it must differ from the "
            "decimal separator.",
        }

    def service_check(self) -> None:
        services.import_table_save(table=self.instance, changes=_table_settings(self.instance), dry_run=True)


def aliases_parse(text: str) -> list[str]:
    """The alias names of a comma-separated "Aliases" cell, in order, blanks left out."""
    return [name.strip() for name in (text or "").split(",") if name.strip()]


class ColumnInlineForm(ServiceCheckedForm):
    """One column row of the table page: its rules, only the options of its type, and its aliases."""

    aliases = forms.CharField(
        required=False,
        max_length=2000,
        label="Aliases",
        help_text="Other header names a file may use for this column, comma-separated.",
    )

    class Meta:
        model = ColumnConfig
        fields = COLUMN_FORM_FIELDS
        labels = {
            "column_name": "Column",
            "data_type": "Type",
            "is_mandatory": "Mandatory",
            "is_unique": "Unique",
            "decimal_digits": "Digits",
            "decimal_places": "Places",
            "round_decimals": "Round",
            "date_format": "Date formats",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            # A rename would add a new physical column and orphan the old one's data: add a column instead.
            self.fields["column_name"].disabled = True
            self.fields["aliases"].initial = ", ".join(a.alias_name for a in self.instance.aliases.all())

    @property
    def current_type(self) -> str:
        """The type the row shows: as posted, else as saved (or the default of a new row)."""
        value = self["data_type"].value()
        return value if value in DataType.values else DataType.STR

    @property
    def type_options(self) -> list[tuple]:
        """(bound field, the types it applies to, hidden now) for each type-dependent option, for the template."""
        current = self.current_type
        return [(self[name], " ".join(types), current not in types) for name, types in FIELD_TYPES.items()]

    def clean(self):
        """An option that does not apply to the chosen type keeps its stored value: the page hides it, so
        what it holds was not chosen (a hidden "Round" left on would refuse a column turned into text)."""
        data = super().clean()
        data_type = data.get("data_type")
        for name, types in FIELD_TYPES.items():
            if data_type and data_type not in types and name in data:
                data[name] = False if name == "round_decimals" else self.initial.get(name, data[name])
        return data

    def column_changes(self) -> tuple[str, dict] | None:
        """("added", fields) or ("changed", fields) for this row, or None when it asks for nothing."""
        if not self.instance.pk:
            if not self.has_changed():
                return None  # an untouched extra row
            fields = {name: self.cleaned_data[name] for name in COLUMN_FORM_FIELDS}
            return "added", {**fields, "aliases": aliases_parse(self.cleaned_data.get("aliases"))}
        changes = {
            name: self.cleaned_data[name]
            for name in COLUMN_UPDATABLE
            if name in self.cleaned_data and self.cleaned_data[name] != self.initial.get(name)
        }
        stored = list(self.instance.aliases.all())
        names = aliases_parse(self.cleaned_data.get("aliases"))
        added = [name for name in names if name not in {a.alias_name for a in stored}]
        deleted = [a.pk for a in stored if a.alias_name not in names]
        if added:
            changes["aliases_added"] = added
        if deleted:
            changes["aliases_deleted"] = deleted
        return ("changed", changes) if changes else None


class ColumnInlineFormSet(forms.BaseInlineFormSet):
    """The table's columns: checked together with the table's form, by a dry run of the service."""

    def validate_unique(self):
        """The service checks the column names (with the message the API and the pages show)."""

    def column_changes(self, forms_: list | None = None) -> dict:
        """The columns part of the `import_table_save` call these rows (all, or `forms_`) ask for."""
        added, changed, deleted = [], {}, []
        for form in self.forms if forms_ is None else forms_:
            column = form.instance
            if self.can_delete and form.cleaned_data.get("DELETE"):
                if column.pk:
                    deleted.append(column.pk)
                continue
            change = form.column_changes()
            if change is None:
                continue
            kind, fields = change
            if kind == "added":
                added.append(fields)
            else:
                changed[column.pk] = fields
        return {"columns_added": added, "columns_changed": changed, "columns_deleted": deleted}

    def _dry_run(self, forms_: list | None = None) -> None:
        services.import_table_save(
            table=self.instance,
            changes=_table_settings(self.instance),
            dry_run=True,
            **self.column_changes(forms_),
        )

    def _refused_row(self, exc: ConfigError) -> bool:
        """Put a refusal on the row that brings it about: the first row whose change, together with the rows
        above it, the service refuses; on the field it names (an alias clash on "Aliases")."""
        rows = [f for f in self.forms if f.has_changed() or f.cleaned_data.get("DELETE")]
        for end, form in enumerate(rows, start=1):
            try:
                self._dry_run(rows[:end])
            except ConfigError:
                field = (exc.details or {}).get("field")
                field = "aliases" if field == "alias_name" else field
                form.add_error(field if field in form.fields else None, _form_error(exc))
                return True
        return False

    def clean(self):
        super().clean()
        if any(self.errors) or not _admin_form_valid(self.instance):
            return
        try:
            self._dry_run()
        except ConfigError as exc:
            if not self._refused_row(exc):
                raise _form_error(exc) from exc


class ColumnInline(admin.TabularInline):
    """Compact rows (see the template): a column's name and type, its rules, the options of its type only,
    and its aliases, so the page fits a 1,366 px screen."""

    model = ColumnConfig
    form = ColumnInlineForm
    formset = ColumnInlineFormSet
    fields = (*COLUMN_FORM_FIELDS, "aliases")
    template = "admin/tableconfig/importtable/column_inline.html"
    extra = 1
    show_change_link = True

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("aliases")


@admin.register(ImportTable)
class ImportTableAdmin(ServiceSavedAdmin):
    form = ImportTableAdminForm
    inlines = [ColumnInline]
    list_display = (
        "table_name",
        "display_name",
        "allowed_filename",
        "is_active",
        "on_duplicate",
        "column_count",
    )
    list_filter = ("is_active", "reject_file_on_error", "on_duplicate")
    search_fields = ("table_name", "display_name", "allowed_filename")
    readonly_fields = ("created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("table_name", "display_name", "allowed_filename", "description")}),
        (
            "Import rules",
            {
                "fields": (
                    "is_active",
                    "expected_in_batch",
                    "reject_file_on_error",
                    "on_duplicate",
                    "sheet_name",
                )
            },
        ),
        ("Numbers", {"fields": ("decimal_separator", "thousands_separator")}),
        ("Distributor", {"fields": ("distributor_match", "distributor_prefix_length")}),
        ("History", {"fields": ("created_at", "updated_at"), "classes": ["collapse"]}),
    )
    actions = ["physical_tables_sync"]

    class Media:
        css = {"all": ["importhub/admin-table.css"]}
        js = ["importhub/admin-table.js"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(column_total=Count("columns"))

    @admin.display(description="columns", ordering="column_total")
    def column_count(self, obj: ImportTable) -> int:
        return obj.column_total

    def save_related(self, request, form, formsets, change):
        table = form.instance
        columns = next((f for f in formsets if isinstance(f, ColumnInlineFormSet)), None)
        changes = columns.column_changes() if columns else {}
        deleted = (
            [f.instance for f in columns.forms if f.instance.pk in changes["columns_deleted"]]
            if columns
            else []
        )
        saved = services.import_table_save(table=table, changes=_table_settings(table), **changes)
        if columns:
            # What the admin's history records (a formset's save() would set these).
            changed = list(changes["columns_changed"].items())
            columns.changed_objects = [
                (column, list(fields)) for column, (_, fields) in zip(saved.columns, changed, strict=False)
            ]
            columns.new_objects = saved.columns[len(changed) :]
            columns.deleted_objects = deleted
        _schema_report(request, saved)
        _kept_columns_warn(request, saved.table.table_name, [c.column_name for c in deleted])

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
            transaction.on_commit(partial(physical_table_sync_report, request, table_id=table_id))


# --- ColumnConfig with its aliases inline ----------------------------------------------------------


def _column_call(column: ColumnConfig, aliases: dict) -> dict:
    """The `import_table_save` arguments that save `column` (new or changed) with these alias changes."""
    if column.pk:
        return {"columns_changed": {column.pk: {**_column_rules(column), **aliases}}}
    fields = {name: getattr(column, name) for name in COLUMN_FIELDS}
    return {"columns_added": [{**fields, "aliases": aliases.get("aliases_added", [])}]}


class ColumnAdminForm(ServiceCheckedForm):
    class Meta:
        model = ColumnConfig
        fields = ("table", *COLUMN_FORM_FIELDS)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "table" in self.fields:
            self.fields["table"].queryset = ImportTable.objects.order_by("table_name")

    def service_check(self) -> None:
        column = self.instance
        services.import_table_save(table=column.table, dry_run=True, **_column_call(column, {}))


class AliasInlineFormSet(forms.BaseInlineFormSet):
    """A column's aliases: checked together with the column's form, by a dry run of the service."""

    def alias_changes(self) -> dict:
        added, renamed, deleted = [], {}, []
        for form in self.forms:
            alias = form.instance
            if not alias.pk and not form.has_changed():
                continue
            if self.can_delete and form.cleaned_data.get("DELETE"):
                if alias.pk:
                    deleted.append(alias.pk)
                continue
            if not alias.pk:
                added.append(form.cleaned_data["alias_name"])
            elif form.has_changed():
                renamed[alias.pk] = form.cleaned_data["alias_name"]
        return {"aliases_added": added, "aliases_renamed": renamed, "aliases_deleted": deleted}

    def clean(self):
        super().clean()
        column = self.instance
        if any(self.errors) or not _admin_form_valid(column):
            return
        try:
            services.import_table_save(
                table=column.table, dry_run=True, **_column_call(column, self.alias_changes())
            )
        except ConfigError as exc:
            raise _form_error(exc) from exc


class AliasInlineForm(ServiceCheckedForm):
    class Meta:
        model = Alias
        fields = ("alias_name",)


class AliasInline(admin.TabularInline):
    model = Alias
    form = AliasInlineForm
    formset = AliasInlineFormSet
    fields = ("alias_name",)
    extra = 1


@admin.register(ColumnConfig)
class ColumnConfigAdmin(ServiceSavedAdmin):
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
        ("Rules", {"fields": ("is_mandatory", "is_unique", "max_length")}),
        ("Decimals", {"fields": ("decimal_digits", "decimal_places", "round_decimals")}),
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

    def save_related(self, request, form, formsets, change):
        column = form.instance
        aliases = next((f for f in formsets if isinstance(f, AliasInlineFormSet)), None)
        alias_changes = aliases.alias_changes() if aliases else {}
        saved = services.import_table_save(table=column.table, **_column_call(column, alias_changes))
        stored = saved.columns[0]
        for model_field in ColumnConfig._meta.concrete_fields:
            setattr(column, model_field.attname, getattr(stored, model_field.attname))
        column._state.adding = False
        if aliases:
            renamed = alias_changes["aliases_renamed"]
            aliases.new_objects = saved.aliases[len(renamed) :]
            aliases.changed_objects = [(a, ["alias_name"]) for a in saved.aliases[: len(renamed)]]
            aliases.deleted_objects = [
                f.instance for f in aliases.forms if f.instance.pk in alias_changes["aliases_deleted"]
            ]
        _schema_report(request, saved)

    def delete_model(self, request, obj):
        table_name, column_name = obj.table.table_name, obj.column_name
        services.column_delete(column=obj)
        _kept_columns_warn(request, table_name, [column_name])

    def delete_queryset(self, request, queryset):
        doomed = list(queryset.select_related("table"))
        for column in doomed:
            services.column_delete(column=column)
        for table_name in sorted({c.table.table_name for c in doomed}):
            _kept_columns_warn(
                request, table_name, [c.column_name for c in doomed if c.table.table_name == table_name]
            )


# --- Alias on its own ------------------------------------------------------------------------------


class AliasAdminForm(ServiceCheckedForm):
    class Meta:
        model = Alias
        fields = ("column", "alias_name")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "column" in self.fields:
            self.fields["column"].queryset = ColumnConfig.objects.select_related("table").order_by(
                "table__table_name", "position", "id"
            )

    def service_check(self) -> None:
        alias = self.instance
        services.import_table_save(table=alias.column.table, dry_run=True, **_alias_call(alias))


def _alias_call(alias: Alias) -> dict:
    if alias.pk:
        return {"columns_changed": {alias.column_id: {"aliases_renamed": {alias.pk: alias.alias_name}}}}
    return {"columns_changed": {alias.column_id: {"aliases_added": [alias.alias_name]}}}


@admin.register(Alias)
class AliasAdmin(ServiceSavedAdmin):
    form = AliasAdminForm
    list_display = ("alias_name", "column", "table_name")
    list_filter = ("column__table",)
    search_fields = ("alias_name", "column__column_name", "column__table__table_name")
    list_select_related = ("column__table",)

    def get_readonly_fields(self, request, obj=None):
        # An alias belongs to its column: add one to the other column instead of moving it.
        return ("column",) if obj else ()

    @admin.display(description="table", ordering="column__table__table_name")
    def table_name(self, obj: Alias) -> str:
        return obj.column.table.table_name

    def save_related(self, request, form, formsets, change):
        alias = form.instance
        saved = services.import_table_save(table=alias.column.table, **_alias_call(alias))
        if saved.aliases:
            alias.pk = saved.aliases[0].pk
            alias._state.adding = False

    def delete_model(self, request, obj):
        services.alias_delete(alias=obj)

    def delete_queryset(self, request, queryset):
        for alias in queryset.select_related("column__table"):
            services.alias_delete(alias=alias)
