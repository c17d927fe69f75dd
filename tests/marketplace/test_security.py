"""Security: deploy checks, CSP, login throttling, and no private page or endpoint for anonymous."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth import forms as auth_forms
from django.core.cache import cache
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from marketplace.models import User
from marketplace.security import login_key
from tests.attribution.servers import redis_available, redis_server

ROOT = Path(settings.BASE_DIR)


def run_check_deploy(**overrides: str) -> subprocess.CompletedProcess[str]:
    """``manage.py check --deploy --fail-level WARNING`` with production settings + overrides."""
    env = {
        **os.environ,
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "credits.example.org",
    }
    for name in (
        "DATABASE_URL",
        "DJANGO_ALLOW_ASYNC_UNSAFE",
        "CACHE_URL",
        "EMAIL_URL",
        "EMAIL_HOST",
    ):
        env.pop(name, None)
    env.update(overrides)
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_settings_pass_check_deploy_without_warnings() -> None:
    result = run_check_deploy(
        CACHE_URL="redis://127.0.0.1:6379/2", EMAIL_URL="smtp://mailer:secret@smtp.example.org:587"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_warns_about_the_in_process_cache_and_console_mail() -> None:
    result = run_check_deploy()

    assert result.returncode != 0
    assert "creditshare.W001" in result.stderr  # per-process lockout counters
    assert "creditshare.W002" in result.stderr  # password reset mails go nowhere


@pytest.mark.django_db
def test_every_page_carries_a_content_security_policy(client: Client) -> None:
    policy = client.get("/")["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-eval" not in policy
    assert "frame-ancestors 'none'" in policy


def page_without_tokens(response: Any) -> str:
    """The page's text with the per-response CSRF tokens (random by design) blanked out."""
    return re.sub(r'value="[A-Za-z0-9]{64}"', 'value="TOKEN"', response.content.decode())


@pytest.mark.django_db
class TestLoginLockout:
    @pytest.fixture(autouse=True)
    def _clear(self) -> None:
        cache.clear()

    @pytest.fixture
    def checks(self, monkeypatch: pytest.MonkeyPatch) -> list[str]:
        """Usernames that reached a password check (``authenticate`` as the login form calls it)."""
        seen: list[str] = []

        def counting(request: Any = None, **credentials: Any) -> Any:
            seen.append(credentials.get("username", ""))
            return authenticate(request, **credentials)

        monkeypatch.setattr(auth_forms, "authenticate", counting)
        return seen

    def _post(
        self, client: Client, password: str, username: str = "ada", address: str = "10.0.0.1"
    ) -> Any:
        return client.post(
            "/accounts/login/",
            {"username": username, "password": password},
            REMOTE_ADDR=address,
        )

    def _lock(self, client: Client, username: str = "ada") -> None:
        for _ in range(settings.LOGIN_MAX_FAILURES):
            assert self._post(client, "wrong", username).status_code == 200

    def test_repeated_failures_lock_the_account(self, client: Client) -> None:
        User.objects.create_user("ada", password="right-password")
        self._lock(client)

        locked = self._post(client, "right-password")

        assert locked.status_code == 429
        assert b"Too many failed sign-ins" in locked.content
        assert "_auth_user_id" not in client.session

    def test_a_locked_attempt_never_reaches_the_password_check(
        self, client: Client, checks: list[str]
    ) -> None:
        User.objects.create_user("ada", password="right-password")
        self._lock(client)
        assert len(checks) == settings.LOGIN_MAX_FAILURES

        self._post(client, "right-password")
        self._post(client, "wrong")

        assert len(checks) == settings.LOGIN_MAX_FAILURES

    def test_the_locked_answer_is_the_same_for_right_and_wrong_passwords(
        self, client: Client
    ) -> None:
        User.objects.create_user("ada", password="right-password")
        self._lock(client)

        right, wrong = self._post(client, "right-password"), self._post(client, "wrong")

        assert (right.status_code, wrong.status_code) == (429, 429)
        assert page_without_tokens(right) == page_without_tokens(wrong)
        assert "right-password" not in page_without_tokens(right)

    @pytest.mark.parametrize("spelling", ["ａｄａ", " ada ", "ADA", "Ａｄａ"])
    def test_look_alike_spellings_share_the_budget(self, client: Client, spelling: str) -> None:
        User.objects.create_user("ada", password="right-password")
        self._lock(client, "ada")

        assert self._post(client, "right-password", spelling).status_code == 429
        assert self._post(client, "right-password", "ada").status_code == 429

    def test_full_width_failures_lock_the_real_spelling(self, client: Client) -> None:
        User.objects.create_user("ada", password="right-password")
        self._lock(client, "ａｄａ")  # NFKC: the same account for authenticate()

        assert self._post(client, "right-password", "ada").status_code == 429

    def test_failures_from_many_addresses_lock_the_username(self, client: Client) -> None:
        User.objects.create_user("ada", password="right-password")
        for n in range(settings.LOGIN_MAX_FAILURES):
            assert self._post(client, "wrong", address=f"10.0.1.{n}").status_code == 200

        assert self._post(client, "right-password", address="10.0.2.1").status_code == 429

    def test_a_spray_over_many_usernames_locks_the_address(
        self, client: Client, settings: Any
    ) -> None:
        settings.LOGIN_MAX_FAILURES_PER_ADDRESS = 8
        User.objects.create_user("ada", password="right-password")
        for n in range(8):
            assert self._post(client, "wrong", username=f"user{n}").status_code == 200

        assert self._post(client, "right-password").status_code == 429
        assert self._post(client, "right-password", address="10.9.9.9").status_code == 302

    def test_a_success_clears_the_username_count(self, client: Client) -> None:
        User.objects.create_user("ada", password="right-password")
        for _ in range(settings.LOGIN_MAX_FAILURES - 1):
            self._post(client, "wrong")
        assert self._post(client, "right-password").status_code == 302
        client.logout()
        for _ in range(settings.LOGIN_MAX_FAILURES - 1):
            assert self._post(client, "wrong").status_code == 200

    def test_the_admin_login_shares_the_lockout(self, client: Client, checks: list[str]) -> None:
        User.objects.create_superuser("ada", "ada@example.org", password="right-password")
        for _ in range(settings.LOGIN_MAX_FAILURES - 2):
            assert self._post(client, "wrong").status_code == 200
        for _ in range(2):
            failed = client.post(
                "/admin/login/", {"username": "ada", "password": "wrong"}, REMOTE_ADDR="10.0.0.1"
            )
            assert failed.status_code == 200
        n_checks = len(checks)

        locked = client.post(
            "/admin/login/",
            {"username": "ａｄａ", "password": "right-password"},
            REMOTE_ADDR="10.0.0.2",
        )

        assert locked.status_code == 429
        assert len(checks) == n_checks
        assert "_auth_user_id" not in client.session

    def test_the_admin_login_still_signs_staff_in(self, client: Client) -> None:
        User.objects.create_superuser("ada", "ada@example.org", password="right-password")

        response = client.post(
            "/admin/login/?next=/admin/", {"username": "ada", "password": "right-password"}
        )

        assert response.status_code == 302
        assert client.get("/admin/").status_code == 200

    def test_the_key_is_the_username_the_form_authenticates(self) -> None:
        assert login_key("ａｄａ") == login_key("ada") == login_key(" Ada\t")
        assert login_key("ﬁona") == login_key("fiona")  # NFKC ligature
        assert login_key("ada") != login_key("adb")
        assert login_key(["not", "a", "string"]) == ""


SHARED_CACHE_PROBE = """
import django, sys
django.setup()
from django.test import Client
client = Client(HTTP_HOST="localhost", REMOTE_ADDR="10.0.0.1")
action = sys.argv[1]
if action == "login":
    response = client.post("/accounts/login/", {"username": "ada", "password": "any"})
else:
    response = client.get("/api/v1/schema/")
print(response.status_code)
"""


def process_env(tmp_path: Path, cache_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "CACHE_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="marketplace.settings",
        CACHE_URL=cache_url,
        DJANGO_SQLITE_PATH=str(tmp_path / "other.sqlite3"),
        API_THROTTLE_ANON="3/minute",
    )
    return env


def probe_other_process(tmp_path: Path, cache_url: str, action: str) -> int:
    """Answer one request in a fresh interpreter (another 'web process') using ``cache_url``."""
    result = subprocess.run(
        [sys.executable, "-c", SHARED_CACHE_PROBE, action],
        cwd=ROOT,
        env=process_env(tmp_path, cache_url),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return int(result.stdout.strip().splitlines()[-1])


@pytest.mark.slow
@pytest.mark.skipif(not redis_available(), reason="redis-server is not installed")
def test_a_lock_and_a_throttle_are_seen_by_every_process(tmp_path: Path) -> None:
    with redis_server(tmp_path) as url:
        cache_url = f"{url}/2"
        migrate = [sys.executable, "manage.py", "migrate", "--verbosity", "0"]
        env = process_env(tmp_path, cache_url)
        subprocess.run(migrate, cwd=ROOT, env=env, check=True, timeout=300)
        # Three processes each spend part of the budgets; the fourth finds them spent.
        for _ in range(settings.LOGIN_MAX_FAILURES):
            assert probe_other_process(tmp_path, cache_url, "login") == 200
        for _ in range(3):
            assert probe_other_process(tmp_path, cache_url, "schema") == 200

        assert probe_other_process(tmp_path, cache_url, "login") == 429
        assert probe_other_process(tmp_path, cache_url, "schema") == 429


PUBLIC = {
    "",
    "favicon.ico",
    "accounts/login/",
    "admin/login/",
    "accounts/logout/",
    "accounts/password_reset/",
    "accounts/password_reset/done/",
    "accounts/reset/done/",
    "api/v1/",
    "api/v1/schema/",
    "api/v1/docs/",
    "api/v1/redoc/",
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
                re.sub(r"<(?:int|id):(?:round_id|group_id|record_id)>", "1", text)
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


def _id_paths(patterns: list, prefix: str = "") -> list[str]:  # type: ignore[type-arg]
    """Every URL pattern that takes a numeric id, as a regex-free template with ``{id}``."""
    paths = []
    for pattern in patterns:
        text = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            if not text.startswith("admin/"):
                paths.extend(_id_paths(pattern.url_patterns, text))
        elif re.search(r"<(?:int|id):\w+>", text):
            paths.append(re.sub(r"<(?:int|id):\w+>", "{id}", text))
    return sorted(set(paths))


@pytest.mark.django_db
@pytest.mark.parametrize("huge", [2**63, 10**30])
def test_out_of_range_ids_are_a_404_on_every_page(client: Client, huge: int) -> None:
    from tests.attribution.factories import make_contributor

    staff = User.objects.create_superuser("root", "root@example.com", password=None)
    staff.contributor = make_contributor("ada")
    staff.save()
    client.force_login(staff)
    paths = _id_paths(get_resolver().url_patterns)
    assert {"credit/{id}/", "credit/{id}/statement.csv", "dashboard/{id}/"} <= set(paths)

    for path in paths:
        for method in ("get", "post"):
            response = getattr(client, method)("/" + path.format(id=huge))
            assert response.status_code in (404, 405), f"{method.upper()} /{path}: {response}"
            if path.startswith("api/"):
                assert response["Content-Type"] == "application/json"


@pytest.mark.django_db
def test_pages_that_do_not_exist_get_the_styled_404(client: Client) -> None:
    response = client.get("/credit/99999999999999999999/")

    assert response.status_code == 404
    assert "/static/css/site.css" in response.content.decode()
    assert "Not found" in response.content.decode()
