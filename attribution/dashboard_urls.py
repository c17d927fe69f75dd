"""Staff round dashboard URLs (included under ``dashboard/`` by ``attribution.urls``)."""

from django.urls import path

from attribution import dashboard

urlpatterns = [
    path("", dashboard.list_rounds, name="round-dashboard-list"),
    path("compare/", dashboard.compare_rounds, name="round-compare"),
    path("<int:round_id>/", dashboard.show_round, name="round-dashboard"),
    path("<int:round_id>/progress.json", dashboard.show_round_progress, name="round-progress"),
]
