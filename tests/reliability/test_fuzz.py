"""Schemathesis against the server's own OpenAPI: no 5xx, responses match the schema.

Bounded for CI: a few generated examples per operation, no shrinking.
"""

from __future__ import annotations

from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance

from tests.tiles.conftest import build_workspace, make_client

EXAMPLES = 25


def test_openapi_fuzz(tmp_path: Path) -> None:
    catalog = build_workspace(tmp_path)
    # The context runs the app's lifespan, which puts the catalog on app.state; the
    # calls schemathesis makes through the same app object then see it.
    with make_client(catalog) as client:
        schema = schemathesis.openapi.from_asgi("/openapi.json", client.app)
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) >= 12  # tiles, TileJSON, style, catalog, OGC, health ...
        print(f"\nschemathesis: {len(operations)} operations, {EXAMPLES} examples each")
        for operation in operations:

            @given(case=operation.as_strategy())
            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
                derandomize=True,
                database=None,
            )
            def fuzz(case: schemathesis.Case) -> None:
                # Status-code conformance is left out: FastAPI documents 200 and 422 only,
                # while 204/400/404 are by design (tests/tiles/test_errors.py checks them).
                case.call_and_validate(checks=[not_a_server_error, response_schema_conformance])

            fuzz()
