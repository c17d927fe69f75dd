"""API-key authentication: ``Authorization: Bearer <prefix>.<secret>`` or, the same key,
``Authorization: Api-Key <prefix>.<secret>``.

The prefix finds the key; the secret's SHA-256 is compared in constant time. A revoked key, an
unknown prefix, a wrong secret or an inactive owner all answer 401 with one message, so the
response does not say which prefixes exist. Partners' clients and contributors' script tokens
are the same mechanism: an `ApiKey` owned by the user the script acts as.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from marketplace.models import ApiKey, User

KEYWORD = "Api-Key"
BEARER = "Bearer"
KEYWORDS = (BEARER.lower().encode(), KEYWORD.lower().encode())
EXPECTED_HEADER = (
    f"Send the key as 'Authorization: {BEARER} <prefix>.<secret>' "
    f"(or 'Authorization: {KEYWORD} <prefix>.<secret>')."
)
_INVALID = "Invalid API key."
# Compared against when the prefix is unknown, so a miss costs about as much as a hit.
_DUMMY_SHA256 = ApiKey.hash_secret("not-a-key")


class ApiKeyAuthentication(BaseAuthentication):
    """Authenticate a request by an API key; ``request.auth`` is the `ApiKey` (for its scopes)."""

    def authenticate(self, request: Request) -> tuple[User, ApiKey] | None:
        words = get_authorization_header(request).split()
        if not words:
            return None  # no header: let the next authenticator (the session) try
        if words[0].lower() not in KEYWORDS:
            # The session never reads this header, so whatever it holds was meant for us: say
            # what we expected instead of the session's "credentials were not provided".
            raise AuthenticationFailed(f"Unsupported Authorization header. {EXPECTED_HEADER}")
        if len(words) != 2:
            raise AuthenticationFailed(f"Malformed Authorization header. {EXPECTED_HEADER}")
        try:
            token = words[1].decode("ascii")
        except UnicodeDecodeError as error:
            raise AuthenticationFailed(_INVALID) from error
        prefix, _, secret = token.partition(".")
        key = None
        if len(prefix) == ApiKey.PREFIX_LENGTH and secret:
            key = ApiKey.objects.select_related("owner").filter(prefix=prefix).first()
        if key is None:
            ApiKey(secret_sha256=_DUMMY_SHA256).matches(secret)
            raise AuthenticationFailed(_INVALID)
        if not key.matches(secret) or not key.owner.is_active:
            raise AuthenticationFailed(_INVALID)
        if key.is_revoked:
            raise AuthenticationFailed("This API key has been revoked.")
        key.record_use()
        return key.owner, key

    def authenticate_header(self, request: Request) -> str:
        # Present: DRF answers unauthenticated requests 401 with this challenge instead of 403.
        return f'{BEARER} realm="api", {KEYWORD} realm="api"'


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    """Describes `ApiKeyAuthentication` in the OpenAPI schema as an HTTP bearer scheme, so
    Swagger UI's Authorize dialog takes the bare key and sends ``Bearer <key>`` itself."""

    target_class = "marketplace.api.authentication.ApiKeyAuthentication"
    name = "ApiKeyAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "<prefix>.<secret>",
            "description": (
                f"`Authorization: {BEARER} <prefix>.<secret>`, e.g. `{BEARER} ab12cd34.s3cr3t…` "
                f"(`{KEYWORD} <prefix>.<secret>` works too). In the Authorize dialog paste the "
                "bare key. Create one on the site's API keys page (/settings/api-keys/), at "
                "POST /api/v1/api-keys/ or with `manage.py create_api_key`."
            ),
        }
