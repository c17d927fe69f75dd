"""Deployment checks (``manage.py check --deploy``) for the embedded defaults that are wrong in
production: a per-process cache and mail printed to the console."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Tags, Warning, register

_IN_PROCESS_CACHES = (
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
)
_NO_DELIVERY_MAIL = (
    "django.core.mail.backends.console.EmailBackend",
    "django.core.mail.backends.locmem.EmailBackend",
    "django.core.mail.backends.dummy.EmailBackend",
    "django.core.mail.backends.filebased.EmailBackend",
)


@register(Tags.security, deploy=True)
def check_shared_cache(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """The sign-in lockout and the API throttles count in the default cache."""
    if settings.CACHES["default"]["BACKEND"] not in _IN_PROCESS_CACHES:
        return []
    return [
        Warning(
            "The cache is in-process (CACHE_URL is unset): each web process keeps its own "
            "sign-in lockout and API throttle counters, so N processes allow N times the guesses.",
            hint="Set CACHE_URL=redis://host:6379/2.",
            id="creditshare.W001",
        )
    ]


@register(Tags.security, deploy=True)
def check_mail_delivery(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Password reset mails must reach people."""
    if settings.EMAIL_BACKEND not in _NO_DELIVERY_MAIL:
        return []
    return [
        Warning(
            f"Mail is not delivered ({settings.EMAIL_BACKEND}): password-reset links only reach "
            "the server's console.",
            hint="Set EMAIL_URL=smtp://user:password@host:587 or EMAIL_HOST and friends.",
            id="creditshare.W002",
        )
    ]
