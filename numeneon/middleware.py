"""Request guards that apply to every endpoint."""

from __future__ import annotations

import logging
import time

from django.http import JsonResponse

from numeneon.errors import error_body

access_logger = logging.getLogger("numeneon.access")


class RejectNulCharactersMiddleware:
    """A NUL character in the path or the query string is refused with a 400.

    PostgreSQL cannot hold NUL in text, so `?q=%00` would otherwise reach the database and
    fail there as a 500. (Bodies are checked by the serializers' own NUL validator.)
    """

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        if "\x00" in request.path or any(
            "\x00" in key or any("\x00" in value for value in values)
            for key, values in request.GET.lists()
        ):
            message = "The path or query string contains a NUL character."
            return JsonResponse(error_body(message, "bad_request"), status=400)
        return self.get_response(request)


class AccessLogMiddleware:
    """One line per request: method, path (never the query string, which may hold a
    credential), status, user id and duration."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        started = time.monotonic()
        response = self.get_response(request)
        duration_ms = round((time.monotonic() - started) * 1000, 1)
        user = getattr(request, "user", None)
        user_id = user.pk if user is not None and user.is_authenticated else None
        access_logger.info(
            "%s %s %s user=%s %.1fms",
            request.method,
            request.path,
            response.status_code,
            user_id,
            duration_ms,
            extra={
                "event": "http",
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "user_id": user_id,
                "duration_ms": duration_ms,
            },
        )
        return response
