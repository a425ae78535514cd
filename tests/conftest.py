"""Shared fixtures: users with and without permissions, API clients, and cleanup of physical tables."""

from pathlib import Path

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from rest_framework.test import APIClient

DATA_DIR = Path(__file__).parent / "data"


def _physical_tables() -> set[str]:
    with connection.cursor() as cursor:
        every = set(connection.introspection.table_names(cursor))
    return every - set(connection.introspection.django_table_names(include_views=False))


@pytest.fixture(autouse=True)
def _drop_physical_tables(request, django_db_blocker):
    """Physical import tables are not Django models, so the test database's flush leaves them: drop them."""
    yield
    uses_db = request.node.get_closest_marker("django_db") or {"transactional_db", "live_server"} & set(
        request.fixturenames
    )
    if not uses_db:
        return
    with django_db_blocker.unblock():
        if connection.in_atomic_block:
            return  # a test inside a transaction cannot have run DDL: it is refused there
        tables = _physical_tables()
        if tables:
            with connection.schema_editor() as editor:
                for table in tables:
                    editor.execute(f"DROP TABLE IF EXISTS {editor.quote_name(table)}")


@pytest.fixture
def data_dir() -> Path:
    return DATA_DIR


def _user(django_user_model, username: str, *, perms: list[str] = (), **flags):
    user = django_user_model.objects.create_user(username=username, password="pw-" + username, **flags)
    for codename in perms:
        app_label, code = codename.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=code))
    return user


@pytest.fixture
def make_user(django_user_model):
    def make(username: str = "someone", *, perms: list[str] = (), **flags):
        return _user(django_user_model, username, perms=perms, **flags)

    return make


@pytest.fixture
def admin_user(django_user_model):
    return django_user_model.objects.create_superuser(
        username="admin", password="pw-admin", email="a@example.com"
    )


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def admin_api(admin_user):
    client = APIClient()
    client.force_authenticate(admin_user)
    return client


@pytest.fixture
def mysql_only():
    if connection.vendor != "mysql":
        pytest.skip("needs MySQL/MariaDB (run with DATABASE_URL=mysql://...; CI runs it)")
