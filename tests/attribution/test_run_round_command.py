"""``manage.py run_round <id>``: run a round in-process, without a broker."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from attribution.models import ValuationRound
from attribution.rounds import execution
from attribution.rounds.services import start_round
from tests.attribution.factories import (
    FakeEngine,
    make_round,
    tmp_media,  # noqa: F401  (autouse fixture)
)

pytestmark = pytest.mark.django_db

Status = ValuationRound.Status


def install(monkeypatch: pytest.MonkeyPatch, engine: FakeEngine) -> FakeEngine:
    monkeypatch.setattr(execution, "run_engine", engine)
    return engine


def run_round(round_id: int | str) -> str:
    out = StringIO()
    call_command("run_round", str(round_id), stdout=out)
    return out.getvalue()


def test_a_draft_is_started_and_run_in_process(
    monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks
) -> None:
    engine = install(monkeypatch, FakeEngine())
    round = make_round()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        output = run_round(round.pk)

    round.refresh_from_db()
    assert f"round {round.pk}: succeeded" in output
    assert callbacks == []  # nothing was enqueued: this process ran it
    assert engine.n_calls == 1
    assert round.status == Status.SUCCEEDED
    assert round.config_hash
    assert round.values.count() == 3


def test_a_queued_round_is_run(monkeypatch: pytest.MonkeyPatch) -> None:
    engine = install(monkeypatch, FakeEngine())
    round = start_round(make_round().pk, enqueue=False)

    output = run_round(round.pk)

    assert "succeeded" in output
    assert engine.n_calls == 1


def test_an_unknown_id_is_an_error() -> None:
    with pytest.raises(CommandError, match="no valuation round with id 999"):
        run_round(999)


def test_a_failed_engine_is_an_error_with_its_message(monkeypatch: pytest.MonkeyPatch) -> None:
    install(monkeypatch, FakeEngine(error=RuntimeError("CUDA out of memory")))
    round = make_round()

    with pytest.raises(CommandError, match="failed: RuntimeError: CUDA out of memory"):
        run_round(round.pk)

    round.refresh_from_db()
    assert round.status == Status.FAILED


def test_a_round_that_cannot_start_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    engine = install(monkeypatch, FakeEngine())
    round = make_round(("alice",))

    with pytest.raises(CommandError, match="at least 2 contributors"):
        run_round(round.pk)

    assert engine.n_calls == 0


@pytest.mark.parametrize("status", [Status.SUCCEEDED, Status.CANCELLED, Status.FAILED])
def test_a_finished_round_has_nothing_to_run(monkeypatch: pytest.MonkeyPatch, status: str) -> None:
    engine = install(monkeypatch, FakeEngine())
    round = make_round(status=status)

    with pytest.raises(CommandError, match=f"is {status}; nothing to run"):
        run_round(round.pk)

    assert engine.n_calls == 0
