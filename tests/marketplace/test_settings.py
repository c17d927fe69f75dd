"""DATABASE_URL → Django's DATABASES entry (the production database setting)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from marketplace.settings import _database_from_url


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
