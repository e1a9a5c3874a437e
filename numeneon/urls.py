from django.contrib import admin
from django.urls import include, path, re_path, register_converter

from numeneon.errors import handler404 as api_not_found
from numeneon.fields import IdConverter
from numeneon.health import healthz

register_converter(IdConverter, "id")

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/auth/", include("accounts.urls")),
    path("api/friends/", include("friends.urls")),
    path("api/messages/", include("messages_app.urls")),
    path("api/notifications/", include("notifications.urls")),
    # The contract's error body for unknown API paths, with DEBUG on too.
    re_path(r"^api/", api_not_found),
    path("", include("web.urls")),
]

handler400 = "numeneon.errors.handler400"
handler403 = "numeneon.errors.handler403"
handler404 = "numeneon.errors.handler404"
handler500 = "numeneon.errors.handler500"
