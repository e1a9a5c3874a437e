"""One error shape everywhere: `{"detail", "error", "code"}` (+ `"errors"` on validation).

Domain code raises `ApplicationError`; the DRF exception handler and the plain Django
404/500 handlers below turn every failure into that body.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler as drf_exception_handler

from numeneon.limits import REQUEST_TOO_LARGE_MESSAGE

logger = logging.getLogger(__name__)


class ApplicationError(Exception):
    """A domain rule was broken; `status_code` is how the HTTP boundary reports it."""

    status_code = status.HTTP_400_BAD_REQUEST

    def __init__(self, code: str, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        if status_code is not None:
            self.status_code = status_code


class NotFound(ApplicationError):
    status_code = status.HTTP_404_NOT_FOUND


class Forbidden(ApplicationError):
    status_code = status.HTTP_403_FORBIDDEN


def error_body(message: str, code: str, errors: dict[str, list[str]] | None = None) -> dict:
    body: dict[str, Any] = {"detail": message, "error": message, "code": code}
    if errors is not None:
        body["errors"] = errors
    return body


def _flatten_errors(detail: Any) -> dict[str, list[str]]:
    """DRF's nested ValidationError detail as {"field": ["message", ...]}."""
    if isinstance(detail, dict):
        flat: dict[str, list[str]] = {}
        for field, value in detail.items():
            for sub_field, messages in _flatten_errors(value).items():
                key = field if sub_field == "non_field_errors" else f"{field}.{sub_field}"
                flat.setdefault(key, []).extend(messages)
        return flat
    if isinstance(detail, list):
        if all(not isinstance(item, (dict, list)) for item in detail):
            return {"non_field_errors": [str(item) for item in detail]}
        flat = {}
        for index, item in enumerate(detail):
            for sub_field, messages in _flatten_errors(item).items():
                key = str(index) if sub_field == "non_field_errors" else f"{index}.{sub_field}"
                flat.setdefault(key, []).extend(messages)
        return flat
    return {"non_field_errors": [str(detail)]}


def exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, ApplicationError):
        return Response(error_body(exc.message, exc.code), status=exc.status_code)

    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(detail=as_serializer_error(exc))

    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # not an API exception: Django's handler500 answers, with our shape

    if isinstance(exc, exceptions.ValidationError):
        errors = _flatten_errors(exc.detail)
        field, messages = next(iter(errors.items()), ("non_field_errors", ["Invalid input."]))
        message = messages[0] if field == "non_field_errors" else f"{field}: {messages[0]}"
        response.data = error_body(message, "validation_error", errors)
        return response

    detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
    if isinstance(detail, dict):
        # simplejwt's InvalidToken carries {"detail", "code", "messages"}.
        message = str(detail.get("detail", "Request failed."))
        code = str(detail.get("code", getattr(exc, "default_code", "error")))
    else:
        message = str(detail)
        code = getattr(detail, "code", None) or getattr(exc, "default_code", "error")
    response.data = error_body(message, code)
    return response


def handler404(request, exception=None) -> JsonResponse:
    return JsonResponse(error_body("Not found.", "not_found"), status=404)


def handler500(request) -> JsonResponse:
    return JsonResponse(error_body("Internal server error.", "server_error"), status=500)


def handler400(request, exception=None) -> JsonResponse:
    if isinstance(exception, RequestDataTooBig):  # a declared length over the limit
        return JsonResponse(error_body(REQUEST_TOO_LARGE_MESSAGE, "request_too_large"), status=413)
    return JsonResponse(error_body("Bad request.", "bad_request"), status=400)


def handler403(request, exception=None) -> JsonResponse:
    return JsonResponse(error_body("Forbidden.", "permission_denied"), status=403)
