"""Test-wide setup: Celery tasks run eagerly, inside the test process.

The settings' embedded default queues tasks for a separate worker (a round never runs inside a
web request); most tests instead want the task's effect at once, so they run it in place.
``tests/marketplace/test_celery.py`` checks the embedded default itself, in a fresh
process without this override.
"""

from marketplace.celery import app

app.conf.task_always_eager = True
