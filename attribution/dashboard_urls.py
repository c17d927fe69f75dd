"""Staff round dashboard URLs."""

urlpatterns: list = []
