"""REST API v1 URLs: wiring of both apps' API views, the schema and its docs.

The OpenAPI schema (``schema/``) and its Swagger UI page are public (the API's shape is
no secret); every other endpoint needs a session or an API key. Unknown paths answer JSON 404.
"""

from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import SimpleRouter

from attribution.api import RoundValueList, RoundViewSet
from marketplace.api import (
    ApiKeyViewSet,
    ContributorViewSet,
    DataGroupViewSet,
    ModelVersionViewSet,
    PayoutViewSet,
)
from marketplace.api_policy import reject_unknown_path

router = SimpleRouter()
router.register("contributors", ContributorViewSet, basename="api-contributor")
router.register("data-groups", DataGroupViewSet, basename="api-data-group")
router.register("model-versions", ModelVersionViewSet, basename="api-model-version")
router.register("rounds", RoundViewSet, basename="api-round")
router.register("payouts", PayoutViewSet, basename="api-payout")
router.register("api-keys", ApiKeyViewSet, basename="api-key")

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's start-up code as a script file: no inline script, so the
    # docs work under the site's Content-Security-Policy.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("rounds/<int:round_id>/values/", RoundValueList.as_view(), name="api-round-values"),
    *router.urls,
    re_path(r"^(?P<path>.*)$", reject_unknown_path),
]
