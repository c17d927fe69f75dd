"""Pages of valuation rounds: the contributor portal and the staff round dashboard (wiring only)."""

from django.urls import include, path

urlpatterns: list = [
    path("", include("attribution.portal.urls")),
    path("dashboard/", include("attribution.dashboard.urls")),
]
