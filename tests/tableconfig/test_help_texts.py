"""A configuration field says the same thing wherever it is edited: the /config/ pages show the model's help
text (or `tableconfig.forms.HELP_TEXTS` where the model has none), admin shows the same text (adding only
what is true of admin alone), and the README's stated defaults and ranges are the models' own."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib import admin
from django.test import RequestFactory
from django.urls import reverse

from tableconfig.forms import ColumnEditForm, TableColumnForm, TableCreateForm, field_help
from tableconfig.models import ColumnConfig, ImportTable
from tableconfig.services import import_table_create

PAGE_FORMS = [
    pytest.param(TableCreateForm, ImportTable, id="table"),
    pytest.param(ColumnEditForm, ColumnConfig, id="column"),
    pytest.param(TableColumnForm, ColumnConfig, id="new-table-column"),
]


def _model_fields(form_class, model) -> list[str]:
    names = {f.name for f in model._meta.fields}
    return [name for name in form_class.base_fields if name in names]


@pytest.mark.parametrize(("form_class", "model"), PAGE_FORMS)
def test_help_texts_config_pages_use_the_one_source(form_class, model):
    for name in _model_fields(form_class, model):
        assert form_class.base_fields[name].help_text == field_help(model, name), name


def test_help_texts_separators_are_explained_where_the_model_is_silent():
    assert "decimals" in field_help(ImportTable, "decimal_separator")
    assert "must differ from the decimal separator" in field_help(ImportTable, "thousands_separator")


@pytest.mark.django_db
def test_help_texts_admin_says_what_the_config_pages_say(admin_user):
    request = RequestFactory().get("/admin/")
    request.user = admin_user
    table_admin = admin.site._registry[ImportTable]
    differ = {}
    admin_table_form = table_admin.get_form(request)
    for name in _model_fields(TableCreateForm, ImportTable):
        if name in admin_table_form.base_fields:
            shown = str(admin_table_form.base_fields[name].help_text)
            if not shown.startswith(field_help(ImportTable, name)):
                differ[f"table.{name}"] = shown
    inline_forms = [
        inline.get_formset(request).form
        for inline in table_admin.get_inline_instances(request)
        if inline.model is ColumnConfig
    ]
    column_admin_form = admin.site._registry[ColumnConfig].get_form(request)
    for form_class in [*inline_forms, column_admin_form]:
        for name in _model_fields(ColumnEditForm, ColumnConfig):
            if name in form_class.base_fields:
                shown = str(form_class.base_fields[name].help_text)
                if not shown.startswith(field_help(ColumnConfig, name)):
                    differ[f"{form_class.__name__}.{name}"] = shown
    assert differ == {}


@pytest.mark.django_db(transaction=True)
def test_help_texts_are_on_the_config_pages(client, admin_user):
    table = import_table_create(
        table_name="help_texts",
        allowed_filename="help_*",
        columns=[{"column_name": "sku", "data_type": "str", "is_mandatory": True}],
    )
    client.force_login(admin_user)
    pages = {
        "table": (reverse("config-table", args=[table.pk]), TableCreateForm, ImportTable, {"table_name"}),
        "column": (
            reverse("config-column", args=[table.columns.get().pk]),
            ColumnEditForm,
            ColumnConfig,
            set(),
        ),
    }
    for what, (url, form_class, model, not_here) in pages.items():
        page = client.get(url)
        assert page.status_code == 200, what
        text = html.unescape(page.content.decode())
        for name in _model_fields(form_class, model):
            help_text = field_help(model, name)
            if help_text and name not in not_here:
                assert help_text in text, f"{what} page lacks the help of {name}"
    create = html.unescape(client.get(reverse("config-table-create")).content.decode())
    assert field_help(ColumnConfig, "date_format") in create


def _readme() -> str:
    return re.sub(r"\s+", " ", (Path(settings.BASE_DIR) / "README.md").read_text())


def test_help_texts_readme_states_the_models_defaults_and_ranges():
    readme = _readme()
    fields = {f.name: f for f in [*ImportTable._meta.fields, *ColumnConfig._meta.fields]}
    on_duplicate = re.search(r"`(\w+)` \(default\): the row is updated", readme)
    assert on_duplicate and on_duplicate[1] == fields["on_duplicate"].default
    prefix = re.search(r"`distributor_prefix_length` characters, (\d+) to (\d+), default (\d+)", readme)
    limits = [v.limit_value for v in fields["distributor_prefix_length"].validators]
    assert prefix and [int(prefix[1]), int(prefix[2])] == limits
    assert int(prefix[3]) == fields["distributor_prefix_length"].default
    decimal = re.search(r"`decimal` → decimal\((\d+),(\d+)\) unless configured", readme)
    assert decimal and (int(decimal[1]), int(decimal[2])) == (
        fields["decimal_digits"].default,
        fields["decimal_places"].default,
    )
    assert (
        "`reject_file_on_error`: refuse the whole file when any row is bad (default: load the good rows)"
        in readme
    )
    assert fields["reject_file_on_error"].default is False
    assert (
        "`thousands_separator` (none, `,`, `.`, space or `'`; it must differ from the decimal separator)"
        in readme
    )
    assert "must differ from the decimal separator" in field_help(ImportTable, "thousands_separator")
