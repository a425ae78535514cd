"""Data migrations: what `migrate` changes in an existing configuration."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)


def _migrate(target):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(target)
    executor.loader.build_graph()
    return executor.loader.project_state(target).apps


def test_migrate_turns_comma_separated_date_formats_into_pipes():
    old = _migrate([("tableconfig", "0001_initial")])
    Table = old.get_model("tableconfig", "ImportTable")
    Column = old.get_model("tableconfig", "ColumnConfig")
    table = Table.objects.create(table_name="legacy")
    Column.objects.create(table=table, column_name="a", data_type="date", date_format="%d/%m/%Y, %Y-%m-%d")
    Column.objects.create(table=table, column_name="b", data_type="date", date_format="%Y-%m-%d|%d.%m.%Y")
    Column.objects.create(table=table, column_name="c", data_type="date", date_format="")

    new = _migrate([("tableconfig", "0002_data_fidelity")])

    formats = dict(
        new.get_model("tableconfig", "ColumnConfig").objects.values_list("column_name", "date_format")
    )
    assert formats == {"a": "%d/%m/%Y|%Y-%m-%d", "b": "%Y-%m-%d|%d.%m.%Y", "c": ""}
    _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
