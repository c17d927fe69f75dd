"""Server-rendered marketplace pages."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def show_home(request: HttpRequest) -> HttpResponse:
    """Render the public home page that explains what Creditshare does."""
    return render(request, "home.html")
