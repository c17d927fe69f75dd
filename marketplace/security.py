"""Web security the framework does not give us: a Content Security Policy and login throttling.

Every page is built without inline scripts (data travels in ``json_script`` blocks, code in static
files), so the default policy allows scripts from this site only. Plotly injects its own style
elements, hence ``style-src 'unsafe-inline'``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth.views import LoginView
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse


class ContentSecurityPolicyMiddleware:
    """Adds ``Content-Security-Policy`` (``settings.CONTENT_SECURITY_POLICY``) to every response."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        policy = getattr(settings, "CONTENT_SECURITY_POLICY", "")
        if policy and "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = policy
        return response


class ThrottledLoginView(LoginView):
    """Django's login, refusing further attempts after repeated failures.

    After ``LOGIN_MAX_FAILURES`` failed attempts for one username from one address within
    ``LOGIN_LOCKOUT_S`` seconds, sign-in for that pair answers 429 until the window passes; a
    success clears the count. (Counts live in the configured cache: use a shared cache, e.g.
    Redis, when several web processes serve the site.)
    """

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        key = _failure_key(request)
        if cache.get(key, 0) >= settings.LOGIN_MAX_FAILURES:
            response = self.render_to_response(
                self.get_context_data(
                    form=self.get_form(),
                    locked_out=True,
                    lockout_minutes=max(1, settings.LOGIN_LOCKOUT_S // 60),
                )
            )
            response.status_code = 429
            return response
        response = super().post(request, *args, **kwargs)
        if response.status_code == 302:
            cache.delete(key)
        else:
            try:
                cache.incr(key)
            except ValueError:
                cache.set(key, 1, settings.LOGIN_LOCKOUT_S)
        return response


def _failure_key(request: HttpRequest) -> str:
    username = str(request.POST.get("username", "")).strip().lower()[:150]
    address = request.META.get("REMOTE_ADDR", "")
    return f"login-failures:{address}:{username}"
