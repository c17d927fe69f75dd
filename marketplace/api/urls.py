"""REST API v1 URLs of the marketplace (people, data, money), the schema and its docs.

The root URLconf includes ``attribution.api.urls`` (rounds and values) before this module, whose
last pattern answers every unknown path under ``api/v1/`` with a JSON 404.

The OpenAPI schema (``schema/``) and its Swagger UI page are public (the API's shape is
no secret); every other endpoint needs a session or an API key. Unknown paths answer JSON 404.
"""

from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import SimpleRouter

from marketplace.api.policy import reject_unknown_path
from marketplace.api.views import (
    ApiKeyViewSet,
    ContributorViewSet,
    DataGroupViewSet,
    PayoutViewSet,
)

router = SimpleRouter()
router.register("contributors", ContributorViewSet, basename="api-contributor")
router.register("data-groups", DataGroupViewSet, basename="api-data-group")
router.register("payouts", PayoutViewSet, basename="api-payout")
router.register("api-keys", ApiKeyViewSet, basename="api-key")

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's start-up code as a script file: no inline script, so the
    # docs work under the site's Content-Security-Policy.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    *router.urls,
    re_path(r"^(?P<path>.*)$", reject_unknown_path),
]
