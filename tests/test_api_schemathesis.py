"""Issue 15: schemathesis generates requests from the OpenAPI document (so from the same schemas the
views validate with) for every operation and sends them straight to the app through WSGI. No answer
may be a 5xx.

Two phases of schemathesis's own: coverage (for each parameter and body field, the values at and just
past each bound the document gives, wrong types, missing required ones; this is what finds an offset
one past 64 bits), sent with an admin token, which every view admits, so each reaches its view; and
fuzzing (a few random valid and invalid requests per operation), each sent with a token of every role
the operation admits (x-roles). The refusals of roles not admitted are tests/test_auth.py's. Four
examples per operation: about 35 s on either database. The hostile table (test_hostile_routes.py)
sends the known-bad values to every route besides.

schemathesis's pytest plugin does not run under this pytest (9.x), so the test builds each
operation's Hypothesis test with schemathesis's builder, as that plugin does.
"""

from __future__ import annotations

from typing import Any

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck
from schemathesis.generation.hypothesis.builder import HypothesisTestConfig, HypothesisTestMode, create_test
from schemathesis.generation.meta import TestPhase

from server.auth import ALL_ROLES
from server.services import assets
from tests.procurement_support import ACTOR, buy, office, plan_line

SETTINGS = hypothesis.settings(max_examples=4, deadline=None, database=None, derandomize=True,
                               suppress_health_check=list(HealthCheck))


@pytest.fixture
def ledger(sessions: Any) -> None:
    with sessions() as session, session.begin():
        place = office(session)
        plan_line(session)
        buy(session)
        assets.create_asset(session, ACTOR, "Dell Latitude", "Laptop", place.store)


# Hundreds of generated requests over every route: minutes on a loaded 2-core machine.
@pytest.mark.timeout(900)
def test_no_generated_request_gets_a_5xx(app: Any, tokens: Any, ledger: None) -> None:
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    schema.config.phases.coverage.unexpected_methods = set()  # 405s: tests/test_auth.py knows the methods
    config = HypothesisTestConfig(project=schema.config, settings=SETTINGS,
                                  modes=[HypothesisTestMode.COVERAGE, HypothesisTestMode.FUZZING])
    headers_of = {role: tokens.headers(role) for role in sorted(ALL_ROLES)}
    failures: list[str] = []
    sent: dict[str, int] = dict.fromkeys(headers_of, 0)

    def sender(admitted: list[str]) -> Any:
        def send(case: Any) -> None:
            roles = ["admin"] if case.meta.phase.name == TestPhase.COVERAGE else admitted
            for role in roles:
                sent[role] += 1
                try:
                    response = case.call(headers=headers_of[role])
                except Exception as exc:  # the test app lets an unhandled error through: that was a 500
                    failures.append(f"{case.method} {case.formatted_path} {case.query} {role}: {exc!r}"[:300])
                    return
                if response.status_code >= 500:
                    failures.append(f"{case.method} {case.formatted_path} {case.query} {role}: "
                                    f"{response.status_code}"[:300])

        return send

    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        admitted = operation.definition.raw.get("x-roles") or sorted(ALL_ROLES)  # a public one: everybody
        create_test(operation=operation, test_func=sender(admitted), config=config)()
    api_routes = sum(len((r.methods or set()) - {"HEAD", "OPTIONS"})
                     for r in app.url_map.iter_rules() if r.endpoint.startswith("api."))
    assert operations == api_routes - 1  # schemathesis leaves out the document's own operation
    assert not failures, "\n".join(failures[:40])
    assert all(count > 0 for count in sent.values()), sent  # every role's token was used
    assert sent["admin"] > 1000
