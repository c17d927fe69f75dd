"""App config for valuation rounds."""

from django.apps import AppConfig


class AttributionConfig(AppConfig):
    """Valuation rounds and contributor values, around the pure attribution engine."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "attribution"
    verbose_name = "Attribution"
