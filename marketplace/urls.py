"""Root URL configuration."""

from django.contrib import admin
from django.urls import path

from marketplace import views

urlpatterns = [
    path("", views.show_home, name="home"),
    path("admin/", admin.site.urls),
]
