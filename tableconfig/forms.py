"""Forms of the configuration pages: they type the input; the configuration services validate and write it.

Fields are built from the model fields (labels, help texts, choices, defaults), but the rules (identifiers,
roles, header clashes, safe schema changes) are left to the services, so the pages show their messages.
"""

from __future__ import annotations

from django import forms

from .models import Alias, ColumnConfig, DataType, ImportTable
from .services import COLUMN_OPTIONS, TABLE_FIELDS

TABLE_SETTINGS_FIELDS = TABLE_FIELDS[1:]  # the name of an existing table is not edited here
COLUMN_RULE_FIELDS = ("data_type", *COLUMN_OPTIONS)
# Which data types each rule applies to (the page hides the others once a type is chosen).
FIELD_TYPES = {
    "max_length": (DataType.STR,),
    "decimal_digits": (DataType.DECIMAL,),
    "decimal_places": (DataType.DECIMAL,),
    "round_decimals": (DataType.DECIMAL,),
    "date_format": (DataType.DATE, DataType.DATETIME),
}


class PageForm(forms.Form):
    """Labels without a trailing colon: the pages set them above their fields."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


# Help for the settings whose model field has none (a model help_text would need a migration). With the models'
# help_text this is the one source of the help shown in admin and on the /config/ pages: use `field_help`.
HELP_TEXTS = {
    "decimal_separator": "Between the whole part and the decimals of the numbers in this table's files.",
    "thousands_separator": "Groups the thousands of numbers, if the files do; it must differ from the decimal separator.",
}


def field_help(model, name: str) -> str:
    """A configuration field's help text, the same in admin and on the /config/ pages."""
    return HELP_TEXTS.get(name) or str(model._meta.get_field(name).help_text)


def _field(model, name: str, **kwargs) -> forms.Field:
    return model._meta.get_field(name).formfield(help_text=field_help(model, name), **kwargs)


def _types_mark(form: forms.Form) -> None:
    for name, types in FIELD_TYPES.items():
        if name in form.fields:
            form.fields[name].widget.attrs["data-for-types"] = " ".join(types)


class TableSettingsForm(PageForm):
    display_name = _field(ImportTable, "display_name")
    allowed_filename = _field(
        ImportTable, "allowed_filename", label="Allowed file names", widget=forms.TextInput
    )
    description = _field(ImportTable, "description", widget=forms.Textarea(attrs={"rows": 2}))
    is_active = _field(ImportTable, "is_active", label="Active")
    reject_file_on_error = _field(
        ImportTable, "reject_file_on_error", label="Reject the whole file on any error"
    )
    on_duplicate = _field(ImportTable, "on_duplicate", label="A row whose key is already there")
    decimal_separator = _field(ImportTable, "decimal_separator", label="Decimal separator")
    thousands_separator = _field(ImportTable, "thousands_separator", label="Thousands separator")
    distributor_match = _field(ImportTable, "distributor_match", label="Distributor check")
    distributor_prefix_length = _field(
        ImportTable, "distributor_prefix_length", label="Distributor prefix length"
    )


class TableCreateForm(TableSettingsForm):
    table_name = _field(ImportTable, "table_name")

    field_order = ["table_name", *TABLE_SETTINGS_FIELDS]


class ColumnForm(PageForm):
    """A column's rules, as added to a table or edited."""

    column_name = _field(ColumnConfig, "column_name", label="Column name")
    data_type = _field(ColumnConfig, "data_type", label="Type")
    is_mandatory = _field(ColumnConfig, "is_mandatory", label="Mandatory")
    is_unique = _field(ColumnConfig, "is_unique", label="Unique")
    max_length = _field(ColumnConfig, "max_length", label="Max length")
    decimal_digits = _field(ColumnConfig, "decimal_digits", label="Digits")
    decimal_places = _field(ColumnConfig, "decimal_places", label="Decimal places")
    round_decimals = _field(ColumnConfig, "round_decimals", label="Round extra decimals")
    date_format = _field(ColumnConfig, "date_format", label="Date formats")
    role = _field(ColumnConfig, "role", label="Role")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _types_mark(self)

    def column_data(self) -> dict:
        return {name: self.cleaned_data[name] for name in ("column_name", *COLUMN_RULE_FIELDS)}


class ColumnEditForm(ColumnForm):
    position = _field(ColumnConfig, "position", label="Position")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # A column's name is its physical column: it is shown, not changed here.
        del self.fields["column_name"]

    def changes(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.changed_data}


class TableColumnForm(ColumnForm):
    """One initial column of a new table, with its aliases (comma-separated)."""

    aliases = forms.CharField(
        required=False, max_length=1000, label="Aliases", help_text="Other header names, comma-separated."
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Initial columns are what a file of the table must have, unless said otherwise (as in the API).
        self.fields["is_mandatory"].initial = True

    def has_changed(self) -> bool:
        # A row without a column name is an empty row, whatever its checkboxes say.
        return bool((self.data.get(self.add_prefix("column_name")) or "").strip()) and super().has_changed()

    def column_data(self) -> dict:
        aliases = [a.strip() for a in self.cleaned_data.get("aliases", "").split(",") if a.strip()]
        return {**super().column_data(), "aliases": aliases}


class BaseTableColumnFormSet(forms.BaseFormSet):
    def clean(self):
        super().clean()
        if not any(self.errors) and not self.columns():
            raise forms.ValidationError("Add at least one column.", code="no_columns")

    def columns(self) -> list[dict]:
        """The rows the user filled in; untouched extra rows are left out."""
        return [f.column_data() for f in self.forms if f.has_changed() and f.cleaned_data]


TableColumnFormSet = forms.formset_factory(
    TableColumnForm, formset=BaseTableColumnFormSet, extra=3, max_num=200, validate_max=True
)


class AliasForm(PageForm):
    alias_name = _field(Alias, "alias_name", label="New alias")
