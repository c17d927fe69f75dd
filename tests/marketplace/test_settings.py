"""Settings read from URLs: DATABASE_URL, CACHE_URL and EMAIL_URL → Django's entries."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from marketplace.settings import (
    _cache_from_url,
    _database_from_url,
    _email_from_url,
    _env_payout_day,
)

ROOT = Path(__file__).resolve().parents[2]


def test_a_full_url_maps_every_part() -> None:
    config = _database_from_url("postgres://credit:s3cret@db.internal:6543/creditshare")
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["NAME"], config["USER"], config["PASSWORD"]) == (
        "creditshare",
        "credit",
        "s3cret",
    )
    assert (config["HOST"], config["PORT"]) == ("db.internal", "6543")
    assert config["CONN_HEALTH_CHECKS"] is True
    assert config["OPTIONS"] == {}


def test_percent_encoded_credentials_and_query_options() -> None:
    config = _database_from_url(
        "postgresql://app%40corp:p%2Fa%3As%23s@10.0.0.5/credits%2Dprod?sslmode=require"
    )
    assert config["USER"] == "app@corp"
    assert config["PASSWORD"] == "p/a:s#s"
    assert config["NAME"] == "credits-prod"
    assert config["PORT"] == ""
    assert config["OPTIONS"] == {"sslmode": "require"}


@pytest.mark.parametrize(
    "url",
    [
        "postgres://app@%2Frun%2Fpostgresql/credits",
        "postgres://app@/credits?host=/run/postgresql",
    ],
)
def test_a_unix_socket_directory_is_the_host(url: str) -> None:
    config = _database_from_url(url)
    assert config["HOST"] == "/run/postgresql"
    assert config["NAME"] == "credits"
    assert "host" not in config["OPTIONS"]  # type: ignore[operator]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://root@localhost/credits", "scheme 'mysql' is not supported"),
        ("sqlite:///var/db.sqlite3", "scheme 'sqlite' is not supported"),
        ("postgres://app@localhost:5432/", "names no database"),
        ("postgres://app@localhost", "names no database"),
    ],
)
def test_unsupported_or_incomplete_urls_are_refused_with_the_reason(url: str, message: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=message):
        _database_from_url(url)


# --- CACHE_URL: the cache every web process shares (sign-in lockout, API throttles) -------------


@pytest.mark.parametrize(
    ("url", "backend", "location"),
    [
        ("redis://cache.internal:6379/2", "redis.RedisCache", "redis://cache.internal:6379/2"),
        ("rediss://:pw@cache.internal:6380/0", "redis.RedisCache", None),
        ("locmem://", "locmem.LocMemCache", None),
    ],
)
def test_cache_urls_map_to_django_backends(url: str, backend: str, location: str | None) -> None:
    config = _cache_from_url(url)
    assert config["BACKEND"] == f"django.core.cache.backends.{backend}"
    if location is not None:
        assert config["LOCATION"] == location


def test_an_unknown_cache_scheme_is_refused() -> None:
    with pytest.raises(ImproperlyConfigured, match="CACHE_URL scheme 'memcache'"):
        _cache_from_url("memcache://127.0.0.1:11211")
    with pytest.raises(ImproperlyConfigured, match="CACHE_URL scheme 'file'"):
        _cache_from_url("file:///var/cache/creditshare")


# --- EMAIL_URL: password-reset mail -------------------------------------------------------------


def test_an_smtp_url_uses_starttls_on_587_by_default() -> None:
    config = _email_from_url("smtp://mailer%40corp:p%2Fw@smtp.example.org")
    assert config == {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "smtp.example.org",
        "EMAIL_PORT": 587,
        "EMAIL_HOST_USER": "mailer@corp",
        "EMAIL_HOST_PASSWORD": "p/w",
        "EMAIL_USE_SSL": False,
        "EMAIL_USE_TLS": True,
    }


def test_an_smtps_url_uses_implicit_tls_on_465() -> None:
    config = _email_from_url("smtps://u:p@smtp.example.org")
    assert (config["EMAIL_PORT"], config["EMAIL_USE_SSL"], config["EMAIL_USE_TLS"]) == (
        465,
        True,
        False,
    )


@pytest.mark.parametrize(
    ("url", "message"),
    [("smtp://", "names no host"), ("http://mail.example.org", "scheme 'http'")],
)
def test_bad_email_urls_are_refused_with_the_reason(url: str, message: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=message):
        _email_from_url(url)


def mail_settings(**env: str) -> list[str]:
    """EMAIL_BACKEND and EMAIL_HOST as a fresh process reads them from ``env``."""
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.EMAIL_BACKEND, getattr(settings, 'EMAIL_HOST', ''))"
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "EMAIL_"))}
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "marketplace.settings", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_mail_goes_to_the_console_by_default_and_to_smtp_when_configured() -> None:
    assert mail_settings() == ["django.core.mail.backends.console.EmailBackend", "localhost"]
    smtp = "django.core.mail.backends.smtp.EmailBackend"
    assert mail_settings(EMAIL_URL="smtp://u:p@mx.example.org:2525") == [smtp, "mx.example.org"]
    assert mail_settings(EMAIL_HOST="relay.example.org") == [smtp, "relay.example.org"]


def test_the_payout_day_is_unset_unless_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PAYOUT_SCHEDULE_DAY", raising=False)
    assert _env_payout_day("PAYOUT_SCHEDULE_DAY") is None
    monkeypatch.setenv("PAYOUT_SCHEDULE_DAY", " ")
    assert _env_payout_day("PAYOUT_SCHEDULE_DAY") is None
    monkeypatch.setenv("PAYOUT_SCHEDULE_DAY", "15")
    assert _env_payout_day("PAYOUT_SCHEDULE_DAY") == 15


@pytest.mark.parametrize("raw", ["0", "29", "31", "-1", "15th", "1.5"])
def test_a_payout_day_not_in_every_month_is_refused(
    monkeypatch: pytest.MonkeyPatch, raw: str
) -> None:
    monkeypatch.setenv("PAYOUT_SCHEDULE_DAY", raw)
    with pytest.raises(ImproperlyConfigured, match=r"from 1 to 28"):
        _env_payout_day("PAYOUT_SCHEDULE_DAY")
