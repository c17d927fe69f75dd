"""Who may use the round dashboard: staff (``User.is_operator``, as in the API).

Anonymous visitors are sent to the login page; other signed-in users get 403.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.urls import reverse

from marketplace.api.permissions import is_staff

View = Callable[..., HttpResponse]
LANDING = "round-dashboard-list"


def staff_required(view: View) -> View:
    """Let staff through; send anonymous visitors to log in; refuse everyone else (403)."""

    @wraps(view)
    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            # After signing in, a form's target (POST only) would answer 405: come back to the
            # dashboard instead.
            back = request.get_full_path() if request.method == "GET" else reverse(LANDING)
            return redirect_to_login(back)
        if not is_staff(request.user):
            raise PermissionDenied("The round dashboard is for staff.")
        return view(request, *args, **kwargs)

    return guarded
