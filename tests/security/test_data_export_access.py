"""The data page's background exports by caller: the progress endpoint and the download need a login and the
data page's permission (staff, or tableconfig.view_importtable), and an export is its creator's (or a
superuser's) only; starting one needs the same permission and a POST."""

import pytest
from django.core.management import call_command
from django.test import Client

from imports.models import DataExport, ExportStatus
from imports.services.exports_bg import data_export_path

pytestmark = pytest.mark.django_db(transaction=True)

# caller -> (progress status, download status)
EXPECTED = {
    "anonymous": (302, 302),
    "no-permission": (403, 403),
    "other-staff": (404, 404),
    "creator": (200, 200),
    "superuser": (200, 200),
}


@pytest.fixture
def callers(make_user, django_user_model):
    creator = make_user("viewer", perms=["tableconfig.view_importtable"])
    users = {
        "anonymous": None,
        "no-permission": make_user("clerk", perms=["imports.add_importjob"]),
        "other-staff": make_user("other", perms=["tableconfig.view_importtable"], is_staff=True),
        "creator": creator,
        "superuser": django_user_model.objects.create_superuser("root", "r@example.com", "pw-root"),
    }
    return users


@pytest.fixture
def finished_export(callers):
    export = DataExport.objects.create(
        table_name="products", fmt="csv", status=ExportStatus.DONE, rows_total=1, rows_done=1,
        file="exports/9-products.csv", created_by=callers["creator"],
    )  # fmt: skip
    path = data_export_path(export)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\xef\xbb\xbfsku\r\nP1\r\n")
    return export


@pytest.mark.parametrize("caller", list(EXPECTED))
def test_export_progress_and_download_by_caller(callers, finished_export, caller):
    client = Client()
    if callers[caller]:
        client.force_login(callers[caller])
    progress = client.get(f"/data/exports/{finished_export.pk}/")
    download = client.get(f"/data/exports/{finished_export.pk}/download")
    assert (progress.status_code, download.status_code) == EXPECTED[caller]
    if caller == "anonymous":
        assert progress["Location"].startswith("/accounts/login/?next=")
        assert download["Location"].startswith("/accounts/login/?next=")
    if EXPECTED[caller][1] == 200:
        assert b"".join(download.streaming_content) == b"\xef\xbb\xbfsku\r\nP1\r\n"
        assert progress.json()["download_url"] == f"/data/exports/{finished_export.pk}/download"
    else:
        assert b"P1" not in download.content


@pytest.mark.parametrize(
    "caller, status", [("anonymous", 302), ("no-permission", 403), ("creator", 302)], ids=str
)
def test_starting_an_export_needs_the_data_permission(callers, caller, status, settings):
    call_command("load_demo_config", verbosity=0)
    settings.EXPORT_SYNC_MAX_ROWS = -1  # even an empty table goes to the background
    client = Client()
    if callers[caller]:
        client.force_login(callers[caller])
    response = client.post("/data/products/exports/csv")
    assert response.status_code == status
    assert DataExport.objects.exists() is (caller == "creator")
    if caller == "creator":
        assert response["Location"] == "/data/products/#exports"
    # A GET starts nothing: login first, then the permission, then the method.
    assert client.get("/data/products/exports/csv").status_code == {"creator": 405}.get(caller, status)
