"""REST API v1 URLs of valuation rounds and their values (included under ``api/v1/``)."""

from django.urls import path
from rest_framework.routers import SimpleRouter

import marketplace.converters  # noqa: F401  (registers <id:…>: ids past 2**63 - 1 are 404s)
from attribution.api.model_versions import ModelVersionViewSet
from attribution.api.views import RoundValueList, RoundViewSet

router = SimpleRouter()
router.register("rounds", RoundViewSet, basename="api-round")
router.register("model-versions", ModelVersionViewSet, basename="api-model-version")

urlpatterns = [
    path("rounds/<id:round_id>/values/", RoundValueList.as_view(), name="api-round-values"),
    *router.urls,
]
