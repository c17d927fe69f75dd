"""The marketplace admin, through its URLs: pages load, data review, payout approval and export."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from django.contrib import admin
from django.contrib.messages import get_messages
from django.http import HttpResponse, StreamingHttpResponse
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from attribution.rounds.services import create_payouts
from marketplace.models import ApiKey, Contributor, DataGroup, PayoutBatch, User
from tests.attribution.factories import (
    make_contributor,
    make_group,
    make_succeeded_round,
    tmp_media,  # noqa: F401  (autouse fixture)
)

pytestmark = pytest.mark.django_db

Status = DataGroup.Status

MARKETPLACE_MODELS = sorted(
    (model._meta.app_label, model._meta.model_name)
    for model in admin.site._registry
    if model._meta.app_label == "marketplace"
)

FORMULA = '=HYPERLINK("http://evil.example","click")'


@pytest.fixture
def superuser() -> User:
    return User.objects.create_superuser("root", "root@example.com", password=None)


@pytest.fixture
def staff_client(client: Client, superuser: User) -> Client:
    client.force_login(superuser)
    return client


def post_action(client: Client, model_name: str, action: str, pks: list[int]) -> HttpResponse:
    return client.post(
        reverse(f"admin:marketplace_{model_name}_changelist"),
        {"action": action, "_selected_action": pks},
    )


def messages_of(response: HttpResponse) -> list[tuple[str, str]]:
    return [(m.level_tag, str(m)) for m in get_messages(response.wsgi_request)]


def payout_batch() -> PayoutBatch:
    """A batch of 100.00 EUR for alice, bob and carol (values 1, 2, 3), bob named like a formula."""
    contributors = [
        make_contributor("alice"),
        make_contributor("bob", name=FORMULA),
        make_contributor("carol"),
    ]
    round = make_succeeded_round(contributors=contributors, pool=Decimal("100.00"))
    return create_payouts(round.pk)


def csv_rows(response: StreamingHttpResponse) -> list[dict[str, str]]:
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def test_every_marketplace_model_is_registered() -> None:
    assert MARKETPLACE_MODELS == [
        ("marketplace", "apikey"),
        ("marketplace", "contributor"),
        ("marketplace", "datagroup"),
        ("marketplace", "modelversion"),
        ("marketplace", "payoutbatch"),
        ("marketplace", "user"),
    ]


@pytest.mark.parametrize(("app_label", "model_name"), MARKETPLACE_MODELS)
def test_changelist_and_add_pages_load(
    staff_client: Client, app_label: str, model_name: str
) -> None:
    payout_batch()

    changelist = staff_client.get(reverse(f"admin:{app_label}_{model_name}_changelist"))
    add = staff_client.get(reverse(f"admin:{app_label}_{model_name}_add"))

    assert changelist.status_code == 200
    # API keys are created where the plaintext goes to their owner, never in the admin; payout
    # batches come from a round's values (its "Create payouts" action), never by hand.
    assert add.status_code == (403 if model_name in ("apikey", "payoutbatch") else 200)


def test_api_keys_are_listed_and_revoked_in_the_admin(staff_client: Client) -> None:
    owner = User.objects.create_user("partner")
    key, _ = ApiKey.create(owner, "nightly export")

    changelist = staff_client.get(reverse("admin:marketplace_apikey_changelist"))
    response = post_action(staff_client, "apikey", "revoke", [key.pk])

    assert "nightly export" in changelist.content.decode()
    assert key.prefix in changelist.content.decode()
    key.refresh_from_db()
    assert key.is_revoked
    assert messages_of(response) == [("info", "Revoked 1 key(s).")]


def test_change_pages_with_inlines_load(staff_client: Client) -> None:
    batch = payout_batch()
    group = DataGroup.objects.filter(contributor__key="alice").get()

    group_page = staff_client.get(reverse("admin:marketplace_datagroup_change", args=[group.pk]))
    batch_page = staff_client.get(reverse("admin:marketplace_payoutbatch_change", args=[batch.pk]))

    assert group_page.status_code == 200
    assert group_page.content.decode().count(group.records.first().sha256) == 1
    assert batch_page.status_code == 200
    page = batch_page.content.decode()
    assert "€50.00" in page  # carol's amount, in the currency's minor unit
    assert "50.00%" in page  # and her share of the pool
    assert "50.0000" not in page


def test_accept_accepts_only_consented_groups_and_warns_about_the_rest(
    staff_client: Client,
) -> None:
    contributor = Contributor.objects.create(key="dora", name="Dora")
    consented = make_group(contributor, status=Status.PENDING, consent=True, title="yes")
    unconsented = make_group(contributor, status=Status.PENDING, consent=False, title="no")
    withdrawn = make_group(contributor, status=Status.WITHDRAWN, consent=True, title="gone")

    response = post_action(
        staff_client, "datagroup", "accept", [consented.pk, unconsented.pk, withdrawn.pk]
    )

    for group in (consented, unconsented, withdrawn):
        group.refresh_from_db()
    assert response.status_code == 302
    assert (consented.status, unconsented.status) == (Status.ACCEPTED, Status.PENDING)
    assert withdrawn.status == Status.WITHDRAWN
    assert consented.decided_at is not None
    assert unconsented.decided_at is None
    assert messages_of(response) == [
        ("info", "Accepted 1 data group(s)."),
        ("warning", "1 group(s) lack the contributor's consent and were not accepted."),
    ]


def test_accepting_only_consented_groups_gives_no_warning(staff_client: Client) -> None:
    contributor = Contributor.objects.create(key="dora", name="Dora")
    group = make_group(contributor, status=Status.PENDING)

    response = post_action(staff_client, "datagroup", "accept", [group.pk])

    assert messages_of(response) == [("info", "Accepted 1 data group(s).")]


def test_reject_rejects_all_but_withdrawn_groups(staff_client: Client) -> None:
    contributor = Contributor.objects.create(key="dora", name="Dora")
    pending = make_group(contributor, status=Status.PENDING, title="a")
    accepted = make_group(contributor, status=Status.ACCEPTED, title="b")
    withdrawn = make_group(contributor, status=Status.WITHDRAWN, title="c")

    response = post_action(
        staff_client, "datagroup", "reject", [pending.pk, accepted.pk, withdrawn.pk]
    )

    statuses = [
        DataGroup.objects.get(pk=group.pk).status for group in (pending, accepted, withdrawn)
    ]
    assert statuses == [Status.REJECTED, Status.REJECTED, Status.WITHDRAWN]
    assert messages_of(response) == [("info", "Rejected 2 data group(s).")]


def test_approve_action_records_the_approving_admin(staff_client: Client, superuser: User) -> None:
    batch = payout_batch()

    response = post_action(staff_client, "payoutbatch", "approve", [batch.pk])

    batch.refresh_from_db()
    assert (batch.status, batch.approved_by) == (PayoutBatch.Status.APPROVED, superuser)
    assert messages_of(response) == [("info", "Approved 1 batch(es).")]


def test_export_streams_a_csv_whose_amounts_sum_to_the_pool(staff_client: Client) -> None:
    batch = payout_batch()

    response = post_action(staff_client, "payoutbatch", "export_csv", [batch.pk])

    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv"
    today = timezone.localdate().isoformat()
    assert response["Content-Disposition"] == (
        f'attachment; filename="payouts-batch-{batch.pk}-{today}-draft.csv"'
    )
    rows = csv_rows(response)
    assert [row["contributor_key"] for row in rows] == ["alice", "bob", "carol"]
    assert {row["batch"] for row in rows} == {str(batch.pk)}
    assert {row["currency"] for row in rows} == {"EUR"}
    assert sum(Decimal(row["amount"]) for row in rows) == Decimal("100.00")
    assert {row["status"] for row in rows} == {"draft"}
    assert [row["share"] for row in rows] == ["16.67%", "33.33%", "50.00%"]


def test_export_neutralises_names_that_look_like_formulas(staff_client: Client) -> None:
    batch = payout_batch()

    rows = csv_rows(post_action(staff_client, "payoutbatch", "export_csv", [batch.pk]))

    names = {row["contributor_key"]: row["contributor_name"] for row in rows}
    assert names == {"alice": "Alice", "bob": "'" + FORMULA, "carol": "Carol"}


def test_export_writes_amounts_as_plain_decimals(staff_client: Client) -> None:
    batch = payout_batch()  # alice 16.67, bob 33.33, carol 50.00

    rows = csv_rows(post_action(staff_client, "payoutbatch", "export_csv", [batch.pk]))

    assert [row["amount"] for row in rows] == ["16.67", "33.33", "50.00"]


def test_export_of_several_batches_lists_each_batch(staff_client: Client) -> None:
    first = payout_batch()
    second = create_payouts(make_succeeded_round(keys=("erin", "fay"), pool="10.00").pk)

    rows = csv_rows(post_action(staff_client, "payoutbatch", "export_csv", [first.pk, second.pk]))

    by_batch = {pk: [r for r in rows if r["batch"] == str(pk)] for pk in (first.pk, second.pk)}
    assert len(by_batch[first.pk]) == 3
    assert len(by_batch[second.pk]) == 2
    assert sum(Decimal(r["amount"]) for r in by_batch[second.pk]) == Decimal("10.00")


def test_approve_action_says_which_batches_were_approved_already(staff_client: Client) -> None:
    batch = payout_batch()
    post_action(staff_client, "payoutbatch", "approve", [batch.pk])

    again = post_action(staff_client, "payoutbatch", "approve", [batch.pk])

    assert messages_of(again)[-2:] == [
        ("info", "Approved 0 batch(es)."),
        ("warning", "1 batch(es) were approved already and were left as they were."),
    ]


def test_an_approved_batch_is_read_only_and_cannot_be_deleted(staff_client: Client) -> None:
    batch = payout_batch()
    post_action(staff_client, "payoutbatch", "approve", [batch.pk])
    change_url = reverse("admin:marketplace_payoutbatch_change", args=[batch.pk])

    page = staff_client.get(change_url)
    edit = staff_client.post(change_url, {"payouts-TOTAL_FORMS": "0", "_save": "1"})
    delete = staff_client.post(
        reverse("admin:marketplace_payoutbatch_delete", args=[batch.pk]), {"post": "yes"}
    )
    changelist = staff_client.get(reverse("admin:marketplace_payoutbatch_changelist"))

    assert page.status_code == 200
    assert not page.context["has_change_permission"]
    assert edit.status_code == 403
    assert delete.status_code == 403
    assert PayoutBatch.objects.filter(pk=batch.pk, status=PayoutBatch.Status.APPROVED).exists()
    assert "delete_selected" not in changelist.content.decode()


def test_a_draft_batch_can_still_be_deleted(staff_client: Client) -> None:
    batch = payout_batch()

    delete = staff_client.post(
        reverse("admin:marketplace_payoutbatch_delete", args=[batch.pk]), {"post": "yes"}
    )

    assert delete.status_code == 302
    assert not PayoutBatch.objects.filter(pk=batch.pk).exists()


def group_form(group: DataGroup, **changes: object) -> dict[str, object]:
    data: dict[str, object] = {
        "contributor": group.contributor_id,
        "title": group.title,
        "status": group.status,
        "records-TOTAL_FORMS": "0",
        "records-INITIAL_FORMS": "0",
        "_save": "1",
    }
    data.update(changes)
    return data


def test_the_change_form_cannot_accept_a_group_without_consent(staff_client: Client) -> None:
    contributor = Contributor.objects.create(key="dora", name="Dora")
    group = make_group(contributor, status=Status.PENDING, consent=False, labels=())
    url = reverse("admin:marketplace_datagroup_change", args=[group.pk])

    response = staff_client.post(url, group_form(group, status=Status.ACCEPTED, consent="on"))

    group.refresh_from_db()
    assert response.status_code == 200  # the form again, with the error
    assert "has not consented" in response.content.decode()
    assert (group.status, group.consent) == (Status.PENDING, False)


def test_the_change_form_accepts_a_consented_group_and_dates_the_decision(
    staff_client: Client,
) -> None:
    contributor = Contributor.objects.create(key="dora", name="Dora")
    group = make_group(contributor, status=Status.PENDING, consent=True, labels=())
    url = reverse("admin:marketplace_datagroup_change", args=[group.pk])

    response = staff_client.post(url, group_form(group, status=Status.ACCEPTED))

    group.refresh_from_db()
    assert response.status_code == 302
    assert group.status == Status.ACCEPTED
    assert group.decided_at is not None


def test_staff_cannot_give_consent_for_a_contributor(staff_client: Client) -> None:
    contributor = Contributor.objects.create(key="dora", name="Dora")
    added = staff_client.post(
        reverse("admin:marketplace_datagroup_add"),
        {
            "contributor": contributor.pk,
            "title": "made by staff",
            "status": Status.ACCEPTED,
            "consent": "on",
            "created_at_0": "2026-01-01",  # (read-only now; the form once required it)
            "created_at_1": "12:00:00",
            "records-TOTAL_FORMS": "0",
            "records-INITIAL_FORMS": "0",
        },
    )

    assert added.status_code == 200
    assert not DataGroup.objects.filter(title="made by staff").exists()


def test_the_admin_is_branded_and_links_to_the_round_dashboard(staff_client: Client) -> None:
    html = staff_client.get(reverse("admin:index")).content.decode()
    assert "Creditshare admin" in html
    assert f'href="{reverse("round-dashboard-list")}"' in html


# --- readable rows: names, money, read-only amounts ------------------------------------------


def test_payout_rows_are_named_by_amount_payee_and_batch(staff_client: Client) -> None:
    batch = payout_batch()

    page = staff_client.get(reverse("admin:marketplace_payoutbatch_change", args=[batch.pk]))

    text = page.content.decode()
    assert f"€50.00 to Carol — batch {batch.pk}" in text
    assert "Payout object" not in text
    # No payout can be added by hand: they come from the round, all at once.
    assert 'name="payouts-MAX_NUM_FORMS" value="0"' in text


def test_a_batch_is_named_by_its_pool_and_status() -> None:
    batch = payout_batch()
    assert str(batch) == f"Batch {batch.pk}: €100.00, draft"
    batch.status = PayoutBatch.Status.APPROVED
    assert str(batch) == f"Batch {batch.pk}: €100.00, approved"
    big = PayoutBatch(pk=9, pool=Decimal("10000.0000"), currency="JPY", negative_policy="floor")
    assert str(big) == "Batch 9: ¥10,000, draft"


def test_a_name_never_raises_on_money_it_cannot_format() -> None:
    # A half-typed row: the amount finer than the currency allows is shown with every digit,
    # and a value that is no amount at all falls back to the stored text.
    assert str(PayoutBatch(pk=1, pool=Decimal("1.005"), currency="EUR")) == "Batch 1: €1.005, draft"
    assert "Batch 2: EUR" in str(PayoutBatch(pk=2, pool=Decimal("NaN"), currency="EUR"))


def test_the_batch_list_shows_the_round_the_pool_and_the_payees(staff_client: Client) -> None:
    batch = payout_batch()

    page = staff_client.get(reverse("admin:marketplace_payoutbatch_changelist")).content.decode()

    assert f"Batch {batch.pk}: €100.00, draft" in page
    assert "Round 1" in page  # the round it pays
    assert '<td class="field-payee_count">3</td>' in page
    assert "100.0000" not in page


def test_a_draft_batch_keeps_its_pool_whatever_the_form_posts(staff_client: Client) -> None:
    # Its amounts were computed from the pool: changing the pool alone would break their sum.
    batch = payout_batch()
    change_url = reverse("admin:marketplace_payoutbatch_change", args=[batch.pk])

    page = staff_client.get(change_url)
    staff_client.post(change_url, {"pool": "1", "payouts-TOTAL_FORMS": "0", "_save": "1"})

    assert not page.context["adminform"].form.fields
    assert 'name="_save"' not in page.content.decode()  # nothing to save, so no button
    round_url = reverse("admin:attribution_valuationround_change", args=[batch.round.pk])
    assert f'<a href="{round_url}">Round 1</a>' in page.content.decode()
    batch.refresh_from_db()
    assert batch.pool == Decimal("100.00")
    # no value was clipped (every value was positive)
    assert '<div class="readonly">none</div>' in page.content.decode()


def test_record_rows_are_named_by_hash_condition_and_group() -> None:
    contributor = make_contributor("dora", labels=())
    labelled = make_group(contributor, labels=["3"]).records.get()
    captioned = make_group(contributor, labels=[""], captions=["a red coat " * 6]).records.get()
    bare = make_group(contributor, labels=[""]).records.get()

    assert str(labelled) == (f"image {labelled.sha256[:12]} (label 3) in group {labelled.group_id}")
    assert str(captioned) == (
        f"image {captioned.sha256[:12]} (caption “{('a red coat ' * 6)[:40]}…”) "
        f"in group {captioned.group_id}"
    )
    assert "(no label or caption)" in str(bare)
