"""Root URL configuration: wiring only.

The root URLconf is the one place that names both apps (as strings); the marketplace app's code
never imports attribution.
"""

from django.contrib import admin
from django.urls import include, path

from marketplace import (
    converters,  # noqa: F401  (registers <id:…>)
    keys,
    views,
)
from marketplace.security import ThrottledLoginView, throttled_admin_login

urlpatterns = [
    path("", views.show_home, name="home"),
    path("favicon.ico", views.favicon),
    path("accounts/login/", ThrottledLoginView.as_view(), name="login"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("accounts/welcome/", views.after_login, name="after-login"),
    path("data/", views.list_data_groups, name="data-groups"),
    path("data/upload/", views.upload_data_group, name="upload-data-group"),
    path("data/<id:group_id>/", views.show_data_group, name="data-group"),
    path("data/images/<id:record_id>/", views.show_record_image, name="record-image"),
    path("data/<id:group_id>/withdraw/", views.withdraw, name="withdraw-data-group"),
    path("settings/api-keys/", keys.list_api_keys, name="api-keys"),
    path("settings/api-keys/<slug:prefix>/revoke/", keys.revoke_api_key, name="revoke-api-key"),
    path("api/v1/", include("attribution.api.urls")),
    path("api/v1/", include("marketplace.api.urls")),
    # Before the admin's own URLs: its login shares the site's lockout.
    path("admin/login/", throttled_admin_login, name="admin-login"),
    path("admin/", admin.site.urls),
    path("", include("attribution.urls")),
]
