"""A round on a metric its model does not offer is refused when created or started, never on
the worker: 400 in the API, a form error in the admin, a clear error from ``start_round``."""

from typing import Any

import pytest
from django.contrib import admin
from django.test import RequestFactory
from rest_framework.test import APIClient

from attribution.engine.profiles import PROFILES
from attribution.models import ValuationRound
from attribution.rounds.config import RoundConfigError
from attribution.rounds.services import start_round
from marketplace.models import Contributor, ModelVersion, User
from tests.attribution.factories import (
    make_contributor,
    make_model_version,
    make_round,
    tmp_media,  # noqa: F401  (autouse fixture)
)

pytestmark = pytest.mark.django_db


class InceptionOnlyProfile:
    """A profile that offers one metric, to check the refusal of the others."""

    kind = "builtin_digits"

    def available_metrics(self, model: Any = None) -> tuple[str, ...]:
        return ("inception_score",)

    def load(self, model: Any) -> Any:
        raise AssertionError("validation must not load the model")


@pytest.fixture
def inception_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(PROFILES, "builtin_digits", InceptionOnlyProfile())


@pytest.fixture
def staff_client() -> APIClient:
    client = APIClient()
    client.force_login(User.objects.create_user("ops", role=User.Role.STAFF))
    return client


def payload(version: ModelVersion, **fields: Any) -> dict[str, Any]:
    for key in ("dora", "emil"):
        make_contributor(key)
    return {
        "title": "Spring",
        "model_version": version.pk,
        "contributors": ["dora", "emil"],
        "metric": "class_entropy",
        "estimator": "exact",
        "pool": "10.00",
        "currency": "EUR",
        **fields,
    }


def test_the_api_refuses_a_metric_the_profile_does_not_offer(
    inception_only: None, staff_client: APIClient
) -> None:
    version = make_model_version(("dora", "emil"))

    response = staff_client.post("/api/v1/rounds/", payload(version), format="json")

    assert response.status_code == 400
    assert "does not offer Class diversity (entropy)" in response.json()["metric"][0]
    assert "Inception Score" in response.json()["metric"][0]
    assert not ValuationRound.objects.exists()


def test_the_api_refuses_a_metric_the_model_version_is_not_configured_for(
    staff_client: APIClient,
) -> None:
    version = ModelVersion.objects.create(
        name="sd-lora",
        kind=ModelVersion.Kind.TEXT_TO_IMAGE,
        conditions="prompt",
        path="/models/sd",
        clip_path="/models/clip",
    )

    response = staff_client.post(
        "/api/v1/rounds/", payload(version, metric="aesthetic"), format="json"
    )

    assert response.status_code == 400
    message = response.json()["metric"][0]
    assert "does not offer Aesthetic score" in message
    assert "Prompt fidelity" in message  # CLIP alone offers prompt fidelity


def test_the_api_refuses_a_model_kind_without_a_profile(
    staff_client: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delitem(PROFILES, "text_to_image")
    version = ModelVersion.objects.create(
        name="sd-lora", kind=ModelVersion.Kind.TEXT_TO_IMAGE, conditions="prompt", path="/models"
    )

    response = staff_client.post("/api/v1/rounds/", payload(version), format="json")

    assert response.status_code == 400
    assert "cannot value yet" in response.json()["metric"][0]


def test_the_admin_form_refuses_a_metric_the_profile_does_not_offer(inception_only: None) -> None:
    version = make_model_version(("dora", "emil"))
    data = payload(version, budget=16, n_samples=4, n_bootstrap=0, seed=0)
    data["contributors"] = list(Contributor.objects.values_list("pk", flat=True))
    data.update(negative_policy="floor", created_at_0="2026-12-01", created_at_1="10:00:00")
    request = RequestFactory().get("/admin/")
    request.user = User.objects.create_superuser("root", password="x")
    form_class = admin.site._registry[ValuationRound].get_form(request)

    form = form_class(data=data)

    assert not form.is_valid()
    assert "does not offer Class diversity (entropy)" in form.errors["metric"][0]


def test_starting_a_round_whose_metric_is_not_offered_is_refused(inception_only: None) -> None:
    round = make_round(("dora", "emil"), metric="class_entropy")

    with pytest.raises(RoundConfigError, match="does not offer"):
        start_round(round.pk, enqueue=False)

    round.refresh_from_db()
    assert round.status == ValuationRound.Status.DRAFT


def test_label_fidelity_needs_numeric_labels_at_start() -> None:
    contributors = [make_contributor("dora", labels=("cat", "dog")), make_contributor("emil")]
    round = make_round(("dora", "emil"), contributors=contributors, metric="label_fidelity")

    with pytest.raises(RoundConfigError, match="Label fidelity needs every record"):
        start_round(round.pk, enqueue=False)


def test_a_budget_below_the_estimators_minimum_is_refused_at_creation_and_start(
    staff_client: APIClient,
) -> None:
    version = make_model_version(("dora", "emil"))
    body = payload(version, estimator="crossfit", budget=8, metric="inception_score")

    response = staff_client.post("/api/v1/rounds/", body, format="json")

    assert response.status_code == 400
    assert "at least 16 coalitions for 2 contributors" in response.json()["budget"][0]
    contributors = list(Contributor.objects.filter(key__in=("dora", "emil")))
    round = make_round(
        ("dora", "emil"), version=version, contributors=contributors, estimator="crossfit", budget=8
    )
    with pytest.raises(RoundConfigError, match="at least 16 coalitions"):
        start_round(round.pk, enqueue=False)


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"n_samples": 64, "max_samples": 32}, "below the round's 64 samples"),
        ({"max_samples": 256, "n_bootstrap": 0}, "needs their noise measured"),
        ({"max_samples": 256, "estimator": "loo"}, "needs their noise measured"),
    ],
)
def test_a_growth_allowance_that_cannot_work_is_refused_at_creation(
    staff_client: APIClient, fields: dict[str, Any], words: str
) -> None:
    version = make_model_version(("dora", "emil"))
    body = payload(version, metric="inception_score", **fields)

    response = staff_client.post("/api/v1/rounds/", body, format="json")

    assert response.status_code == 400
    assert words in response.json()["max_samples"][0]


def test_a_round_created_with_a_growth_allowance_keeps_it(staff_client: APIClient) -> None:
    version = make_model_version(("dora", "emil"))
    body = payload(version, metric="inception_score", n_samples=64, max_samples=640)

    response = staff_client.post("/api/v1/rounds/", body, format="json")

    assert response.status_code == 201, response.json()
    assert response.json()["max_samples"] == 640
    assert ValuationRound.objects.get().max_samples == 640
