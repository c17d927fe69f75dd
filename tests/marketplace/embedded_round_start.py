"""Start rounds in the embedded default configuration and time the requests.

Run in a fresh interpreter whose environment sets no ``CELERY_*`` variable (so the settings'
embedded default applies: the filesystem broker under ``CELERY_QUEUE_DIR``, no eager tasks), with
``DJANGO_SQLITE_PATH``, ``DJANGO_MEDIA_ROOT`` and ``CELERY_QUEUE_DIR`` pointing at a scratch
directory:

    python -m tests.marketplace.embedded_round_start

It migrates the database, creates two draft rounds, starts one with the admin's "start" action and
one with ``POST /api/v1/rounds/{id}/start/`` (signed in as staff), and prints one JSON object: per
request its HTTP status, wall time in seconds and the round's status right after, and the number
of task messages waiting in the queue folder. ``tests/marketplace/test_celery.py`` runs it.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any


def start_rounds() -> dict[str, Any]:
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.test import Client

    from attribution.models import ValuationRound
    from marketplace.models import User
    from tests.attribution.factories import make_round

    call_command("migrate", verbosity=0)
    staff = User.objects.create_superuser("root", "root@example.com", password=None)
    client = Client(HTTP_HOST="localhost")
    client.force_login(staff)
    by_admin, by_api = make_round(("ann", "bob")), make_round(("cat", "dan"))
    requests = {
        "admin": lambda: client.post(
            "/admin/attribution/valuationround/",
            {"action": "start", "_selected_action": [by_admin.pk]},
        ),
        "api": lambda: client.post(f"/api/v1/rounds/{by_api.pk}/start/"),
    }
    report: dict[str, Any] = {}
    for (name, send), round in zip(requests.items(), (by_admin, by_api), strict=True):
        started = time.perf_counter()
        response = send()
        seconds = time.perf_counter() - started
        status = ValuationRound.objects.get(pk=round.pk).status
        report[name] = {"http": response.status_code, "seconds": seconds, "status": status}
    queue = Path(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"])
    report["queued_messages"] = len(list(queue.glob("*.msg")))
    report["round_ids"] = [by_admin.pk, by_api.pk]
    return report


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")
    print(json.dumps(start_rounds()))
