"""The OpenAPI schema: valid OpenAPI 3, describes the API-key scheme, and survives fuzzing.

The fuzz run generates requests from the schema with schemathesis (valid and invalid inputs,
boundary values, unexpected methods) and sends them through the Django app in-process,
authenticated as staff with a ``rounds:write`` API key, over a small seeded world. No response may
be a 5xx, and documented responses must match their schema. A sweep then sends every operation
the bodies and ids that used to cost a 500 (nesting bombs, oversized and malformed JSON, ids past
2**63 - 1, too many files): each must get a JSON 4xx.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from django.core import signals
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given, settings
from openapi_spec_validator import validate
from pytest_django import Settings
from rest_framework.test import APIClient
from schemathesis import APIOperation, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from marketplace.models import ApiKey, Contributor, DataGroup, Payout, PayoutBatch, User
from tests.attribution.factories import (
    make_round,
    make_succeeded_round,
    tmp_media,  # noqa: F401  (autouse fixture)
)

pytestmark = pytest.mark.django_db

SCHEMA_PATH = "/api/v1/schema/?format=json"
MAX_EXAMPLES = 20  # per operation and generation mode
MAX_COVERAGE_CASES = 60  # boundary cases per operation
# No 5xx; and documented responses match their schema and content type.
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]


@pytest.fixture(autouse=True)
def _generous_throttles(settings: Settings) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"anon": "1000000/minute", "user": "1000000/minute"},
    }
    cache.clear()


@pytest.fixture
def spec() -> dict[str, Any]:
    response = APIClient().get(SCHEMA_PATH)
    assert response.status_code == 200
    return response.json()


def test_the_schema_is_valid_openapi_3(spec: dict[str, Any]) -> None:
    validate(spec)
    assert spec["openapi"].startswith("3.")
    paths = set(spec["paths"])
    assert {
        "/api/v1/contributors/",
        "/api/v1/data-groups/",
        "/api/v1/model-versions/",
        "/api/v1/rounds/",
        "/api/v1/rounds/{id}/start/",
        "/api/v1/rounds/{round_id}/values/",
        "/api/v1/payouts/",
        "/api/v1/api-keys/",
        "/api/v1/api-keys/{prefix}/",
    } <= paths


def test_the_schema_describes_the_api_key_scheme(spec: dict[str, Any]) -> None:
    schemes = spec["components"]["securitySchemes"]
    # HTTP bearer: Swagger UI's Authorize dialog takes the bare key and sends "Bearer <key>".
    assert schemes["ApiKeyAuth"] | {"description": ""} == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "<prefix>.<secret>",
        "description": "",
    }
    assert "Api-Key" in schemes["ApiKeyAuth"]["description"]
    assert {"ApiKeyAuth": []} in spec["paths"]["/api/v1/rounds/"]["post"]["security"]


def test_the_upload_is_documented_as_multipart_with_files(spec: dict[str, Any]) -> None:
    body = spec["paths"]["/api/v1/data-groups/"]["post"]["requestBody"]["content"]
    assert list(body) == ["multipart/form-data"]
    upload = spec["components"]["schemas"]["DataGroupUploadRequest"]["properties"]
    assert upload["images"]["items"]["format"] == "binary"
    assert set(spec["paths"]["/api/v1/rounds/{id}/start/"]["post"]["responses"]) >= {
        "202",
        "400",
        "409",
    }


def test_the_schema_generates_without_warnings(tmp_path: Path) -> None:
    # drf-spectacular warns where it had to guess (an untyped field, a clashing enum name).
    call_command(
        "spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yml")
    )


# --- fuzzing ----------------------------------------------------------------------------------


@pytest.fixture
def wsgi_app() -> Iterator[Any]:
    """The Django WSGI app, kept from closing the test's database connection between requests
    (as Django's test client does), so requests run inside the test's transaction."""
    for signal in (signals.request_started, signals.request_finished):
        signal.disconnect(close_old_connections)
    try:
        yield get_wsgi_application()
    finally:
        for signal in (signals.request_started, signals.request_finished):
            signal.connect(close_old_connections)


@dataclass
class World:
    """What the fuzz run talks about: a staff key and an existing object of each kind."""

    authorization: str
    path_parameters: dict[str, dict[str, Any]]


def seed_world() -> World:
    draft = make_round(keys=("dora", "emil"))
    done = make_succeeded_round({"alice": 1.0, "bob": 2.0, "carol": 3.0})
    batch = PayoutBatch.objects.create(pool=Decimal(10), currency="EUR", negative_policy="floor")
    payouts = [
        Payout.objects.create(
            batch=batch, contributor=contributor, amount=Decimal(1), share=Decimal("0.1")
        )
        for contributor in done.contributors.all()
    ]
    own = Contributor.objects.create(key="fuzz", name="Fuzz")
    group = DataGroup.objects.create(contributor=own, title="seed", consent=True)
    staff = User.objects.create_user("fuzzer", role=User.Role.STAFF, is_staff=True, contributor=own)
    _, plaintext = ApiKey.create(staff, "fuzz", [ApiKey.ROUNDS_WRITE])
    spare, _ = ApiKey.create(staff, "spare")  # revoking the fuzzer's own key would end the run
    prefix = "/api/v1/"
    return World(
        authorization=f"Api-Key {plaintext}",
        path_parameters={
            f"{prefix}api-keys/{{prefix}}/": {"prefix": spare.prefix},
            f"{prefix}contributors/{{key}}/": {"key": "alice"},
            f"{prefix}data-groups/{{id}}/": {"id": group.pk},
            f"{prefix}model-versions/{{id}}/": {"id": done.model_version_id},
            f"{prefix}payouts/{{id}}/": {"id": payouts[0].pk},
            f"{prefix}rounds/{{id}}/": {"id": done.pk},
            f"{prefix}rounds/{{id}}/start/": {"id": draft.pk},
            f"{prefix}rounds/{{round_id}}/values/": {"round_id": done.pk},
        },
    )


@dataclass
class FuzzLog:
    requests: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)

    def call(self, case: schemathesis.Case, authorization: str) -> None:
        response = case.call(headers={"Authorization": authorization})
        self.requests[case.operation.label] += 1
        self.statuses[response.status_code] += 1
        if response.status_code >= 500:
            self.server_errors.append(f"{case.operation.label} → {response.status_code}")
        case.validate_response(response, checks=CHECKS)


def fuzz_operation(
    operation: APIOperation, mode: GenerationMode, log: FuzzLog, world: World, **fixed: Any
) -> None:
    """Send ``MAX_EXAMPLES`` generated requests, reproducibly (derandomized, no database)."""

    @given(case=operation.as_strategy(generation_mode=mode, **fixed))
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(case: schemathesis.Case) -> None:
        log.call(case, world.authorization)

    fuzz()


@pytest.mark.slow
def test_fuzzing_every_operation_never_gets_a_server_error(
    wsgi_app: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    world = seed_world()
    schema = schemathesis.openapi.from_wsgi(SCHEMA_PATH, wsgi_app)
    operations = [result.ok() for result in schema.get_all_operations()]
    log = FuzzLog()
    for operation in operations:
        # 1. Boundary values, missing and malformed parameters, unexpected methods.
        coverage = schema.iter_coverage_cases(
            operation,
            generation_modes=list(GenerationMode),
            generation_config=schema.config.generation_for(operation=operation, phase="coverage"),
        )
        for case in itertools.islice(coverage, MAX_COVERAGE_CASES):
            log.call(case, world.authorization)
        # 2. Random valid and invalid requests.
        for mode in GenerationMode:
            fuzz_operation(operation, mode, log, world)
        # 3. Random valid requests about objects that exist.
        known = world.path_parameters.get(operation.path)
        if known is not None:
            fuzz_operation(operation, GenerationMode.POSITIVE, log, world, path_parameters=known)
        # 4. Ids past the database's 64-bit range (an OverflowError on SQLite once).
        for name in re.findall(r"{(id|round_id)}", operation.path):
            for huge in HUGE_IDS:
                log.call(operation.Case(path_parameters={name: huge}), world.authorization)

    with capsys.disabled():
        print(
            f"\nfuzzed {len(operations)} operations with {log.requests.total()} requests; "
            f"statuses {dict(sorted(log.statuses.items()))}; "
            f"{len(log.server_errors)} server errors"
        )
    assert len(operations) == 18  # POST model-versions/ (registration) joined the 17
    assert set(log.requests) == {operation.label for operation in operations}
    assert log.server_errors == []


# --- hostile input sweep ------------------------------------------------------------------------

HUGE_IDS = (2**63, 10**30)


def hostile_bodies(max_bytes: int) -> dict[str, str]:
    """Request bodies that used to cost a 500 (or unbounded memory), by name."""
    return {
        "nested arrays": "[" * 50_000,
        "nested objects": '{"a":' * 20_000 + "1" + "}" * 20_000,
        "just past the nesting limit": "[" * 33 + "]" * 33,
        "malformed": '{"title": ',
        "too large": '{"title": "' + "x" * max_bytes + '"}',
    }


def concrete_path(template: str, world: World, value: object = None) -> str:
    """``template`` with its parameters filled: ``value`` if given, else a real object's."""
    known = world.path_parameters.get(template, {})
    for name in re.findall(r"{(\w+)}", template):
        filled = value if value is not None else known.get(name, 1)
        template = template.replace(f"{{{name}}}", str(filled))
    return template


def test_every_operation_answers_hostile_input_with_a_json_4xx(
    spec: dict[str, Any], settings: Settings
) -> None:
    world = seed_world()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=world.authorization)
    bodies = hostile_bodies(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
    sent = 0
    for template, operations in spec["paths"].items():
        for method, operation in operations.items():
            if method not in ("post", "put", "patch") or "requestBody" not in operation:
                continue
            content = operation["requestBody"]["content"]
            path = concrete_path(template, world)
            for name, body in bodies.items():
                response = client.generic(method.upper(), path, body, "application/json")
                sent += 1
                assert 400 <= response.status_code < 500, (name, method, path, response)
                assert response["Content-Type"] == "application/json", (name, path)
                if "application/json" in content and name == "too large":
                    assert response.status_code == 413
                elif "application/json" in content:
                    assert response.status_code == 400, (name, path, response.content[:200])
    assert sent >= 3 * len(bodies)  # rounds, data groups, API keys


def test_every_operation_answers_out_of_range_ids_with_a_json_404(spec: dict[str, Any]) -> None:
    world = seed_world()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=world.authorization)
    checked = 0
    for template, operations in spec["paths"].items():
        if not re.search(r"{(id|round_id)}", template):  # the numeric ids (not key, prefix)
            continue
        for method, huge in itertools.product(operations, HUGE_IDS):
            path = concrete_path(template, world, huge)
            response = client.generic(method.upper(), path, "{}", "application/json")
            checked += 1
            assert response.status_code == 404, (method, path, response.status_code)
            assert response["Content-Type"] == "application/json"
    assert checked >= 10


def test_too_many_files_to_the_upload_endpoint_are_a_json_400(settings: Settings) -> None:
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 3
    world = seed_world()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=world.authorization)
    files = [SimpleUploadedFile(f"{n}.png", b"x", "image/png") for n in range(4)]

    response = client.post(
        "/api/v1/data-groups/",
        {"title": "t", "consent": "true", "images": files},
        format="multipart",
    )

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"


def test_every_operation_documents_its_error_responses(spec: dict[str, Any]) -> None:
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            codes = set(operation["responses"])
            assert {"401", "403", "429"} <= codes, (method, path, codes)
            if "{" in path:
                assert "404" in codes, (method, path, codes)
            error = operation["responses"]["401"]["content"]["application/json"]["schema"]
            assert error == {"$ref": "#/components/schemas/Error"}
    start = spec["paths"]["/api/v1/rounds/{id}/start/"]["post"]["responses"]
    assert start["409"]["description"] == "The round is not a draft."
    assert "Bearer" in start["401"]["description"]
