"""Security: deploy checks, CSP, login throttling, and no private page or endpoint for anonymous."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from marketplace.models import User

ROOT = Path(settings.BASE_DIR)


def test_production_settings_pass_check_deploy_without_warnings() -> None:
    env = {
        **os.environ,
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "credits.example.org",
    }
    env.pop("DATABASE_URL", None)
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.django_db
def test_every_page_carries_a_content_security_policy(client: Client) -> None:
    policy = client.get("/")["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-eval" not in policy
    assert "frame-ancestors 'none'" in policy


@pytest.mark.django_db
class TestLoginThrottling:
    @pytest.fixture(autouse=True)
    def _clear(self) -> None:
        cache.clear()

    def _post(self, client: Client, password: str) -> int:
        response = client.post("/accounts/login/", {"username": "ada", "password": password})
        return response.status_code

    def test_repeated_failures_lock_the_account_for_that_address(self, client: Client) -> None:
        User.objects.create_user("ada", password="right-password")
        for _ in range(settings.LOGIN_MAX_FAILURES):
            assert self._post(client, "wrong") == 200
        assert self._post(client, "right-password") == 429
        response = client.post("/accounts/login/", {"username": "ada", "password": "x"})
        assert b"Too many failed sign-ins" in response.content

    def test_a_success_clears_the_count(self, client: Client) -> None:
        User.objects.create_user("ada", password="right-password")
        for _ in range(settings.LOGIN_MAX_FAILURES - 1):
            self._post(client, "wrong")
        assert self._post(client, "right-password") == 302
        client.logout()
        for _ in range(settings.LOGIN_MAX_FAILURES - 1):
            assert self._post(client, "wrong") == 200


PUBLIC = {
    "",
    "favicon.ico",
    "accounts/login/",
    "accounts/logout/",
    "accounts/password_reset/",
    "accounts/password_reset/done/",
    "accounts/reset/done/",
    "api/v1/schema/",
    "api/v1/docs/",
}


def _concrete_paths(patterns: list, prefix: str = "") -> list[str]:  # type: ignore[type-arg]
    """Every URL pattern with its converters filled in with plausible values."""
    paths = []
    for pattern in patterns:
        text = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            if text.startswith("admin/"):
                paths.append("admin/")  # the admin guards every page itself
                continue
            paths.extend(_concrete_paths(pattern.url_patterns, text))
        elif isinstance(pattern, URLPattern):
            path = (
                text.replace("<int:round_id>", "1")
                .replace("<int:group_id>", "1")
                .replace("<int:pk>", "1")
                .replace("<pk>", "1")
                .replace("<str:pk>", "abc")
                .replace("<prefix>", "abc")
                .replace("<uidb64>", "MQ")
                .replace("<token>", "set-password")
                .lstrip("^")
                .rstrip("$")
            )
            if "(?P" in path or "<" in path or "\\" in path:
                continue  # regex catch-alls (the API's JSON 404) are covered by other tests
            paths.append(path)
    return sorted(set(paths))


@pytest.mark.django_db
def test_anonymous_visitors_get_nothing_private(client: Client) -> None:
    from tests.attribution.factories import make_succeeded_round

    make_succeeded_round()  # so object URLs (id 1) point at something real
    checked = 0
    for path in _concrete_paths(get_resolver().url_patterns):
        if path in PUBLIC or path.startswith(("accounts/reset/", "static/")):
            continue
        for method in ("get", "post"):
            response = getattr(client, method)("/" + path)
            assert response.status_code in (301, 302, 401, 403, 404, 405), (
                f"anonymous {method.upper()} /{path} answered {response.status_code}"
            )
            if response.status_code in (301, 302):
                assert (
                    "/accounts/login/" in response["Location"]
                    or "/admin/login/" in (response["Location"])
                ), f"/{path} redirects anonymous visitors to {response['Location']}"
            checked += 1
    assert checked >= 30
