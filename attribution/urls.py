"""Pages of valuation rounds: the contributor portal and the staff round dashboard."""

from django.urls import include, path

from attribution import views

urlpatterns: list = [
    path("credit/", views.list_credit, name="credit"),
    path("credit/<int:round_id>/", views.show_statement, name="statement"),
    path("credit/<int:round_id>/statement.csv", views.download_statement, name="statement-csv"),
    path("dashboard/", include("attribution.dashboard_urls")),
]
