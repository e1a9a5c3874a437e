from csp.decorators import csp_update
from django.contrib import admin
from django.urls import include, path, re_path, register_converter
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from notifications.api import WsTicketApi
from numeneon.errors import handler404 as api_not_found
from numeneon.fields import IdConverter
from numeneon.health import healthz
from numeneon.throttling import admin_login_throttled

register_converter(IdConverter, "id")

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/login/", admin_login_throttled(admin.site.login), name="admin-login"),
    path("admin/", admin.site.urls),
    path("api/auth/", include("accounts.urls")),
    # A ticket opens a socket, so its view is notifications'; the path is the contract's.
    path("api/auth/ws-ticket/", WsTicketApi.as_view(), name="ws-ticket"),
    path("api/friends/", include("friends.urls")),
    path("api/messages/", include("messages_app.urls")),
    path("api/notifications/", include("notifications.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # GET only: OPTIONS rendered DRF's metadata through the page's HTML renderer, a 500.
    # The split view serves its start-up script as a file, which the CSP allows; the page's
    # few lines of inline style need the one exception.
    path(
        "api/docs/",
        csp_update({"style-src": ["'self'", "'unsafe-inline'"]})(
            SpectacularSwaggerSplitView.as_view(
                url_name="schema", http_method_names=["get", "head"]
            )
        ),
        name="docs",
    ),
    # The contract's error body for unknown API paths, with DEBUG on too.
    # csrf_exempt: else CsrfViewMiddleware answers a POST there with its HTML 403 page.
    re_path(r"^api/", csrf_exempt(api_not_found)),
    path("", include("web.urls")),
]

handler400 = "numeneon.errors.handler400"
handler403 = "numeneon.errors.handler403"
handler404 = "numeneon.errors.handler404"
handler500 = "numeneon.errors.handler500"
