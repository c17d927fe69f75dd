"""The site's foundation: the home page, Django's system checks and the settings' safety rails."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client

REPO_ROOT = Path(__file__).resolve().parents[2]

SETUP_DJANGO = "import django; django.setup()"


def run_django_setup(**env_overrides: str) -> subprocess.CompletedProcess[str]:
    """Start Django in a fresh interpreter with the given environment changes; return the result."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "CELERY_"))}
    env.update(DJANGO_SETTINGS_MODULE="marketplace.settings", **env_overrides)
    return subprocess.run(
        [sys.executable, "-c", SETUP_DJANGO],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_home_page_shows_the_product_name(client: Client) -> None:
    response = client.get("/")

    assert response.status_code == 200
    assert "Creditshare" in response.content.decode()


@pytest.mark.django_db  # closing the streamed file closes DB connections opened by earlier tests
def test_home_page_links_a_stylesheet_that_is_served(client: Client) -> None:
    page = client.get("/").content.decode()
    stylesheet = client.get("/static/css/site.css")
    css = stylesheet.getvalue()
    stylesheet.close()  # a file response: close it so the file handle is not leaked

    assert "/static/css/site.css" in page
    assert stylesheet.status_code == 200
    assert b"body" in css


def test_system_checks_pass() -> None:
    call_command("check")  # raises SystemCheckError on any error


def test_settings_refuse_to_start_without_secret_key_when_debug_is_off() -> None:
    result = run_django_setup(DJANGO_DEBUG="0")

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "DJANGO_SECRET_KEY is not set" in result.stderr


def test_settings_start_with_debug_off_when_a_secret_key_is_given() -> None:
    result = run_django_setup(DJANGO_DEBUG="0", DJANGO_SECRET_KEY="x" * 50)

    assert result.returncode == 0, result.stderr


@pytest.mark.django_db
def test_password_reset_mails_a_link_that_sets_a_new_password(client: Client) -> None:
    from django.core import mail

    from marketplace.models import User

    User.objects.create_user("ada", email="ada@example.org", password="old-password-1")

    sent = client.post("/accounts/password_reset/", {"email": "ada@example.org"})
    [message] = mail.outbox
    link = re.search(r"http://testserver(/accounts/reset/\S+/)", message.body)
    assert sent.status_code == 302
    assert link is not None
    form = client.get(link.group(1), follow=True)
    done = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": "a-new-passphrase-9", "new_password2": "a-new-passphrase-9"},
        follow=True,
    )

    assert "Choose a new password" in form.content.decode()
    assert "Password set" in done.content.decode()
    assert client.login(username="ada", password="a-new-passphrase-9")
