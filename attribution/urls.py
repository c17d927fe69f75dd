"""Pages of valuation rounds: the contributor portal and the staff round dashboard."""

from django.urls import include, path

urlpatterns: list = [
    path("dashboard/", include("attribution.dashboard_urls")),
]
