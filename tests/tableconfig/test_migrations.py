"""Data migrations: what `migrate` changes in an existing configuration."""

import importlib

import pytest
from django.apps import apps

from tableconfig.models import ColumnConfig, ImportTable

pytestmark = pytest.mark.django_db

fidelity = importlib.import_module("tableconfig.migrations.0002_data_fidelity")


def test_migrate_turns_comma_separated_date_formats_into_pipes():
    # Saved rows as the older version stored them (no service: these formats predate its checks).
    table = ImportTable.objects.create(table_name="legacy")
    for name, stored in [
        ("a", "%d/%m/%Y, %Y-%m-%d"),
        ("b", "%Y-%m-%d|%d.%m.%Y"),
        ("c", ""),
        ("d", "%d/%m/%Y"),
    ]:
        ColumnConfig.objects.create(table=table, column_name=name, data_type="date", date_format=stored)

    fidelity.date_formats_to_pipes(apps, None)

    formats = dict(ColumnConfig.objects.values_list("column_name", "date_format"))
    assert formats == {"a": "%d/%m/%Y|%Y-%m-%d", "b": "%Y-%m-%d|%d.%m.%Y", "c": "", "d": "%d/%m/%Y"}
