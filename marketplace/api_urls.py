"""REST API v1 URLs (wiring of both apps' API views)."""

urlpatterns: list = []
