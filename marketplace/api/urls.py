"""REST API v1 URLs of the marketplace (people, data, money), the schema and its docs.

The root URLconf includes ``attribution.api.urls`` (rounds and values) before this module, whose
last pattern answers every unknown path under ``api/v1/`` with a JSON 404.

``/api/v1/`` itself is an index page linking the schema, Swagger UI and ReDoc. The OpenAPI
schema (``schema/``) and its Swagger UI and ReDoc pages are public (the API's shape is
no secret); every other endpoint needs a session or an API key. Unknown paths answer JSON 404.
"""

from django.urls import path, re_path
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)
from rest_framework.routers import SimpleRouter

from marketplace.api.policy import reject_unknown_path
from marketplace.api.views import (
    ApiKeyViewSet,
    ContributorViewSet,
    DataGroupViewSet,
    PayoutViewSet,
    show_api_index,
)

router = SimpleRouter()
router.register("contributors", ContributorViewSet, basename="api-contributor")
router.register("data-groups", DataGroupViewSet, basename="api-data-group")
router.register("payouts", PayoutViewSet, basename="api-payout")
router.register("api-keys", ApiKeyViewSet, basename="api-key")

urlpatterns = [
    path("", show_api_index, name="api-index"),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's start-up code as a script file: no inline script, so the
    # docs work under the site's Content-Security-Policy.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    # ReDoc from the sidecar's files, in a page of ours without drf-spectacular's web fonts.
    path(
        "redoc/",
        SpectacularRedocView.as_view(url_name="api-schema", template_name="api/redoc.html"),
        name="api-redoc",
    ),
    *router.urls,
    re_path(r"^(?P<path>.*)$", reject_unknown_path),
]
