"""Property-based fuzzing of every operation in the OpenAPI schema: no input makes the server answer 5xx."""

from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is not installed (pip install -e .[dev])")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402


def _operations(app):
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    return [r.ok() for r in schema.get_all_operations()]


def test_schema_has_every_operation(app, client):
    labels = {op.label for op in _operations(app)}
    assert len(labels) >= 14, labels


def test_no_server_errors(app, client):
    for op in sorted(_operations(app), key=lambda o: o.label):
        _fuzz(op)


def _fuzz(op):
    seen = []

    @given(case=op.as_strategy())
    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None)
    def fuzz(case):
        response = case.call()
        if response.status_code == 503 and "not installed" in response.json().get("error", ""):
            return  # a feature module missing from this build: the one 5xx the API gives on purpose
        seen.append(response.status_code)
        case.validate_response(response, checks=[not_a_server_error])
        if response.status_code >= 400:
            assert "error" in response.json(), (op.label, response.text)

    fuzz()
    assert all(s < 500 for s in seen), (op.label, seen)
