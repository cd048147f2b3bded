"""Shared REST API infrastructure: errors, the base permission, throttles, pagination.

Every endpoint under /api/ (this project's and the imports app's) inherits these
through ``REST_FRAMEWORK`` in settings, so the API behaves as one: one error
shape, one way to page, one authentication story.

DRF imports the permission, throttle and pagination classes named in settings
while ``rest_framework.views`` is itself still loading, so this module must not
import DRF's views (or anything that does, like drf-spectacular's schema
classes) at import time. The docs views live beside the routes, in
``config/api_urls.py``.
"""

from __future__ import annotations

import codecs
import io
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError, OperationalError
from django.db.models import Model, QuerySet
from django.http import Http404
from django.utils.log import log_response
from psycopg.errors import QueryCanceled
from rest_framework import exceptions, parsers, serializers, status
from rest_framework.pagination import CursorPagination
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle
from rest_framework.utils.urls import replace_query_param

from core.json_codec import MAX_DEPTH, UNREAD, nested_deeper_than, read_json_fast
from core.pagination import InvalidCursor, KeysetPage, SortKey, decode_cursor, keyset_page

if TYPE_CHECKING:
    from rest_framework.views import APIView

logger = logging.getLogger("django.request")

NON_FIELD = "non_field_errors"
DJANGO_NON_FIELD = "__all__"
# psycopg's words when a parameter holds a NUL (it refuses before sending), and the fields'.
NUL_REFUSED = "cannot contain NUL"
NUL_MESSAGE = "Null characters are not allowed."


# --- Errors -------------------------------------------------------------------
# Every error leaves the API as {"error": {status, code, message, fields, …}}.


class ApiError(exceptions.APIException):
    """An API error that may carry extra members for the error object (``current_version``)."""

    def __init__(self, detail: str | None = None, *, extra: dict | None = None) -> None:
        super().__init__(detail)
        self.extra = extra or {}


class PayloadTooLarge(ApiError):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "payload_too_large"
    default_detail = "The request body is too large."


class VersionConflict(ApiError):
    status_code = status.HTTP_409_CONFLICT
    default_code = "edit_conflict"
    default_detail = "Someone changed this since the version you sent."


class PreconditionFailed(ApiError):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_code = "precondition_failed"
    default_detail = "The If-Match version is not the current version."


class PreconditionRequired(ApiError):
    status_code = status.HTTP_428_PRECONDITION_REQUIRED
    default_code = "precondition_required"
    default_detail = "Send the version your change is based on."


# Seconds a client is asked to wait after a statement timeout. The same request will be as
# slow again; the pause is for the client to narrow it (and for a busy database to recover).
STATEMENT_TIMEOUT_RETRY_AFTER = 30


class StatementTimeout(ApiError):
    """PostgreSQL cancelled a statement of this request (WEB_STATEMENT_TIMEOUT ran out)."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "query_timeout"
    default_detail = (
        "This request took too long to answer and was stopped. Narrow it (more specific "
        "filters or search terms, a smaller page_size) and try again."
    )
    wait = STATEMENT_TIMEOUT_RETRY_AFTER  # DRF's handler sends it as Retry-After


def statement_cancelled(exc: BaseException) -> bool:
    """Whether PostgreSQL cancelled the statement (its statement_timeout, or a cancel request).

    Any other database error is a bug and stays a 500.
    """
    return isinstance(exc, OperationalError) and isinstance(exc.__cause__, QueryCanceled)


def log_statement_timeout(request: Any, response: Any) -> None:
    """A warning naming the path, instead of the error Django would log for a 5xx."""
    log_response(
        "Statement timeout: %s",
        getattr(request, "path", "?"),
        response=response,
        request=request,
        level="warning",
    )


def api_exception_handler(exc: Exception, context: dict) -> Response:
    """Answer every exception raised in an API view with the one error shape."""
    exc = nul_refusal(exc, context) or as_api_exception(exc)
    if exc is None:
        return server_error_response(context)
    from rest_framework.views import exception_handler  # not at import time: see the docstring

    response = exception_handler(exc, context)  # keeps WWW-Authenticate, Retry-After
    response.data = error_body(exc, response.status_code)
    if isinstance(exc, StatementTimeout):
        request = context.get("request")
        log_statement_timeout(getattr(request, "_request", request), response)
    return response


def as_api_exception(exc: Exception) -> exceptions.APIException | None:
    """DRF's own exceptions, Django's that mean a client error as their DRF twin, a cancelled
    statement as 503, else None."""
    if isinstance(exc, DjangoValidationError):
        # Services validate with full_clean(); their message_dict names the fields.
        return exceptions.ValidationError(serializers.as_serializer_error(exc))
    if isinstance(exc, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return PayloadTooLarge(f"The request body is larger than the {limit} bytes accepted.")
    if isinstance(exc, TooManyFieldsSent):  # read when a view first looks at the query
        limit = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
        return exceptions.ParseError(
            f"The query string has more than the {limit} parameters accepted."
        )
    if isinstance(exc, exceptions.APIException):
        return exc
    if statement_cancelled(exc):
        return StatementTimeout()
    if isinstance(exc, Http404):
        return exceptions.NotFound(*exc.args)
    if isinstance(exc, DjangoPermissionDenied):
        return exceptions.PermissionDenied(*exc.args)
    return None


def nul_refusal(exc: Exception, context: dict) -> exceptions.APIException | None:
    """A NUL character that reached a query: a lookup that cannot match (404), or input named.

    psycopg refuses to send text holding one, so nothing reached the database. Char fields
    refuse it themselves (DRF's and Django's); this answers for what no field checks, such
    as a slug in the URL or a query parameter looked up as it is.
    """
    if not isinstance(exc, DataError) or NUL_REFUSED not in str(exc):
        return None
    if any("\x00" in str(value) for value in (context.get("kwargs") or {}).values()):
        return exceptions.NotFound()
    request = context.get("request")
    params = request.query_params.lists() if request is not None else ()
    fields = {name: [NUL_MESSAGE] for name, values in params if any("\x00" in v for v in values)}
    return exceptions.ValidationError(fields or {NON_FIELD: [NUL_MESSAGE]})


def server_error_response(context: dict) -> Response:
    request = context.get("request")
    # Logged like Django logs an unhandled exception, so error reporting still sees it.
    logger.exception(
        "Internal Server Error: %s",
        getattr(request, "path", "?"),
        extra={"status_code": 500, "request": getattr(request, "_request", None)},
    )
    from rest_framework.views import set_rollback

    set_rollback()
    body = error_object(
        status.HTTP_500_INTERNAL_SERVER_ERROR,
        "server_error",
        "Something went wrong on our side; it has been logged.",
    )
    return Response(body, status=status.HTTP_500_INTERNAL_SERVER_ERROR)


def error_body(exc: exceptions.APIException, status_code: int) -> dict:
    extra = getattr(exc, "extra", {})
    if isinstance(exc, exceptions.ValidationError):
        fields = error_fields(exc.detail)
        return error_object(status_code, "invalid", validation_message(fields), fields, **extra)
    codes = exc.get_codes()
    code = codes if isinstance(codes, str) else exc.default_code
    return error_object(status_code, code, str(exc.detail), **extra)


def error_object(
    status_code: int, code: str, message: str, fields: dict | None = None, **extra: Any
) -> dict:
    return {
        "error": {
            "status": status_code,
            "code": code,
            "message": message,
            "fields": fields or {},
            **extra,
        }
    }


def error_fields(detail: Any, path: str = "") -> dict[str, list[str]]:
    """Flatten DRF's nested error detail into dotted paths: ``{"vendors.0": [...]}``."""
    fields: dict[str, list[str]] = {}
    if isinstance(detail, Mapping):
        for key, value in detail.items():
            name = NON_FIELD if key == DJANGO_NON_FIELD else str(key)
            fields.update(error_fields(value, f"{path}.{name}" if path else name))
    elif isinstance(detail, list | tuple):
        messages = [str(item) for item in detail if not isinstance(item, Mapping | list | tuple)]
        if messages:
            fields[path or NON_FIELD] = messages
        for index, item in enumerate(detail):
            if isinstance(item, Mapping | list | tuple) and item:
                fields.update(error_fields(item, f"{path}.{index}" if path else str(index)))
    else:
        fields[path or NON_FIELD] = [str(detail)]
    return fields


def validation_message(fields: dict[str, list[str]]) -> str:
    if list(fields) == [NON_FIELD]:
        return " ".join(fields[NON_FIELD])
    return "Invalid input: " + ", ".join(sorted(fields)) + ". See `fields` for why."


ERROR_REF = {"$ref": "#/components/schemas/Error"}
ERROR_SCHEMA = {
    "type": "object",
    "description": "The shape of every error response from /api/.",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["status", "code", "message", "fields"],
            "properties": {
                "status": {"type": "integer", "description": "The HTTP status code, repeated."},
                "code": {
                    "type": "string",
                    "description": "Stable and machine-readable: `invalid`, `not_authenticated`, "
                    "`authentication_failed`, `permission_denied`, `read_only_token`, "
                    "`not_found`, `method_not_allowed`, `edit_conflict`, "
                    "`precondition_failed`, `precondition_required`, `payload_too_large`, "
                    "`unsupported_media_type`, `throttled`, `server_error`, "
                    "`query_timeout`…",
                },
                "message": {"type": "string", "description": "What went wrong, for people."},
                "fields": {
                    "type": "object",
                    "additionalProperties": {"type": "array", "items": {"type": "string"}},
                    "description": "Validation errors by dotted field path (`vendors.0`, "
                    "`started_at`; `non_field_errors` for the whole object). Empty otherwise.",
                },
                "current_version": {
                    "type": "integer",
                    "description": "On 409 and 412: the incident's current version.",
                },
                "changed_fields": {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": "On 409 and 412: fields changed since the version you sent.",
                },
            },
        }
    },
}


# --- Authentication and permissions -----------------------------------------

READ_ONLY_TOKEN_MESSAGE = (
    "This API token is read-only: it may only use GET, HEAD and OPTIONS. "
    "Create a read-and-write token on your settings page to make changes."
)


TOO_DEEP = f"JSON parse error - the body is nested deeper than {MAX_DEPTH} levels."


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, reading UTF-8 bodies through orjson where that reads them exactly
    (``core.json_codec``); DRF's own reading, and its errors, otherwise. A pushed status
    page is megabytes of JSON."""

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = parsers.get_encoding(parser_context or {})
        if stream is None or codecs.lookup(encoding).name != "utf-8":
            return self.read_with_drf(stream, media_type, parser_context)
        data = stream.read()
        # Before reading: the standard library would overflow Python's stack on it, and
        # nothing downstream (encoding it again, storing it as jsonb) takes it either.
        if nested_deeper_than(data, MAX_DEPTH):
            raise exceptions.ParseError(TOO_DEEP)
        document = read_json_fast(data)
        if document is UNREAD:  # not JSON, or not plain JSON: DRF reads it or says why not
            return self.read_with_drf(io.BytesIO(data), media_type, parser_context)
        return document

    def read_with_drf(self, stream, media_type, parser_context):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError as exc:  # a body in another encoding, not checked above
            raise exceptions.ParseError(TOO_DEEP) from exc


class ApiPermission(BasePermission):
    """Signed in (by session or token); a read-only token may only read.

    A token never grants more than its user has: the endpoints ask
    ``postmortems.permissions`` about ``request.user`` as the HTML views do.
    """

    def has_permission(self, request: Request, view: APIView) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False  # DRF answers 401 (NotAuthenticated)
        token = request.auth
        # An API token says whether it may write (accounts.ApiToken.can_write); a session
        # has no token and may do what its user may.
        read_only = token is not None and not getattr(token, "can_write", True)
        if read_only and request.method not in SAFE_METHODS:
            raise exceptions.PermissionDenied(READ_ONLY_TOKEN_MESSAGE, code="read_only_token")
        return True


# --- Throttling ----------------------------------------------------------------
# Rates come from API_THROTTLE_USER / API_THROTTLE_ANON. They are read when a
# request is checked (not when the class is defined), so a changed setting
# applies at once. Counts live in Django's cache: the default local-memory
# cache counts per process, so configure a shared cache to count per site.


class ApiUserRateThrottle(UserRateThrottle):
    """Per user, whichever token or session the requests come with."""

    def get_rate(self) -> str | None:
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        if not request.user or not request.user.is_authenticated:
            return None  # anonymous requests are the anon throttle's business
        return super().get_cache_key(request, view)


class ApiAnonRateThrottle(AnonRateThrottle):
    """Per client address, for the few endpoints anonymous clients may call (schema, docs)."""

    def get_rate(self) -> str | None:
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)


# --- Pagination ----------------------------------------------------------------


class ApiCursorPagination(CursorPagination):
    """Cursor pages in a total order, with no COUNT, over ``core.pagination``.

    DRF's own cursor logic keys on one column and cannot page across NULLs
    (imported incidents may have no start time); the project's keyset pages on
    (column, id) and places NULLs last. Views name their orders in
    ``sort_keys`` (``?ordering=``) and the first is the default.
    """

    page_size = 50
    max_page_size = 200
    page_size_query_param = "page_size"
    page_size_query_description = "Results per page (default 50, at most 200)."
    cursor_query_description = "Opaque cursor from a `next` or `previous` link."
    ordering_param = "ordering"
    default_sort_keys = {"id": SortKey(("id",), descending=False)}

    def paginate_queryset(
        self, queryset: QuerySet, request: Request, view: APIView | None = None
    ) -> list:
        self.request = request
        self.base_url = request.build_absolute_uri()
        self.page_size = self.get_page_size(request)
        key = self.chosen_sort_key(request, view)
        cursor = request.query_params.get(self.cursor_query_param) or None
        if cursor is not None:
            self.check_cursor(cursor, key, queryset.model)
        self.page: KeysetPage = keyset_page(
            queryset,
            key=key,
            cursor=cursor,
            size=self.page_size,
            read_rows=getattr(view, "page_rows", None),
        )
        return self.page.items

    def sort_keys(self, view: APIView | None) -> dict[str, SortKey]:
        return getattr(view, "sort_keys", None) or self.default_sort_keys

    def chosen_sort_key(self, request: Request, view: APIView | None) -> SortKey:
        keys = self.sort_keys(view)
        chosen = request.query_params.get(self.ordering_param) or next(iter(keys))
        if chosen not in keys:
            raise exceptions.ValidationError(
                {self.ordering_param: [f"Choose one of: {', '.join(keys)}."]}
            )
        return keys[chosen]

    def check_cursor(self, cursor: str, key: SortKey, model: type[Model]) -> None:
        """Refuse a damaged or forged cursor with 400 before it reaches the database."""
        try:
            values, _ = decode_cursor(cursor, key)
            for column, value in zip(key.columns, values, strict=True):
                check_cursor_value(model, column, value)
        except (InvalidCursor, DjangoValidationError, TypeError, ValueError) as exc:
            message = str(exc) if isinstance(exc, InvalidCursor) else "This cursor is invalid."
            raise exceptions.ValidationError({self.cursor_query_param: [message]}) from exc

    def get_next_link(self) -> str | None:
        return self.link(self.page.next_cursor)

    def get_previous_link(self) -> str | None:
        return self.link(self.page.previous_cursor)

    def link(self, cursor: str | None) -> str | None:
        if cursor is None:
            return None
        return replace_query_param(self.base_url, self.cursor_query_param, cursor)

    def get_schema_operation_parameters(self, view: APIView) -> list[dict]:
        keys = list(self.sort_keys(view))
        ordering = {
            "name": self.ordering_param,
            "required": False,
            "in": "query",
            "description": f"Sort order (default `{keys[0]}`).",
            "schema": {"type": "string", "enum": keys},
        }
        return [*super().get_schema_operation_parameters(view), ordering]


def check_cursor_value(model: type[Model], column: str, value: Any) -> None:
    """A cursor value must be what the column could hold (JSON scalars only)."""
    if value is None:
        return
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise TypeError(f"{column}: not a scalar")
    field = model._meta.get_field(column)
    field.run_validators(field.to_python(value))  # range validators catch forged ids


# --- Schema ------------------------------------------------------------------------

ERROR_DESCRIPTIONS = {
    400: "Invalid input (see `fields`).",
    401: "Not signed in, or an unknown or revoked token.",
    403: "Signed in but not allowed (or a read-only token tried to write).",
    404: "Not found, or not visible to you (drafts stay secret).",
    413: "The request body is too large.",
    415: "The request body is not JSON.",
    429: "Too many requests; retry after the `Retry-After` header's seconds.",
    500: "Unexpected server error.",
    503: "The request took too long and was stopped; narrow it, then retry after the "
    "`Retry-After` header's seconds.",
}
BODY_METHODS = ("post", "put", "patch")


def document_errors(result: dict, generator: Any, request: Any, public: bool) -> dict:
    """drf-spectacular hook: add the Error component and the shared error responses.

    A postprocessing hook, not an AutoSchema subclass, because a schema class
    imports DRF's views and this module must not (see the module docstring).
    """
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            for code in error_statuses(path, method, operation):
                operation["responses"].setdefault(
                    str(code),
                    {
                        "description": ERROR_DESCRIPTIONS[code],
                        "content": {"application/json": {"schema": ERROR_REF}},
                    },
                )
    return result


def error_statuses(path: str, method: str, operation: dict) -> list[int]:
    codes = [429, 500, 503]
    if {} not in operation.get("security", []):  # {} marks an operation open to anyone
        codes += [401, 403]
    if "{" in path:
        codes.append(404)
    if method in BODY_METHODS:
        codes += [400, 413, 415]
    elif method == "get" and "{" not in path:
        codes.append(400)  # a collection: a bad filter, ordering or cursor
    return sorted(codes)
