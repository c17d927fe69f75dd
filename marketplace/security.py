"""Web security the framework does not give us: a Content Security Policy and sign-in lockout.

Every page is built without inline scripts (data travels in ``json_script`` blocks, code in static
files), so the default policy allows scripts from this site only. Plotly injects its own style
elements, hence ``style-src 'unsafe-inline'``.

`RequestLimitsMiddleware` answers site forms that are too large or carry too many files with a
page saying so (the upload form itself for uploads), before CSRF or any view reads the body.

The lockout counts failed sign-ins per username and per client address in the default cache.
Several web processes must share that cache (``CACHE_URL=redis://…``); the embedded default is a
per-process memory cache, which ``manage.py check --deploy`` warns about.
"""

from __future__ import annotations

import contextlib
import hashlib
import unicodedata
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import admin
from django.contrib.auth.forms import AuthenticationForm, UsernameField
from django.contrib.auth.views import LoginView
from django.core.cache import cache
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import Resolver404, resolve
from django.views.decorators.cache import never_cache

from marketplace.uploads.limits import format_bytes


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


class RequestLimitsMiddleware:
    """Refuse oversized or overfull form posts with a clear page instead of Django's 400.

    Django raises ``RequestDataTooBig``/``TooManyFilesSent`` wherever the body is first read (the
    CSRF check), which ends in a bare (or, in debug, technical) 400. This middleware reads the
    body first, and answers the refusal itself: the upload page with the limit in its problem
    list for the upload form, the styled 400/413 page elsewhere. Bodies declared larger than
    ``MAX_REQUEST_BYTES`` are refused before a byte is read. The API (``/api/``) answers JSON
    itself (``marketplace.api``), so it is left alone.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method in ("POST", "PUT", "PATCH") and not request.path.startswith("/api/"):
            problem = _body_problem(request)
            if problem is not None:
                return _refuse(request, *problem)
        return self.get_response(request)


def _body_problem(request: HttpRequest) -> tuple[int, str] | None:
    """``(status, message)`` when the body breaks a limit, else None (and the body is parsed)."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 400, "The request's Content-Length header is not a number."
    limit = int(settings.MAX_REQUEST_BYTES)
    if declared > limit:
        return 413, f"The upload is {format_bytes(declared)}; at most {format_bytes(limit)} fit."
    try:
        request.POST  # noqa: B018  (parse now: files stream to disk, fields are bounded)
        request.FILES  # noqa: B018
    except TooManyFilesSent:
        count = settings.DATA_UPLOAD_MAX_NUMBER_FILES
        return 400, (
            f"Too many files: one upload takes at most {count} files. Upload the rest as "
            "another data group, or put them all in one zip archive."
        )
    except TooManyFieldsSent:
        return 400, "The form has too many fields."
    except RequestDataTooBig:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return 413, f"The form's text fields hold more than {format_bytes(limit)}."
    return None


def _refuse(request: HttpRequest, status: int, message: str) -> HttpResponse:
    try:
        view_name = resolve(request.path_info).url_name
    except Resolver404:
        view_name = None
    user = getattr(request, "user", None)
    if view_name == "upload-data-group" and user is not None and user.is_authenticated:
        from marketplace.views import render_upload_form  # views import this module's app

        return render_upload_form(request, problems=[message], status=status)
    return render(request, "400.html", {"problem": message}, status=status)


class ThrottledLoginView(LoginView):
    """Django's login behind `guard_sign_in`: refused after repeated failures, unchecked."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        base = super().post
        return guard_sign_in(request, lambda: base(request, *args, **kwargs))


@never_cache
def throttled_admin_login(request: HttpRequest, extra_context: Any = None) -> HttpResponse:
    """The admin's login (``/admin/login/``) behind the same lockout and the same counters:
    otherwise it would be a second door with no limit on guesses."""
    if request.method != "POST":
        return admin.site.login(request, extra_context)
    return guard_sign_in(request, lambda: admin.site.login(request, extra_context))


def guard_sign_in(request: HttpRequest, attempt: Callable[[], HttpResponse]) -> HttpResponse:
    """Run a sign-in ``attempt`` unless the username or the address is locked out.

    Each attempt first reserves one failure on two counters: the username's (normalised as the
    authentication form does it, see `login_key`) and the client address's. When either is past
    its limit (``LOGIN_MAX_FAILURES``, ``LOGIN_MAX_FAILURES_PER_ADDRESS``) the attempt is answered
    429 with an unbound form, without running ``attempt`` (so without ``authenticate()``): the
    answer is the same whatever the password. A success (a redirect) takes its reservation back
    and clears the username's count; the counts expire ``LOGIN_LOCKOUT_S`` seconds after the
    first failure of the window. Reserving before checking makes the limit hold for parallel
    attempts too (``incr`` is atomic in Redis).
    """
    username_key = _counter("user", login_key(request.POST.get("username", "")))
    address_key = _counter("address", client_address(request))
    over_user = _reserve(username_key) > settings.LOGIN_MAX_FAILURES
    over_address = _reserve(address_key) > settings.LOGIN_MAX_FAILURES_PER_ADDRESS
    if over_user or over_address:
        return _locked_response(request)
    response = attempt()
    if response.status_code == 302:
        cache.delete(username_key)
        _release(address_key)
    return response


def _locked_response(request: HttpRequest) -> HttpResponse:
    # An unbound form: nothing of the submitted password (right or wrong) reaches the page.
    context = {
        "form": AuthenticationForm(request),
        "locked_out": True,
        "lockout_minutes": max(1, settings.LOGIN_LOCKOUT_S // 60),
        "next": request.POST.get("next", ""),
    }
    response = render(request, "registration/login.html", context, status=429)
    response["Retry-After"] = str(settings.LOGIN_LOCKOUT_S)
    return response


def login_key(raw_username: object) -> str:
    """The username an attempt counts against: what the backend will look up, case-folded.

    The authentication form cleans the username with ``UsernameField`` (strip, then NFKC, the
    user model's ``normalize_username`` rule), so full-width and other compatibility spellings
    are one account: cleaning the same way gives them one budget. The key is also case-folded
    (then NFKC again, as folding can denormalise): the default backend is case-sensitive, but a
    case-insensitive collation (MySQL) or backend would otherwise split the budget; the price is
    that two accounts differing only in case share one. Capped at 150 characters, like the field.
    """
    text = raw_username if isinstance(raw_username, str) else ""
    cleaned = UsernameField().to_python(text) or ""
    return unicodedata.normalize("NFKC", cleaned.casefold())[:150]


def client_address(request: HttpRequest) -> str:
    """The client's address: ``REMOTE_ADDR``, or behind ``NUM_PROXIES`` trusted reverse proxies
    the address the outermost of them saw (the N-th entry from the end of X-Forwarded-For)."""
    proxies = int(getattr(settings, "NUM_PROXIES", 0))
    forwarded = str(request.META.get("HTTP_X_FORWARDED_FOR", ""))
    if proxies > 0 and forwarded:
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            return hops[-min(proxies, len(hops))]
    return str(request.META.get("REMOTE_ADDR", ""))


def _counter(kind: str, value: str) -> str:
    # Hashed: cache keys must be short ASCII (memcached), whatever the username holds.
    digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"login-failures:{kind}:{digest}"


def _reserve(key: str) -> int:
    """Count one more attempt on ``key``; the window starts with the first one."""
    cache.add(key, 0, settings.LOGIN_LOCKOUT_S)
    try:
        return int(cache.incr(key))
    except ValueError:  # expired between add and incr
        cache.set(key, 1, settings.LOGIN_LOCKOUT_S)
        return 1


def _release(key: str) -> None:
    with contextlib.suppress(ValueError):  # expired meanwhile: nothing to give back
        cache.decr(key)
