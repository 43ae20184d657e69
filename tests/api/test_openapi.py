"""/api/v1/openapi.json: a valid OpenAPI 3 document that describes every API route the app
serves and how to authenticate."""

from __future__ import annotations

import re

import pytest
from openapi_spec_validator import validate

from eventapp.core.api import API_PREFIX

IGNORED_METHODS = {"HEAD", "OPTIONS"}
SPEC_URL = API_PREFIX + "/openapi.json"


@pytest.fixture
def spec(client):
    response = client.get(SPEC_URL)  # readable without signing in: tools fetch it first
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    return response.json


def served_operations(app) -> set[tuple[str, str]]:
    """(OpenAPI path, method) of every rule under /api/v1 but the document itself."""
    operations = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(API_PREFIX + "/") or rule.rule == SPEC_URL:
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        operations |= {(path, method.lower()) for method in rule.methods - IGNORED_METHODS}
    return operations


@pytest.mark.single_db
def test_the_document_is_valid_openapi_3(spec):
    assert spec["openapi"].startswith("3.")
    validate(spec)


@pytest.mark.single_db
def test_the_document_lists_every_api_route(app, spec):
    served = served_operations(app)
    documented = {(path, method) for path, operations in spec["paths"].items()
                  for method in operations if method != "parameters"}

    assert len(served) >= 7  # me, events, event, channels (get, post), channel, registrations
    assert served == documented


@pytest.mark.single_db
def test_the_document_declares_bearer_authentication(spec):
    scheme = spec["components"]["securitySchemes"]["bearerAuth"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    assert {"bearerAuth": []} in spec["security"]


@pytest.mark.single_db
def test_every_operation_documents_the_one_error_shape(spec):
    body = spec["components"]["schemas"]["ErrorBody"]
    assert set(body["properties"]) == {"status", "code", "message", "details"}
    error_ref = {"$ref": "#/components/schemas/Error"}
    for name, response in spec["components"]["responses"].items():
        assert response["content"]["application/json"]["schema"] == error_ref, name
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if method != "parameters":
                assert operation["responses"]["default"] == {
                    "$ref": "#/components/responses/DEFAULT_ERROR"}, (method, path)


@pytest.mark.single_db
def test_the_paginated_list_documents_its_query(spec):
    operation = spec["paths"]["/api/v1/events/{slug}/registrations"]["get"]
    names = {parameter["name"] for parameter in operation["parameters"]}
    assert {"q", "status", "page", "page_size"} <= names
