"""schemathesis against the OpenAPI document at /api/schema/: every operation, with generated parameters and
bodies (valid and invalid), called on the WSGI application as a superuser; no answer may be a 500.
Then hypothesis drives every query parameter of the API's GET operations and every staff page's GET
parameters with values aimed at the parsers (dates that do not exist, numbers of any size): never a 500.

schemathesis's own pytest loader (`schemathesis.pytest.from_fixture`) reads `Node._nodeid`, which pytest 9 no
longer has, so each operation is a subtest here that drives schemathesis's strategies with hypothesis itself.
The operations are listed from the same generator that serves /api/schema/, then looked up in the served
document, so an operation missing from it fails.
"""

from __future__ import annotations

import re

import pytest
import schemathesis
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import resolve
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from importhub.wsgi import application
from imports.models import ImportJob
from tableconfig.models import Alias, ColumnConfig, ImportTable
from tests.imports.conftest import DATA
from tests.security.test_url_walk import ROUTES

from .strategies import FUZZ_SETTINGS, fuzz_examples, query_values

pytestmark = pytest.mark.django_db(transaction=True)

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
OPERATIONS = [
    f"{method.upper()} {path}"
    for path, item in SchemaGenerator().get_schema(request=None, public=True)["paths"].items()
    for method in item
    if method in HTTP_METHODS
]
# Per operation: 8 valid and 8 invalid requests with generated ids (mostly unknown ones: 404), then 15 and
# 15 aimed at real objects; 15 and 15 for an operation without ids. About half a minute for the whole API.
GENERATED_IDS_EXAMPLES = fuzz_examples(8)
REAL_IDS_EXAMPLES = fuzz_examples(15)


@pytest.fixture
def superuser_headers(admin_user) -> dict:
    return {"Authorization": f"Token {Token.objects.create(user=admin_user).key}"}


@pytest.fixture
def real_ids(demo_tables, admin_user) -> dict:
    """Path parameters of real objects: the demo `products` table, its `price` column with an alias, and a
    completed import into it with a rejected row."""
    client = APIClient()
    client.force_authenticate(admin_user)
    sample = SimpleUploadedFile(
        "product_list_bad_price.csv", (DATA / "product_list_bad_price.csv").read_bytes()
    )
    response = client.post(
        "/api/import", {"files": [sample], "mode": "full", "table_name": "products"}, format="multipart"
    )
    assert response.status_code == 202, response.content
    job = ImportJob.objects.get(batch_id=response.json()["data"]["batch_id"], table_name="products")
    price = ColumnConfig.objects.get(table__table_name="products", column_name="price")
    return {
        "/api/tables/{table_name}": {"table_name": "products"},
        "/api/tables/{id}": {"id": ImportTable.objects.get(table_name="products").pk},
        "/api/columns/{id}": {"id": price.pk},
        "/api/aliases/{id}": {"id": Alias.objects.create(column=price, alias_name="cost").pk},
        "/api/jobs/{batch_id}/files/{job_id}": {"batch_id": str(job.batch_id), "job_id": job.pk},
        "/api/jobs/{batch_id}": {"batch_id": str(job.batch_id)},
    }


@pytest.fixture
def api_schema(real_ids, superuser_headers):
    return schemathesis.openapi.from_wsgi("/api/schema/", application, headers=superuser_headers)


def test_every_api_route_is_in_the_schema():
    documented = {resolve(re.sub(r"\{\w+\}", "1", label.split(" ", 1)[1])).url_name for label in OPERATIONS}
    # Swagger UI is a page about the document, not an operation of the API.
    routes = {route.name for route in ROUTES if route.is_api} - {"api-docs"}
    assert routes <= documented, f"API routes missing from /api/schema/: {sorted(routes - documented)}"


def _path_parameters(path: str, real_ids: dict) -> dict | None:
    return next((params for prefix, params in real_ids.items() if path.startswith(prefix)), None)


def _operation_fuzz(
    operation, *, mode: GenerationMode, examples: int, headers: dict, path_parameters=None
) -> bool:
    """Send one operation's generated requests; False when there is none to send (every input is valid)."""

    @settings(
        FUZZ_SETTINGS,
        max_examples=examples,
        suppress_health_check=[*FUZZ_SETTINGS.suppress_health_check, HealthCheck.filter_too_much],
    )
    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=path_parameters))
    def call(case):
        response = case.call(headers=headers)
        case.validate_response(response, checks=[not_a_server_error])

    try:
        call()
    except Unsatisfiable:
        return False
    return True


def test_api_never_answers_500(api_schema, real_ids, superuser_headers, subtests):
    """One database for all operations (in the document's order): a subtest per operation, mode and ids."""
    for label in OPERATIONS:
        operation = api_schema.find_operation_by_label(label)
        real = _path_parameters(label.split(" ", 1)[1], real_ids)
        runs = [(", generated ids", None, GENERATED_IDS_EXAMPLES), (", real ids", real, REAL_IDS_EXAMPLES)]
        for ids, path_parameters, examples in runs if real else [("", None, REAL_IDS_EXAMPLES)]:
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                with subtests.test(msg=f"{label} ({mode.value}{ids})"):
                    assert operation is not None, f"{label} is not in the document /api/schema/ serves"
                    sent = _operation_fuzz(
                        operation,
                        mode=mode,
                        examples=examples,
                        headers=superuser_headers,
                        path_parameters=path_parameters,
                    )
                    # As schemathesis's own runner does: when every input is valid there is no invalid one.
                    assert sent or mode == GenerationMode.NEGATIVE


QUERY_EXAMPLES = fuzz_examples(60)
# Every parameter a page's form reads, and some it does not (Django's admin reads `o`, `q`, `p` and `e`).
PAGE_PARAMETERS = [
    "page",
    "status",
    "table_name",
    "dist_id",
    "created_after",
    "created_before",
    "batch",
    "job",
    "mode",
    "q",
    "o",
    "p",
    "e",
]


def _query_fuzz(get, path: str, names: list[str], examples: int) -> None:
    """GET `path` with random values for random subsets of `names`; no answer may be a 500 (the test client
    raises the view's exception), streamed bodies included."""

    @settings(FUZZ_SETTINGS, max_examples=examples)
    @given(query=st.dictionaries(st.sampled_from(names), query_values, max_size=len(names)))
    def call(query):
        response = get(path, query)
        assert response.status_code < 500, (path, query, response.status_code)
        if getattr(response, "streaming", False):
            b"".join(response.streaming_content)

    call()


def _path_filled(path: str, real_ids: dict) -> str:
    params = _path_parameters(path, real_ids) or {}
    return re.sub(r"\{(\w+)\}", lambda m: str(params.get(m[1], "x")), path)


def test_api_query_parameters_never_answer_500(admin_api, real_ids, subtests):
    """Every declared query parameter of every GET operation (as /api/schema/ lists them), random values."""
    document = SchemaGenerator().get_schema(request=None, public=True)
    for path, item in document["paths"].items():
        names = [p["name"] for p in item.get("get", {}).get("parameters", []) if p["in"] == "query"]
        if not names or path == "/api/schema/":
            continue
        with subtests.test(msg=path):
            _query_fuzz(admin_api.get, _path_filled(path, real_ids), names, QUERY_EXAMPLES)


PAGES_NOT_FUZZED = ("login", "logout", "admin:login", "admin:logout", "healthz", "readyz", "metrics")


def _page_paths(real_ids: dict) -> list[str]:
    """The staff pages and the admin's lists, with real objects for their path parameters."""
    job = ImportJob.objects.exclude(batch_id=None).first()
    table = ImportTable.objects.get(table_name="products")
    column = ColumnConfig.objects.get(table=table, column_name="price")
    real = {
        "batch-detail": f"/batches/{job.batch_id}/",
        "data-table": "/data/sales/",
        "data-export-csv": "/data/products/export.csv",
        "data-export-xlsx": "/data/products/export.xlsx",
        "config-table": f"/config/tables/{table.pk}/",
        "config-column-create": f"/config/tables/{table.pk}/columns/new/",
        "config-column": f"/config/columns/{column.pk}/",
        "config-alias-create": f"/config/columns/{column.pk}/aliases/",
    }
    paths = []
    for route in ROUTES:
        # The probes read no parameter; /readyz answers 503 on purpose while no qcluster runs (tests/ops).
        if route.is_api or route.name in PAGES_NOT_FUZZED:
            continue
        if route.path.startswith("/admin/") and not route.name.endswith("_changelist"):
            continue
        if route.name == "config-alias-delete":
            continue  # POST only
        paths.append(real.get(route.name, route.path))
    return paths


def test_pages_get_parameters_never_answer_500(client, admin_user, real_ids, subtests):
    """Every page (and the admin's lists) as a superuser, with random values for the parameters pages read."""
    client.force_login(admin_user)
    for path in _page_paths(real_ids):
        with subtests.test(msg=path):
            examples = QUERY_EXAMPLES // 3 if path.startswith("/admin/") else QUERY_EXAMPLES
            _query_fuzz(client.get, path, PAGE_PARAMETERS, examples)
