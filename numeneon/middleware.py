"""Request guards that apply to every endpoint."""

from __future__ import annotations

from django.http import JsonResponse

from numeneon.errors import error_body


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
