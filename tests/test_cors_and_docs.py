"""Browser clients on allowed origins get CORS headers; the OpenAPI schema and Swagger UI are served to logged-in users."""

import pytest

pytestmark = pytest.mark.django_db


@pytest.fixture
def cors(settings):
    settings.CORS_ALLOWED_ORIGINS = ["http://allowed.example"]


@pytest.fixture
def user_api(api, make_user):
    make_user("reader")
    assert api.login(username="reader", password="pw-reader")
    return api


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [("http://allowed.example", True), ("http://other.example", False)],
    ids=["allowed-origin", "other-origin"],
)
def test_cors_answers_only_allowed_origins(cors, user_api, origin, allowed):
    response = user_api.get("/api/tables", HTTP_ORIGIN=origin)
    assert response.status_code == 200
    assert response.get("Access-Control-Allow-Origin") == (origin if allowed else None)


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [("http://allowed.example", True), ("http://other.example", False)],
    ids=["allowed-origin", "other-origin"],
)
def test_cors_preflight_answers_only_allowed_origins(cors, api, origin, allowed):
    response = api.options(
        "/api/tables",
        HTTP_ORIGIN=origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="content-type",
    )
    assert response.get("Access-Control-Allow-Origin") == (origin if allowed else None)
    if allowed:
        assert "POST" in response["Access-Control-Allow-Methods"]


def test_schema_lists_the_endpoints_for_a_logged_in_user(user_api):
    response = user_api.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.")
    assert {
        "/api/tables",
        "/api/tables/{id}/filename",
        "/api/tables/{table_name}/columns",
        "/api/columns/{id}",
        "/api/columns/{id}/aliases",
        "/api/aliases/{id}",
        "/api/",
        "/api/import",
        "/api/jobs",
        "/api/jobs/{batch_id}",
        "/api/jobs/{batch_id}/details",
        "/api/jobs/{batch_id}/files/{job_id}/errors.csv",
        "/api/jobs/{batch_id}/files/{job_id}/archive",
        "/api/jobs/{batch_id}/files/{job_id}/revert",
    } <= set(document["paths"])
    create = document["paths"]["/api/tables"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert create == {"$ref": "#/components/schemas/TableCreateRequest"}
    table_create = document["components"]["schemas"]["TableCreateRequest"]
    assert set(table_create["required"]) == {"table_name", "columns"}


def test_schema_refuses_anonymous(api):
    response = api.get("/api/schema/", {"format": "json"})
    assert response.status_code in (401, 403)
    assert response.json()["success"] is False


def test_docs_page_is_served_to_a_logged_in_user(user_api):
    response = user_api.get("/api/docs/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "SwaggerUIBundle" in page
    assert "/api/schema/" in page


def test_docs_page_refuses_anonymous(api):
    assert api.get("/api/docs/").status_code in (401, 403)
