"""Contributor portal URLs: credit per round, statements and their CSV."""

from django.urls import path

import marketplace.converters  # noqa: F401  (registers <id:…>: ids past 2**63 - 1 are 404s)
from attribution.portal import views

urlpatterns: list = [
    path("credit/", views.list_credit, name="credit"),
    path("credit/<id:round_id>/", views.show_statement, name="statement"),
    path("credit/<id:round_id>/statement.csv", views.download_statement, name="statement-csv"),
]
