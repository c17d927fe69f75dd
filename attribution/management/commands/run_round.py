"""``manage.py run_round <id>``: run a valuation round in this process (no broker needed)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from attribution.models import ValuationRound
from attribution.rounds.config import RoundConfigError
from attribution.rounds.execution import execute_round
from attribution.rounds.services import RoundStateError, start_round


class Command(BaseCommand):
    help = "Run a valuation round in-process: a draft is started first, a queued one is run."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("round_id", type=int)

    def handle(self, *args: Any, **options: Any) -> None:
        round_id: int = options["round_id"]
        try:
            round = ValuationRound.objects.get(pk=round_id)
        except ValuationRound.DoesNotExist as error:
            raise CommandError(f"no valuation round with id {round_id}.") from error
        if round.status == ValuationRound.Status.DRAFT:
            try:
                start_round(round_id, enqueue=False)  # this command runs it, not a worker
            except (RoundConfigError, RoundStateError) as error:
                raise CommandError(str(error)) from error
        if not execute_round(round_id):
            status = ValuationRound.objects.values_list("status", flat=True).get(pk=round_id)
            raise CommandError(f"round {round_id} is {status}; nothing to run.")
        round.refresh_from_db()
        if round.status == ValuationRound.Status.FAILED:
            raise CommandError(f"round {round_id} failed: {round.error}")
        self.stdout.write(self.style.SUCCESS(f"round {round_id}: {round.status}"))
