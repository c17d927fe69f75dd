"""Cross-cutting API policy: pagination, throttling and JSON error responses.

Referenced by dotted path from ``REST_FRAMEWORK`` in the settings, so this module must not import
any view (DRF resolves these while the view classes are being defined).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import (
    ObjectDoesNotExist,
    RequestDataTooBig,
    SuspiciousOperation,
)
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import pagination, status, throttling
from rest_framework.exceptions import (
    APIException,
    NotAuthenticated,
    NotFound,
    ParseError,
    ValidationError,
)
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.settings import api_settings


class PageNumberPagination(pagination.PageNumberPagination):
    """``?page=N``, 50 items a page by default, ``?page_size=`` up to 200."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class _SettingsRate:
    """Read the rate from the settings at request time, not at import time as DRF does, so a
    changed ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]`` (env, tests) takes effect."""

    scope: str

    def get_rate(self) -> str | None:
        rate: str | None = api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)
        return rate


class AnonRateThrottle(_SettingsRate, throttling.AnonRateThrottle):
    """Anonymous requests (the schema and docs), per client address: rate ``anon``."""


class UserRateThrottle(_SettingsRate, throttling.UserRateThrottle):
    """Authenticated requests, per user: rate ``user``."""


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


def handle_exception(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, plus Django's own client errors answered as JSON 4xx.

    Model validation errors become 400, a missing object 404, oversized or malformed request
    bodies 413/400. Anything else unexpected is left to propagate (a real 500, logged).
    """
    if isinstance(exc, DjangoValidationError):
        exc = ValidationError(as_serializer_error(exc))
    elif isinstance(exc, ObjectDoesNotExist):
        exc = NotFound()
    elif isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge()
    elif isinstance(exc, SuspiciousOperation):
        exc = ParseError(str(exc) or "Malformed request.")
    elif isinstance(exc, NotAuthenticated):
        # Say how to authenticate, not only that nobody did (the header form, and the session).
        exc.detail = NotAuthenticated(
            "Authentication credentials were not provided. Send an API key as "
            "'Authorization: Bearer <prefix>.<secret>' (or 'Authorization: Api-Key "
            "<prefix>.<secret>'), or sign in to the site."
        ).detail
    from rest_framework.views import exception_handler  # not at import: see the docstring

    return exception_handler(exc, context)


@csrf_exempt  # a 404 changes nothing; without this a POST would get the CSRF page (HTML 403)
def reject_unknown_path(request: HttpRequest, path: str = "") -> JsonResponse:
    """JSON 404 for any path under the API prefix that names no endpoint, whatever the method."""
    return JsonResponse({"detail": "Not found."}, status=status.HTTP_404_NOT_FOUND)
