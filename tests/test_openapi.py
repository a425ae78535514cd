"""The OpenAPI document at /api/schema/ is valid OpenAPI 3, documents every operation's answers with a schema,
carries examples that match those schemas, and pre-fills nothing in Swagger's "Try it out" that would run a
real import (the literal `string` once ran one with distributor "string")."""

import pytest
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

pytestmark = pytest.mark.django_db

HTTP_METHODS = ("get", "put", "post", "delete", "patch")
# Operations whose answers the issue names: each has a response schema and an example of its answer.
EXAMPLED = [
    ("post", "/api/import"),
    ("get", "/api/import"),
    ("get", "/api/jobs"),
    ("get", "/api/jobs/{batch_id}"),
    ("get", "/api/jobs/{batch_id}/details"),
    ("post", "/api/jobs/{batch_id}/files/{job_id}/revert"),
    ("get", "/api/tables"),
    ("post", "/api/tables"),
    ("put", "/api/tables/{id}"),
    ("patch", "/api/tables/{id}"),
    ("put", "/api/tables/{id}/filename"),
    ("get", "/api/tables/{table_name}/columns"),
    ("post", "/api/tables/{table_name}/columns"),
    ("put", "/api/columns/{id}"),
    ("patch", "/api/columns/{id}"),
    ("post", "/api/columns/{id}/aliases"),
    ("delete", "/api/aliases/{id}"),
    ("get", "/api/"),
    ("get", "/api/compliance"),
]


@pytest.fixture
def document(admin_api) -> dict:
    response = admin_api.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def operations(document: dict):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield method, path, operation


def schema_errors(document: dict, schema: dict, instance) -> list[str]:
    """`instance` checked against `schema` (its `$ref`s resolved in `document`), as OpenAPI 3.0 reads it."""
    contents = {**document, "x-checked": schema}
    registry = Registry().with_resource(
        "urn:api", Resource.from_contents(contents, default_specification=DRAFT4)
    )
    validator = OAS30Validator({"$ref": "urn:api#/x-checked"}, registry=registry)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(instance)]


def test_openapi_document_is_valid_openapi_3(document):
    validate(document)  # raises with the first violation of the OpenAPI 3 specification
    assert document["openapi"].startswith("3.")


def test_openapi_every_operation_documents_its_success_answer_with_a_schema(document):
    missing = []
    for method, path, operation in operations(document):
        answers = {code: r for code, r in operation["responses"].items() if code.startswith("2")}
        if not answers:
            missing.append(f"{method.upper()} {path}: no 2xx answer")
        for code, response in answers.items():
            schemas = [content.get("schema") for content in response.get("content", {}).values()]
            if not schemas or not all(schemas):
                missing.append(f"{method.upper()} {path} {code}: no schema")
    assert not missing, "\n".join(missing)
    assert len(list(operations(document))) >= 20


def test_openapi_every_refusal_is_documented_as_the_error_envelope(document):
    loose = []
    for method, path, operation in operations(document):
        for code, response in operation["responses"].items():
            if code in ("401", "403", "404"):
                schema = response["content"]["application/json"]["schema"]
                if schema != {"$ref": "#/components/schemas/Error"}:
                    loose.append(f"{method.upper()} {path} {code}: {schema}")
    assert not loose, "\n".join(loose)
    error = document["components"]["schemas"]["Error"]
    assert {"success", "error", "code"} <= set(error["properties"])


@pytest.mark.parametrize(("method", "path"), EXAMPLED, ids=lambda v: v)
def test_openapi_answers_have_examples_that_match_their_schema(document, method, path):
    operation = document["paths"][path][method]
    checked = 0
    for code, response in operation["responses"].items():
        content = response.get("content", {}).get("application/json")
        if not content or not code.startswith("2"):
            continue
        assert content.get("examples"), f"{method.upper()} {path} {code}: no example"
        for name, example in content["examples"].items():
            errors = schema_errors(document, content["schema"], example["value"])
            assert not errors, f"{method.upper()} {path} {code} example {name!r}: {errors}"
            checked += 1
    assert checked


def test_openapi_json_request_bodies_have_examples_that_match_their_schema(document):
    problems = []
    for method, path, operation in operations(document):
        content = operation.get("requestBody", {}).get("content", {}).get("application/json")
        if not content:
            continue
        if not content.get("examples"):
            problems.append(f"{method.upper()} {path}: no request example")
        for name, example in content.get("examples", {}).items():
            errors = schema_errors(document, content["schema"], example["value"])
            if errors:
                problems.append(f"{method.upper()} {path} {name!r}: {errors}")
    assert not problems, "\n".join(problems)


def swagger_prefill(schema: dict):
    """What Swagger UI's "Try it out" puts in a form field: the example, else the default, else the first
    allowed value, else a placeholder by type (`string` for text)."""
    for key in ("example", "default"):
        if key in schema:
            return schema[key]
    if schema.get("enum"):
        return schema["enum"][0]
    if schema.get("format") == "binary" or schema.get("items", {}).get("format") == "binary":
        return None  # a file input: nothing pre-filled
    return {"string": "string", "integer": 0, "boolean": True, "array": []}.get(schema.get("type"))


def test_openapi_import_try_it_out_prefills_a_harmless_quick_check(document):
    body = document["paths"]["/api/import"]["post"]["requestBody"]["content"]
    assert set(body) >= {"multipart/form-data"}
    form = document["components"]["schemas"][body["multipart/form-data"]["schema"]["$ref"].rsplit("/", 1)[1]]
    prefill = {name: swagger_prefill(field) for name, field in form["properties"].items()}
    assert prefill == {"files": None, "mode": "quick", "table_name": "auto", "dist_id": "", "force": False}
    assert form["properties"]["files"]["items"]["format"] == "binary"
    # The modes are listed (an empty mode still means both; the form offers no blank that would run it).
    mode = form["properties"]["mode"]
    refs = [ref["$ref"].rsplit("/", 1)[1] for ref in mode.get("allOf", [])]
    assert {value for ref in refs for value in document["components"]["schemas"][ref]["enum"]} == {
        "quick",
        "full",
        "both",
        "dry_run",
    }


def test_openapi_import_documents_one_answer_shape_for_every_mode(document):
    responses = document["paths"]["/api/import"]["post"]["responses"]
    answers = {
        code: responses[code]["content"]["application/json"]["schema"] for code in ("200", "202", "422")
    }
    assert set(map(str, answers.values())) == {str({"$ref": "#/components/schemas/ImportResponse"})}
    shape = document["components"]["schemas"]["ImportResponse"]
    assert set(shape["required"]) >= {"success", "mode", "batch_id", "message", "files", "warnings", "data"}
    data = document["components"]["schemas"]["ImportData"]
    assert set(data["required"]) >= {"batch_id", "status", "total_rows", "files", "validation", "message"}
    assert {"400", "401", "403", "413"} <= set(responses)


def test_openapi_lists_the_valid_choices_of_the_jobs_status_filter(document):
    parameters = document["paths"]["/api/jobs"]["get"]["parameters"]
    status = next(p for p in parameters if p["name"] == "status")
    assert set(status["schema"]["enum"]) == {
        "pending",
        "processing",
        "completed",
        "completed_with_errors",
        "failed",
        "checked",
    }
