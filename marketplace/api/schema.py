"""The OpenAPI schema class: every operation documents the errors it can answer.

drf-spectacular documents only the success response unless told otherwise. Every operation here
can also answer 401 (no or a bad credential), 403 (authenticated but not allowed), 429
(throttled) and, when its path names an object, 404; all of them carry DRF's ``{"detail": "…"}``
body. Operations that declare an error themselves (the 409 of starting a round that is not a
draft) keep their own description. 400 is left to the operations, whose validation errors have
per-field shapes.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema
from rest_framework import serializers
from rest_framework.permissions import AllowAny


class ErrorSerializer(serializers.Serializer):
    """An error: one sentence saying what went wrong and, where it helps, what to do."""

    detail = serializers.CharField(help_text="What went wrong, in one sentence.")


ERROR_DESCRIPTIONS = {
    "401": "No credentials, or a bad or revoked API key. Send 'Authorization: Bearer "
    "<prefix>.<secret>' (or 'Api-Key <prefix>.<secret>'); the message says which.",
    "403": "Authenticated, but not allowed: another contributor's object, a staff-only "
    "operation, or a key without the scope it needs (e.g. rounds:write).",
    "404": "No such object, or not one you may see.",
    "429": "Too many requests: wait the number of seconds in the Retry-After header.",
}


class DocumentedErrorsSchema(AutoSchema):
    """AutoSchema plus the 401/403/404/429 responses every protected operation can give."""

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses: dict[str, Any] = super()._get_response_bodies(direction)
        public = any(isinstance(permission, AllowAny) for permission in self.view.get_permissions())
        codes = ["429"] if public else ["401", "403", "429"]
        if "{" in self.path:
            codes.insert(-1, "404")
        for code in codes:
            if code not in responses:
                response = self._get_response_for_code(ErrorSerializer, code, direction=direction)
                responses[code] = {**response, "description": ERROR_DESCRIPTIONS[code]}
        return dict(sorted(responses.items()))
