"""Schemathesis against the live server's own schema: no 5xx and no response outside the schema.

Runs after test_api.py (file order): its random logins trip the login rate limit for 127.0.0.1, which
the last test here checks on purpose.
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


def test_failed_logins_are_rate_limited(api: ApiServer) -> None:
    with api.client() as c:
        codes = [
            c.post(
                "/api/v1/auth/token", json={"username": "mallory", "password": "wrong-password"}
            ).status_code
            for _ in range(6)
        ]
        assert codes[-1] == 429
        assert set(codes) <= {401, 429}
        r = c.post("/api/v1/auth/token", json={"username": "alice", "password": "correct horse battery"})
    assert r.status_code == 429  # the address is locked out, whatever the password
