"""Contributor portal URLs: credit per round, statements and their CSV."""

from django.urls import path

from attribution.portal import views

urlpatterns: list = [
    path("credit/", views.list_credit, name="credit"),
    path("credit/<int:round_id>/", views.show_statement, name="statement"),
    path("credit/<int:round_id>/statement.csv", views.download_statement, name="statement-csv"),
]
