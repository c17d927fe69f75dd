"""Staff round dashboard URLs (included under ``dashboard/`` by ``attribution.urls``)."""

from django.urls import path

import marketplace.converters  # noqa: F401  (registers <id:…>: ids past 2**63 - 1 are 404s)
from attribution.dashboard import views

urlpatterns = [
    path("", views.list_rounds, name="round-dashboard-list"),
    path("compare/", views.compare_rounds, name="round-compare"),
    path("<id:round_id>/", views.show_round, name="round-dashboard"),
    path("<id:round_id>/progress.json", views.show_round_progress, name="round-progress"),
]
