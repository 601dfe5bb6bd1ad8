"""Schemathesis against /openapi.json, in process: no generated request gets a 500 or an answer off the schema."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.serving.conftest import bearer, make_app, write_config

# Every other check runs. This one expects every schema-valid body to succeed, but what makes an
# email or a phone number real cannot be said in JSON Schema: such a lookup is answered 422.

# A generous limit: the fuzzing should reach the handlers, not the rate limiter.
_UNLIMITED = "serving: {rate_limit: {per_second: 100000, burst: 100000}}\n"


@pytest.fixture(scope="module")
def fuzzed(served, tmp_path_factory):
    config = write_config(tmp_path_factory.mktemp("fuzzed_config"), _UNLIMITED)
    return served, schemathesis.openapi.from_asgi("/openapi.json", make_app(served, config))


def test_every_operation_is_fuzzed_without_a_server_error(fuzzed, masking_key):
    served, schema = fuzzed
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 8
    for n, operation in enumerate(operations):
        # Alternate the roles, so the unmasked paths of a pii_reader are reached as well.
        fuzz(operation, served.pii_key if n % 2 else served.reader_key)


def fuzz(operation, key: str) -> None:
    @given(case=operation.as_strategy())
    @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def check(case) -> None:
        case.call_and_validate(headers=bearer(key), excluded_checks=[positive_data_acceptance])

    check()
