"""A non-2xx answer -> the right :class:`~orgo_async.APIStatusError` subclass. No I/O.

The one mapping from error bodies to exceptions, for every endpoint (REST, chat
completions and their SSE error frames, templates): resources never refine an error
themselves. The body is decoded with :class:`~orgo_async._models.ErrorBody`, which knows
every documented shape, and the subclass gets what its shape carries:

* 403 :class:`~orgo_async.PermissionDeniedError`: ``key_workspace_id`` and
  ``target_workspace_id`` of a scope mismatch;
* 402 :class:`~orgo_async.CreditsExhaustedError`: ``balance_cents``;
* 422 with a template ``errors`` array: :class:`~orgo_async.TemplateValidationError`
  with every field error;
* every class: ``code`` and ``error_type`` of the nested chat shape, ``request_id``,
  ``upstream_status``.

The shapes do not overlap, so the status and the body decide alone; no route has to say
which refinement applies. A body that is not JSON, or JSON in no documented shape, still
gives a typed error: its message is ``HTTP <status>: <scrubbed excerpt of the body>``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import msgspec

from ._errors import (
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    CreditsExhaustedError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServiceUnavailableError,
    TemplateValidationError,
    UnprocessableEntityError,
    excerpt,
)
from ._models import ErrorBody

__all__ = ["STATUS_ERRORS", "error_class", "status_error"]

STATUS_ERRORS: Final[Mapping[int, type[APIStatusError]]] = {
    400: BadRequestError,
    401: AuthenticationError,
    402: CreditsExhaustedError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
    503: ServiceUnavailableError,
}

_EXCERPT: Final = 120


def error_class(status: int) -> type[APIStatusError]:
    """The exception class for an HTTP status (any status; 5xx without a class of its own
    is :class:`~orgo_async.InternalServerError`)."""
    cls = STATUS_ERRORS.get(status)
    if cls is None:
        cls = InternalServerError if status >= 500 else APIStatusError
    return cls


def _decode(body: bytes) -> tuple[dict[str, Any], ErrorBody | None]:
    """The body as a dict (for ``exc.data``) and as an ErrorBody, when it is either."""
    try:
        decoded = msgspec.json.decode(body) if body else None
    except msgspec.DecodeError:
        return {}, None
    if not isinstance(decoded, dict):
        return {}, None
    try:
        return decoded, msgspec.convert(decoded, ErrorBody)
    except msgspec.ValidationError:  # e.g. "request_id": 12: keep the raw dict only
        return decoded, None


def status_error(
    status: int,
    body: bytes,
    headers: Mapping[str, str],
    *,
    method: str | None = None,
    url: str | None = None,
) -> APIStatusError:
    """The exception for a non-2xx answer. Its message is scrubbed of secrets.

    >>> e = status_error(404, b'{"error": "Computer not found", "request_id": "r1"}', {})
    >>> type(e).__name__, e.message, e.request_id
    ('NotFoundError', 'Computer not found', 'r1')
    """
    data, parsed = _decode(body)
    message = parsed.text() if parsed is not None else None
    if not message:
        message = f"HTTP {status}" + (f": {excerpt(body, _EXCERPT)}" if body.strip() else "")
    fields: dict[str, Any] = {
        "status_code": status,
        "body": body,
        "request_id": (parsed.request_id if parsed else None) or headers.get("X-Request-Id"),
        "code": parsed.error_code() if parsed else None,
        "upstream_status": parsed.upstream_status if parsed else None,
        "error_type": parsed.error_type() if parsed else None,
        "data": data,
        "method": method,
        "url": url,
        "headers": dict(headers),
    }
    cls = error_class(status)
    if parsed is None:
        return cls(message, **fields)
    if cls is UnprocessableEntityError and parsed.errors is not None:
        return TemplateValidationError.from_errors(parsed.errors, **fields)
    if cls is CreditsExhaustedError:
        return CreditsExhaustedError(message, balance_cents=parsed.balance(), **fields)
    if cls is PermissionDeniedError:
        return PermissionDeniedError(
            message,
            key_workspace_id=parsed.key_workspace_id,
            target_workspace_id=parsed.target_workspace_id,
            **fields,
        )
    return cls(message, **fields)
