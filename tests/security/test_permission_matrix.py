"""Every API endpoint against five callers: anonymous, a user without permissions, staff with exactly the
endpoint's permission, staff with every other permission but that one, and a superuser.

Reads need a logged-in user; a job belongs to whoever uploaded it (staff see every job); each write needs
its model permission. One test per endpoint runs its whole row, the refused callers first; each caller
that may write gets its own objects, so every write can succeed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import resolve
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from imports.models import Distributor, ImportJob, JobStatus
from tableconfig.models import Alias, ColumnConfig, ImportTable
from tests.imports.conftest import DATA
from tests.security.test_url_walk import ROUTES, SAMPLE_UUID

pytestmark = pytest.mark.django_db(transaction=True)

REFUSED = (401, 403)
# Refused callers first: they must leave everything as it was for the callers that may write.
ROLES = ("anonymous", "no-permission", "staff-other-permissions", "staff-with-permission", "superuser")


@dataclass(frozen=True)
class Endpoint:
    id: str
    method: str
    path: str
    perm: str | None = None
    success: int = 200
    body: Callable[[str], dict] | None = None
    multipart: bool = False
    owned: bool = False  # a job's: hidden (404) from a user who neither uploaded it nor is staff
    written: Callable[[dict], bool] | None = None  # what a user sees after a successful write
    also: tuple[str, ...] = ()  # permissions needed besides `perm` (given with it to staff-with-permission)


def _upload(slug: str) -> dict:
    sample = SimpleUploadedFile("products.csv", (DATA / "products.csv").read_bytes())
    return {"files": [sample], "mode": "quick"}


ENDPOINTS = [
    Endpoint("api-root", "get", "/api/"),
    Endpoint("tables-list", "get", "/api/tables"),
    Endpoint(
        "tables-create",
        "post",
        "/api/tables",
        "tableconfig.add_importtable",
        201,
        lambda slug: {
            "table_name": f"matrix_{slug}",
            "display_name": "Matrix",
            "allowed_filename": f"matrix_{slug}",
            "columns": [{"name": "code", "type": "str"}],
        },
        written=lambda c: ImportTable.objects.filter(table_name=f"matrix_{c['slug']}").exists(),
    ),
    Endpoint("columns-list", "get", "/api/tables/products/columns"),
    Endpoint(
        "columns-create",
        "post",
        "/api/tables/products/columns",
        "tableconfig.add_columnconfig",
        201,
        lambda slug: {"column_name": f"note_{slug}", "data_type": "str", "is_mandatory": False},
        written=lambda c: ColumnConfig.objects.filter(column_name=f"note_{c['slug']}").exists(),
    ),
    Endpoint(
        "table-filename",
        "put",
        "/api/tables/{table}/filename",
        "tableconfig.change_importtable",
        200,
        lambda slug: {"allowed_filename": f"product_list, products, {slug}"},
        written=lambda c: ImportTable.objects.get(pk=c["table"]).allowed_filename.endswith(c["slug"]),
    ),
    Endpoint(
        "table-put",
        "put",
        "/api/tables/{table}",
        "tableconfig.change_importtable",
        200,
        lambda slug: {"description": f"Products of {slug}"},
        written=lambda c: ImportTable.objects.get(pk=c["table"]).description == f"Products of {c['slug']}",
    ),
    Endpoint(
        "table-patch",
        "patch",
        "/api/tables/{table}",
        "tableconfig.change_importtable",
        200,
        lambda slug: {"description": f"Patched by {slug}"},
        written=lambda c: ImportTable.objects.get(pk=c["table"]).description == f"Patched by {c['slug']}",
    ),
    Endpoint(
        "column-put",
        "put",
        "/api/columns/{column}",
        "tableconfig.change_columnconfig",
        200,
        lambda slug: {"is_mandatory": True},
        written=lambda c: ColumnConfig.objects.get(pk=c["column"]).is_mandatory,
    ),
    Endpoint(
        "column-patch",
        "patch",
        "/api/columns/{column}",
        "tableconfig.change_columnconfig",
        200,
        lambda slug: {"is_mandatory": True},
        written=lambda c: ColumnConfig.objects.get(pk=c["column"]).is_mandatory,
    ),
    Endpoint(
        "alias-create",
        "post",
        "/api/columns/{column}/aliases",
        "tableconfig.add_alias",
        201,
        lambda slug: {"alias_name": f"harga_{slug}"},
        written=lambda c: Alias.objects.filter(alias_name=f"harga_{c['slug']}").exists(),
    ),
    Endpoint(
        "alias-delete",
        "delete",
        "/api/aliases/{alias}",
        "tableconfig.delete_alias",
        200,
        written=lambda c: not Alias.objects.filter(pk=c["alias"]).exists(),
    ),
    Endpoint("import-rules", "get", "/api/import"),
    # Quick mode: the answer is the effect (nothing is stored).
    Endpoint(
        "import",
        "post",
        "/api/import",
        "imports.add_importjob",
        200,
        _upload,
        multipart=True,
        written=lambda c: True,
    ),
    Endpoint("jobs-list", "get", "/api/jobs"),
    Endpoint("job", "get", "/api/jobs/{batch}", owned=True),
    Endpoint("job-details", "get", "/api/jobs/{batch}/details", owned=True),
    Endpoint("job-errors-csv", "get", "/api/jobs/{batch}/files/{job}/errors.csv", owned=True),
    Endpoint("job-errors-xlsx", "get", "/api/jobs/{batch}/files/{job}/errors.xlsx", owned=True),
    Endpoint("job-archive", "get", "/api/jobs/{batch}/files/{job}/archive", owned=True),
    Endpoint(
        "job-revert",
        "post",
        "/api/jobs/{revert_batch}/files/{revert_job}/revert",
        "imports.change_importjob",
        200,
        owned=True,
        written=lambda c: ImportJob.objects.get(pk=c["revert_job"]).reverted_at is not None,
    ),
    Endpoint(
        "job-mapping",
        "post",
        "/api/jobs/{map_batch}/files/{map_job}/mapping",
        "imports.add_importjob",
        200,
        lambda slug: {"headers": MAPPINGS.get(slug, {"Harga": "price"})},
        owned=True,
        written=lambda c: Alias.objects.filter(
            column__column_name=c["map_column"], alias_name=c["map_header"]
        ).exists(),
        also=("tableconfig.add_alias",),
    ),
    Endpoint(
        "job-retry",
        "post",
        "/api/jobs/{retry_batch}/files/{retry_job}/retry",
        "imports.add_importjob",
        200,
        owned=True,
        written=lambda c: ImportJob.objects.get(pk=c["retry_job"]).attempts == 2,
    ),
    Endpoint(
        "batch-import",
        "post",
        "/api/jobs/{checked_batch}/import",
        "imports.add_importjob",
        202,
        owned=True,
        written=lambda c: ImportJob.objects.get(batch_id=c["checked_batch"]).status == JobStatus.COMPLETE,
    ),
    # A read with its own permission: the answer (the grid) is the effect.
    Endpoint("compliance", "get", "/api/compliance", "imports.view_distributor", 200, written=lambda c: True),
    Endpoint("inbox", "get", "/api/inbox", "imports.view_inboxclaim", 200, written=lambda c: True),
    Endpoint(
        "distributors", "get", "/api/distributors", "imports.view_distributor", 200, written=lambda c: True
    ),
    Endpoint(
        "distributor",
        "get",
        "/api/distributors/{distributor}",
        "imports.view_distributor",
        200,
        written=lambda c: True,
    ),
    Endpoint(
        "distributor-create",
        "post",
        "/api/distributors",
        "imports.add_distributor",
        201,
        lambda slug: {"code": f"new_{slug}", "name": f"New {slug}"},
        written=lambda c: Distributor.objects.filter(code=f"new_{c['slug']}").exists(),
    ),
    Endpoint(
        "distributor-patch",
        "patch",
        "/api/distributors/{distributor}",
        "imports.change_distributor",
        200,
        lambda slug: {"name": f"Renamed by {slug}"},
        written=lambda c: Distributor.objects.get(code=c["distributor"]).name == f"Renamed by {c['slug']}",
    ),
    Endpoint("schema", "get", "/api/schema/"),
    Endpoint("docs", "get", "/api/docs/"),
]
WRITE_PERMS = sorted({e.perm for e in ENDPOINTS if e.perm})
# The header mapping of each caller that may write: a file of its own, a header and column of its own.
MAPPINGS = {"staff_with_permission": {"Harga": "price"}, "superuser": {"Box": "stock_box"}}


def _expected(endpoint: Endpoint, role: str) -> tuple[int, ...]:
    if role == "anonymous":
        return REFUSED
    if role in ("superuser", "staff-with-permission"):
        return (endpoint.success,)
    if endpoint.perm:
        return (403,)
    if endpoint.owned and role == "no-permission":
        return (404,)
    return (endpoint.success,)


def _perms(codenames) -> list[Permission]:
    perms = []
    for codename in codenames:
        app_label, code = codename.split(".")
        perms.append(Permission.objects.get(content_type__app_label=app_label, codename=code))
    return perms


def _client(role: str, endpoint: Endpoint, django_user_model) -> APIClient:
    """A client for the caller, authenticated the way scripts are: a token."""
    client = APIClient()
    if role == "anonymous":
        return client
    username = f"{endpoint.id}-{role}"
    if role == "superuser":
        user = django_user_model.objects.create_superuser(username, f"{username}@example.com", "pw")
    else:
        user = django_user_model.objects.create_user(
            username, password="pw", is_staff=role != "no-permission"
        )
        if role == "staff-with-permission" and endpoint.perm:
            user.user_permissions.set(_perms([endpoint.perm, *endpoint.also]))
        elif role == "staff-other-permissions":
            user.user_permissions.set(_perms(p for p in WRITE_PERMS if p != endpoint.perm))
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def _imported(client: APIClient, name: str, table_name: str = "products") -> ImportJob:
    sample = SimpleUploadedFile(name, (DATA / name).read_bytes())
    response = client.post(
        "/api/import", {"files": [sample], "mode": "full", "table_name": table_name}, format="multipart"
    )
    assert response.status_code == 202, response.content
    job = ImportJob.objects.get(batch_id=response.json()["data"]["batch_id"], table_name=table_name)
    assert job.status == JobStatus.COMPLETE
    return job


def _dry_run(client: APIClient, name: str) -> ImportJob:
    """A dry run of a products file: checked (5), or 6 for its row errors; its upload kept."""
    sample = SimpleUploadedFile(name, (DATA / name).read_bytes())
    response = client.post(
        "/api/import", {"files": [sample], "mode": "dry_run", "table_name": "products"}, format="multipart"
    )
    assert response.status_code in (200, 202), response.content
    body = response.json()
    batch_id = body.get("batch_id") or body["data"]["batch_id"]  # the 'both' shape, or the 'full' one
    job = ImportJob.objects.get(batch_id=batch_id, table_name="products")
    assert job.status in (JobStatus.VALIDATION_OK, JobStatus.VALIDATION_FAILED) and job.upload_kept_until
    return job


@pytest.fixture
def world(demo_tables, make_user, settings) -> Callable[[str], dict]:
    """The demo tables and files imported by an uploader: one with a rejected row (its errors CSV and
    archive are read), one more for each caller that may revert; an alias for each caller to delete; a
    distributor for each caller to change (uploads stay open to any dist_id: DISTRIBUTORS_REQUIRED off)."""
    settings.DISTRIBUTORS_REQUIRED = "off"
    uploader = make_user("uploader", perms=["imports.add_importjob"])
    client = APIClient()
    client.force_authenticate(uploader)
    job = _imported(client, "product_list_bad_price.csv")
    assert job.errors_file
    to_revert = {"staff-with-permission": _imported(client, "products.csv"), "superuser": job}
    to_map = {
        "staff-with-permission": _imported(client, "products_harga.csv"),
        "superuser": _imported(client, "stock_box_header.csv", table_name="stocks"),
    }
    price = ColumnConfig.objects.get(table__table_name="products", column_name="price")
    aliases = {
        role: Alias.objects.create(column=price, alias_name=f"cost_{n}").pk for n, role in enumerate(ROLES)
    }
    table = ImportTable.objects.get(table_name="products").pk
    # Each caller that may retry or import gets its own failed dry run and checked dry run.
    writers = ("staff-with-permission", "superuser")
    to_retry = {role: _dry_run(client, "product_list_bad_price.csv") for role in writers}
    # A file of its own each, none imported before: identical content already imported is refused at import.
    checked_files = {"staff-with-permission": "products_update.csv", "superuser": "products_padded_keys.csv"}
    checked = {role: _dry_run(client, checked_files[role]) for role in writers}
    distributors = {
        role: Distributor.objects.create(code=f"m{n}", name=f"Matrix {n}").code
        for n, role in enumerate(ROLES)
    }

    def context(role: str) -> dict:
        revert = to_revert.get(role, job)
        mapped = to_map.get(role, to_map["staff-with-permission"])
        (header, column), *_ = MAPPINGS.get(role.replace("-", "_"), MAPPINGS["staff_with_permission"]).items()
        retry = to_retry.get(role, to_retry["superuser"])
        return {
            "slug": role.replace("-", "_"),
            "table": table,
            "column": price.pk,
            "alias": aliases[role],
            "batch": str(job.batch_id),
            "job": job.pk,
            "revert_batch": str(revert.batch_id),
            "revert_job": revert.pk,
            "map_batch": str(mapped.batch_id),
            "map_job": mapped.pk,
            "map_header": header,
            "map_column": column,
            "retry_batch": str(retry.batch_id),
            "retry_job": retry.pk,
            "checked_batch": str(checked.get(role, checked["superuser"]).batch_id),
            "distributor": distributors[role],
        }

    return context


def test_matrix_covers_every_api_route():
    sample = {
        "table": 1,
        "column": 1,
        "alias": 1,
        "batch": SAMPLE_UUID,
        "job": 1,
        "revert_batch": SAMPLE_UUID,
        "map_batch": SAMPLE_UUID,
        "retry_batch": SAMPLE_UUID,
        "retry_job": 1,
        "checked_batch": SAMPLE_UUID,
        "distributor": "m0",
    }
    covered = {resolve(e.path.format(revert_job=1, map_job=1, **sample)).url_name for e in ENDPOINTS}
    api = {r.name for r in ROUTES if r.is_api}
    assert api <= covered, f"API routes without a row in the matrix: {sorted(api - covered)}"


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.id)
def test_permission_matrix(endpoint: Endpoint, world, django_user_model):
    problems = []
    for role in ROLES:
        context = world(role)
        client = _client(role, endpoint, django_user_model)
        body = endpoint.body(context["slug"]) if endpoint.body else None
        send = getattr(client, endpoint.method)

        response = send(
            endpoint.path.format(**context), body, format="multipart" if endpoint.multipart else "json"
        )

        status = response.status_code
        expected = _expected(endpoint, role)
        if status not in expected:
            problems.append(f"{role}: {status}, expected {expected}: {response.content[:200]!r}")
        elif status in (*REFUSED, 404) and response["Content-Type"].startswith("application/json"):
            if response.json()["success"] is not False:
                problems.append(f"{role}: {status} without the error envelope")
        elif status == endpoint.success and endpoint.perm and not endpoint.written(context):
            problems.append(f"{role}: {status} but the write did not happen")
    assert not problems, f"{endpoint.method.upper()} {endpoint.path}:\n" + "\n".join(problems)
