"""Schemathesis against the live server's own schema: the whole API, no 5xx and no response outside it.

Runs last (file order): its random logins fail and slow down later logins from 127.0.0.1 (429s, which
the schema documents).
"""

from __future__ import annotations

from typing import Any

import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.conftest import ApiServer

MAX_EXAMPLES = 30
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def test_api_conforms_to_its_schema(api: ApiServer) -> None:
    """Every operation, with a token of the scope it needs, a bounded number of examples each."""
    schema = schemathesis.openapi.from_url(f"{api.url}/api/v1/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 9
    with requests.Session() as session:
        for op in operations:
            scope = "device" if op.path.endswith("/heartbeat") else "user"
            _fuzz(op, api.url, session, {"Authorization": f"Bearer {api.tokens[scope]}"})


def _fuzz(op: Any, url: str, session: requests.Session, headers: dict[str, str]) -> None:
    """MAX_EXAMPLES generated requests to one operation, each response checked against the schema."""

    @given(case=op.as_strategy())
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: schemathesis.Case) -> None:
        case.call_and_validate(base_url=url, session=session, headers=headers, checks=CHECKS)

    check()
