"""Uploading a data group through the service and the web form: all or nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from marketplace.models import Contributor, DataGroup, DataRecord, User
from marketplace.services import create_data_group, withdraw_data_group
from marketplace.uploads.images import UploadRejected
from tests.marketplace.uploads.upload_corpus import csv_bytes, png, zip_archive

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings: pytest.FixtureRequest, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"  # type: ignore[attr-defined]


@pytest.fixture
def contributor() -> Contributor:
    return Contributor.objects.create(key="ada", name="Ada")


@pytest.fixture
def signed_in(client: Client, contributor: Contributor) -> Client:
    user = User.objects.create_user("ada", password="pw", contributor=contributor)
    client.force_login(user)
    return client


def test_a_valid_upload_becomes_a_pending_group_with_labels(contributor: Contributor) -> None:
    group = create_data_group(
        contributor,
        title="scans",
        consent=True,
        files=[("a.png", png(1)), ("b.png", png(2))],
        labels={"a.png": "3", "b.png": "4"},
    )
    assert group.status == DataGroup.Status.PENDING
    assert sorted(group.records.values_list("label", flat=True)) == ["3", "4"]
    for record in group.records.all():
        assert record.image.read().startswith(b"\x89PNG")


def test_one_bad_file_saves_nothing(contributor: Contributor, tmp_path: Path) -> None:
    with pytest.raises(UploadRejected) as rejected:
        create_data_group(
            contributor,
            title="scans",
            consent=True,
            files=[("a.png", png(1)), ("notes.png", b"just text")],
        )
    assert any("notes.png" in problem for problem in rejected.value.problems)
    assert not DataGroup.objects.exists()
    assert not DataRecord.objects.exists()
    media = tmp_path / "media"
    assert not media.exists() or not list(media.rglob("*.png"))


def test_consent_is_required(contributor: Contributor) -> None:
    with pytest.raises(UploadRejected, match="consent"):
        create_data_group(contributor, title="x", consent=False, files=[("a.png", png(1))])


def test_an_image_already_uploaded_by_the_contributor_is_refused(contributor: Contributor) -> None:
    create_data_group(contributor, title="first", consent=True, files=[("a.png", png(1))])
    with pytest.raises(UploadRejected, match="already uploaded"):
        create_data_group(contributor, title="again", consent=True, files=[("a2.png", png(1))])


def test_a_zip_with_a_captions_file_is_accepted(contributor: Contributor) -> None:
    archive = zip_archive(
        [
            ("one.png", png(1)),
            ("two.png", png(2)),
            (
                "captions.csv",
                csv_bytes("file,caption", [("one.png", "a cat"), ("two.png", "a dog")]),
            ),
        ]
    )
    group = create_data_group(
        contributor, title="pets", consent=True, archive=("pets.zip", archive)
    )
    assert sorted(group.records.values_list("caption", flat=True)) == ["a cat", "a dog"]


def test_withdrawing_marks_the_group(contributor: Contributor) -> None:
    group = create_data_group(contributor, title="x", consent=True, files=[("a.png", png(1))])
    withdraw_data_group(group)
    group.refresh_from_db()
    assert group.status == DataGroup.Status.WITHDRAWN


class TestUploadPage:
    def test_anonymous_users_are_sent_to_sign_in(self, client: Client) -> None:
        response = client.get(reverse("upload-data-group"))
        assert response.status_code == 302
        assert reverse("login") in response["Location"]

    def test_upload_through_the_form(self, signed_in: Client, contributor: Contributor) -> None:
        response = signed_in.post(
            reverse("upload-data-group"),
            {
                "title": "scans",
                "consent": "on",
                "label": "7",
                "images": [
                    SimpleUploadedFile("a.png", png(1), "image/png"),
                    SimpleUploadedFile("b.png", png(2), "image/png"),
                ],
            },
        )
        assert response.status_code == 302
        group = DataGroup.objects.get(contributor=contributor)
        assert set(group.records.values_list("label", flat=True)) == {"7"}
        listing = signed_in.get(reverse("data-groups"))
        assert b"scans" in listing.content

    def test_the_page_offers_both_ways_as_tabs_with_csv_templates(self, signed_in: Client) -> None:
        html = signed_in.get(reverse("upload-data-group")).content.decode()
        assert 'id="way-images" checked' in html
        assert '<label for="way-zip">A zip with a CSV</label>' in html
        for name, header in (("labels.csv", b"file,label"), ("captions.csv", b"file,caption")):
            assert f'href="/static/examples/{name}" download' in html
            response = signed_in.get(f"/static/examples/{name}")
            assert b"".join(response.streaming_content).startswith(header + b"\n")

    def test_errors_stand_next_to_their_field_and_the_chosen_way_is_kept(
        self, signed_in: Client
    ) -> None:
        response = signed_in.post(
            reverse("upload-data-group"), {"title": "", "way": "zip", "consent": ""}
        )
        html = response.content.decode()
        assert response.status_code == 400
        assert 'id="way-zip" checked' in html  # the tab the contributor was on
        title = html[html.index('for="id_title"') : html.index('for="way-images"')]
        assert 'class="field-error">This field is required.' in title
        consent = html[html.index('name="consent"') :]
        assert 'class="field-error">This field is required.' in consent[:600]

    def test_a_refused_upload_lists_every_problem_and_saves_nothing(
        self, signed_in: Client
    ) -> None:
        response = signed_in.post(
            reverse("upload-data-group"),
            {
                "title": "scans",
                "consent": "on",
                "images": [
                    SimpleUploadedFile("fake.png", b"not an image", "image/png"),
                    SimpleUploadedFile("also.png", b"nor this", "image/png"),
                ],
            },
        )
        assert response.status_code == 400
        assert b"fake.png" in response.content
        assert b"also.png" in response.content
        assert not DataGroup.objects.exists()

    def test_the_page_states_the_limits(self, signed_in: Client, settings: Any) -> None:
        page = signed_in.get(reverse("upload-data-group")).content.decode()

        assert f"At most {settings.DATA_UPLOAD_MAX_NUMBER_FILES} image files" in page
        assert "each up to 10 MiB" in page
        assert "at most 250 megapixels" in page

    def test_too_many_files_get_a_message_on_the_form(
        self, signed_in: Client, settings: Any
    ) -> None:
        settings.DATA_UPLOAD_MAX_NUMBER_FILES = 3
        files = [SimpleUploadedFile(f"{n}.png", png(n), "image/png") for n in range(4)]

        response = signed_in.post(
            reverse("upload-data-group"), {"title": "t", "consent": "on", "images": files}
        )

        page = response.content.decode()
        assert response.status_code == 400
        assert "Too many files: one upload takes at most 3 files." in page
        assert 'enctype="multipart/form-data"' in page  # the upload form, to try again
        assert not DataGroup.objects.exists()

    def test_a_body_larger_than_the_request_limit_is_refused_unread(
        self, signed_in: Client, settings: Any
    ) -> None:
        settings.MAX_REQUEST_BYTES = 10_000
        archive = SimpleUploadedFile("big.zip", bytes(20_000), "application/zip")

        response = signed_in.post(
            reverse("upload-data-group"), {"title": "t", "consent": "on", "archive": archive}
        )

        assert response.status_code == 413
        assert "at most 9.8 KiB fit" in response.content.decode()

    def test_oversized_text_fields_get_a_413_page(self, client: Client, settings: Any) -> None:
        settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000

        response = client.post(reverse("login"), {"username": "x" * 2000, "password": "y"})

        assert response.status_code == 413
        assert "text fields hold more than 1,000 bytes" in response.content.decode()
        assert "/static/css/site.css" in response.content.decode()

    def test_withdraw_only_own_groups(self, signed_in: Client, contributor: Contributor) -> None:
        other = Contributor.objects.create(key="bob", name="Bob")
        theirs = create_data_group(other, title="bob's", consent=True, files=[("a.png", png(5))])
        response = signed_in.post(reverse("withdraw-data-group", args=[theirs.pk]))
        assert response.status_code == 404
        theirs.refresh_from_db()
        assert theirs.status == DataGroup.Status.PENDING

    def test_withdrawing_asks_first_and_says_what_happens_to_payouts(
        self, signed_in: Client, contributor: Contributor
    ) -> None:
        group = create_data_group(
            contributor, title="scans", consent=True, files=[("a.png", png(6))]
        )
        url = reverse("withdraw-data-group", args=[group.pk])

        listing = signed_in.get(reverse("data-groups")).content.decode()
        confirm = signed_in.get(url)
        group.refresh_from_db()

        assert f'href="{url}"' in listing  # a link to the confirmation, not a one-click form
        assert confirm.status_code == 200
        assert group.status == DataGroup.Status.PENDING  # looking changes nothing
        html = confirm.content.decode()
        assert "rounds that start from now on will not use this data" in html
        assert "Past rounds and payouts stay as they are" in html

        done = signed_in.post(url, follow=True)
        group.refresh_from_db()
        assert group.status == DataGroup.Status.WITHDRAWN
        assert "Withdrew “scans”." in done.content.decode()
        assert f'href="{url}"' not in done.content.decode()

    def test_a_group_page_shows_status_note_and_thumbnails_to_its_contributor_only(
        self, signed_in: Client, contributor: Contributor, client: Client
    ) -> None:
        group = create_data_group(
            contributor,
            title="scans",
            consent=True,
            files=[("a.png", png(8)), ("b.png", png(9))],
            labels={"a.png": "3", "b.png": "4"},
        )
        DataGroup.objects.filter(pk=group.pk).update(review_note="Two images are blurry.")
        record = group.records.order_by("pk").first()

        html = signed_in.get(reverse("data-group", args=[group.pk])).content.decode()
        image = signed_in.get(reverse("record-image", args=[record.pk]))

        assert "Review note:</strong> Two images are blurry." in html
        assert "Pending review" in html
        assert html.count('<img src="/data/images/') == 2
        assert "Label: 3" in html
        assert image.status_code == 200
        assert b"".join(image.streaming_content).startswith(b"\x89PNG")
        assert f'href="/data/{group.pk}/"' in signed_in.get(reverse("data-groups")).content.decode()
        other = Client()
        other.force_login(
            User.objects.create_user(
                "bob", contributor=Contributor.objects.create(key="bob", name="Bob")
            )
        )
        assert other.get(reverse("data-group", args=[group.pk])).status_code == 404
        assert other.get(reverse("record-image", args=[record.pk])).status_code == 404

    def test_a_user_without_a_contributor_is_refused(self, client: Client) -> None:
        client.force_login(User.objects.create_user("staffer", password="pw"))
        assert client.get(reverse("upload-data-group")).status_code == 403


class TestAfterLogin:
    def test_staff_land_on_the_dashboard(self, client: Client) -> None:
        client.force_login(User.objects.create_user("boss", password="pw", is_staff=True))
        assert client.get(reverse("after-login"))["Location"] == reverse("round-dashboard-list")

    def test_contributors_land_on_their_credit(self, signed_in: Client) -> None:
        assert signed_in.get(reverse("after-login"))["Location"] == reverse("credit")

    def test_others_land_on_the_home_page(self, client: Client) -> None:
        client.force_login(User.objects.create_user("visitor", password="pw"))
        assert client.get(reverse("after-login"))["Location"] == reverse("home")


class TestUploadProgress:
    """static/js/upload.js posts the form by XMLHttpRequest to show progress; without it the
    form posts as before (the tests above)."""

    XHR = {"HTTP_X_REQUESTED_WITH": "XMLHttpRequest"}

    def test_the_page_carries_a_hidden_progress_bar_and_its_script(self, signed_in: Client) -> None:
        html = signed_in.get(reverse("upload-data-group")).content.decode()
        start = html.index("data-upload-progress")
        box = html[start : html.index('<button type="submit" class="button">Upload')]
        assert " hidden>" in box  # shown by the script only, so no script means no dead bar
        assert '<progress max="100" value="0" aria-label="Upload progress">' in box
        assert 'role="status"' in box
        assert '<script src="/static/js/upload.js"></script>' in html
        script = signed_in.get("/static/js/upload.js")
        assert script.status_code == 200
        assert b"request.upload.addEventListener" in b"".join(script.streaming_content)

    def test_a_scripted_upload_is_answered_with_where_to_go_and_the_message_waits_there(
        self, signed_in: Client, contributor: Contributor
    ) -> None:
        response = signed_in.post(
            reverse("upload-data-group"),
            {
                "title": "scans",
                "consent": "on",
                "images": [SimpleUploadedFile("a.png", png(1), "image/png")],
            },
            **self.XHR,
        )

        assert response.status_code == 200
        assert response.json() == {"redirect": reverse("data-groups")}
        assert DataGroup.objects.filter(contributor=contributor, title="scans").exists()
        listing = signed_in.get(reverse("data-groups")).content.decode()
        assert "Uploaded 1 images; the group awaits review." in listing

    def test_a_scripted_upload_with_errors_gets_the_page_with_errors_by_their_fields(
        self, signed_in: Client
    ) -> None:
        response = signed_in.post(
            reverse("upload-data-group"), {"title": "", "way": "zip"}, **self.XHR
        )

        html = response.content.decode()
        assert response.status_code == 400
        assert response["Content-Type"].startswith("text/html")
        assert "<main" in html  # the script swaps this page's main content in
        assert 'class="field-error">This field is required.' in html
        assert 'id="way-zip" checked' in html
        # The note the script rewrites when it carries the chosen files over to this page.
        assert '<p class="note" data-files-note>Your browser cannot keep chosen files' in html
