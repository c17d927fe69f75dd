"""App config for the marketplace: people, data and money."""

from django.apps import AppConfig


class MarketplaceConfig(AppConfig):
    """Contributors, data groups, model versions and payouts."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "marketplace"
    verbose_name = "Marketplace"

    def ready(self) -> None:
        from marketplace import checks  # noqa: F401  (registers the deployment checks)
