"""The API-keys settings page: create with scopes, the key shown once, list, revoke; and the
``/api/v1/`` index with its links to the schema, Swagger UI and ReDoc."""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.test import APIClient

from marketplace.models import ApiKey, User

pytestmark = pytest.mark.django_db

PAGE = "/settings/api-keys/"


@pytest.fixture
def partner() -> User:
    return User.objects.create_user("partner", password="pw")


@pytest.fixture
def partner_client(client: Client, partner: User) -> Client:
    client.force_login(partner)
    return client


def test_the_page_needs_sign_in(client: Client) -> None:
    response = client.get(PAGE)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_creating_a_key_shows_it_once_with_a_copy_it_now_warning(
    partner_client: Client, partner: User
) -> None:
    response = partner_client.post(PAGE, {"name": "nightly export"})

    html = response.content.decode()
    key = ApiKey.objects.get(owner=partner)
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert "Copy it now: it is shown only this once." in html
    plaintext = html.split('id="new-key" type="text" readonly value="', 1)[1].split('"', 1)[0]
    assert plaintext.startswith(key.prefix + ".")
    assert key.matches(plaintext.split(".", 1)[1])
    # The key works with the header the page tells people to send.
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    assert api.get("/api/v1/contributors/").status_code == 200
    # And it is never shown again.
    again = partner_client.get(PAGE).content.decode()
    assert plaintext not in again
    assert f"{key.prefix}…" in again


def test_the_list_shows_last_use_and_only_the_users_own_keys(
    partner_client: Client, partner: User
) -> None:
    mine, plaintext = ApiKey.create(partner, "mine")
    theirs, _ = ApiKey.create(User.objects.create_user("other"), "theirs")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {plaintext}")
    api.get("/api/v1/contributors/")
    mine.refresh_from_db()

    html = partner_client.get(PAGE).content.decode()

    assert mine.last_used_at is not None
    assert mine.last_used_at.strftime("%Y-%m-%d %H:%M") in html
    assert theirs.prefix not in html


def test_a_blank_name_is_refused_next_to_the_field(partner_client: Client) -> None:
    response = partner_client.post(PAGE, {"name": "  "})
    assert response.status_code == 400
    assert 'class="field-error"' in response.content.decode()
    assert not ApiKey.objects.exists()


def test_only_staff_see_and_may_grant_the_rounds_write_scope(
    partner_client: Client, partner: User, client: Client
) -> None:
    assert ApiKey.ROUNDS_WRITE not in partner_client.get(PAGE).content.decode()
    partner_client.post(PAGE, {"name": "sneaky", "scopes": [ApiKey.ROUNDS_WRITE]})
    assert ApiKey.objects.get(owner=partner).scopes == []  # the field is not there to submit

    staff = User.objects.create_user("ops", is_staff=True)
    staff_client = Client()
    staff_client.force_login(staff)
    assert ApiKey.ROUNDS_WRITE in staff_client.get(PAGE).content.decode()
    staff_client.post(PAGE, {"name": "rounds", "scopes": [ApiKey.ROUNDS_WRITE]})
    assert ApiKey.objects.get(owner=staff).scopes == [ApiKey.ROUNDS_WRITE]


def test_revoking_asks_first_then_revokes_for_good(partner_client: Client, partner: User) -> None:
    key, plaintext = ApiKey.create(partner, "old script")
    url = f"{PAGE}{key.prefix}/revoke/"

    confirm = partner_client.get(url)
    key.refresh_from_db()
    assert confirm.status_code == 200
    assert "stops working at once" in confirm.content.decode()
    assert not key.is_revoked

    done = partner_client.post(url, follow=True)
    key.refresh_from_db()
    assert key.is_revoked
    assert "Revoked the key" in done.content.decode()
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    assert api.get("/api/v1/contributors/").status_code == 401


def test_nobody_revokes_another_users_key(partner_client: Client) -> None:
    key, _ = ApiKey.create(User.objects.create_user("other"), "theirs")
    assert partner_client.post(f"{PAGE}{key.prefix}/revoke/").status_code == 404
    key.refresh_from_db()
    assert not key.is_revoked


def test_the_api_index_links_the_schema_swagger_and_redoc(client: Client) -> None:
    html = client.get("/api/v1/").content.decode()
    for path in ("/api/v1/schema/", "/api/v1/docs/", "/api/v1/redoc/"):
        assert f'href="http://testserver{path}"' in html
    assert "Authorization: Bearer" in html

    links = client.get("/api/v1/", HTTP_ACCEPT="application/json").json()
    assert links["redoc"] == "http://testserver/api/v1/redoc/"


def test_redoc_is_served_from_local_files_without_web_fonts(client: Client) -> None:
    html = client.get("/api/v1/redoc/").content.decode()
    assert "drf_spectacular_sidecar/redoc" in html
    assert "googleapis" not in html
    bundle = "/static/drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js"
    assert client.get(bundle).status_code == 200


def test_every_page_links_the_api_docs_in_the_navigation_and_footer(client: Client) -> None:
    html = client.get("/").content.decode()
    nav, footer = html.split('<nav class="site-nav"', 1)[1], html.split("<footer", 1)[1]
    assert 'href="/api/v1/"' in nav.split("</nav>", 1)[0]
    assert 'href="/api/v1/redoc/"' in footer
