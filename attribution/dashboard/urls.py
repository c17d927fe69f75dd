"""Staff round dashboard URLs (included under ``dashboard/`` by ``attribution.urls``)."""

from django.urls import path

import marketplace.converters  # noqa: F401  (registers <id:…>: ids past 2**63 - 1 are 404s)
from attribution.dashboard import operations, views

urlpatterns = [
    path("", views.list_rounds, name="round-dashboard-list"),
    path("new/", operations.new_round, name="round-new"),
    path("compare/", views.compare_rounds, name="round-compare"),
    path("<id:round_id>/", views.show_round, name="round-dashboard"),
    path("<id:round_id>/progress.json", views.show_round_progress, name="round-progress"),
    path("<id:round_id>/edit/", operations.edit_round, name="round-edit"),
    path("<id:round_id>/start/", operations.start_round, name="round-start"),
    path("<id:round_id>/cancel/", operations.cancel_round, name="round-cancel"),
    path("<id:round_id>/restart/", operations.restart_round, name="round-restart"),
    path("<id:round_id>/payouts/", operations.create_payouts, name="round-create-payouts"),
    path("batches/<id:batch_id>/", views.show_batch, name="round-batch"),
    path("batches/<id:batch_id>/approve/", operations.approve_batch, name="round-batch-approve"),
    path("batches/<id:batch_id>/payouts.csv", views.export_batch, name="round-batch-csv"),
]
