"""REST API v1 URLs of valuation rounds and their values (included under ``api/v1/``)."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from attribution.api.views import RoundValueList, RoundViewSet

router = SimpleRouter()
router.register("rounds", RoundViewSet, basename="api-round")

urlpatterns = [
    path("rounds/<int:round_id>/values/", RoundValueList.as_view(), name="api-round-values"),
    *router.urls,
]
