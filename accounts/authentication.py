"""API authentication with the tokens people create on their settings page.

Clients send ``Authorization: Bearer <key>`` (``Token <key>`` is accepted too,
as many HTTP tools default to it). A header with another scheme is left to the
other authentication classes; a Bearer/Token header that does not name a live
token is refused with 401 and says why.
"""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from accounts.models import ApiToken
from accounts.tokens import find_token, record_use

KEYWORDS = ("bearer", "token")
WWW_AUTHENTICATE = 'Bearer realm="api"'


class ApiTokenAuthentication(BaseAuthentication):
    """``Authorization: Bearer hs_…``: the request acts as the token's user."""

    def authenticate(self, request) -> tuple | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].decode(errors="replace").lower() not in KEYWORDS:
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(
                "Malformed Authorization header: send “Authorization: Bearer <key>”."
            )
        try:
            key = parts[1].decode("ascii")
        except UnicodeDecodeError as exc:
            raise exceptions.AuthenticationFailed("Invalid API token.") from exc
        return self.authenticate_key(key)

    def authenticate_key(self, key: str) -> tuple:
        token = find_token(key)
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid API token.")
        self.check_usable(token)
        record_use(token)
        return token.user, token

    @staticmethod
    def check_usable(token: ApiToken) -> None:
        if token.is_revoked:
            raise exceptions.AuthenticationFailed(
                "This API token was revoked. Create a new one on your settings page."
            )
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("The account of this API token is disabled.")

    def authenticate_header(self, request) -> str:
        # Makes DRF answer 401 (not 403) to unauthenticated requests.
        return WWW_AUTHENTICATE


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """Documents the token as an HTTP bearer scheme in the OpenAPI schema."""

    target_class = ApiTokenAuthentication
    name = "apiToken"

    def get_security_definition(self, auto_schema) -> dict:
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "hs_<prefix>_<secret>",
            "description": (
                "An API token from your settings page, sent as `Authorization: Bearer <key>`. "
                "Read-only tokens may only use GET, HEAD and OPTIONS."
            ),
        }
