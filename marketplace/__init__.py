"""Creditshare's Django project package and the app for people, data and money."""

# Load the Celery app whenever Django starts so that @shared_task binds to it.
from marketplace.celery import app as celery_app

__all__ = ("celery_app",)
