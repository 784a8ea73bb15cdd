"""Our typed errors as HTTP answers for an ASGI app: the mapping, with no web framework.

:func:`error_answer` decides status, headers and JSON body for any
:class:`~orgo_async.OrgoError`; ``orgo_async.web`` wraps it in a Starlette/FastAPI
exception handler. The rules, chosen for the app's own callers (a browser, another
service), who talk to *the app*, not to Orgo:

* the caller's request was wrong or names something absent: the same status
  (400, 403, 404, 409, 422), with Orgo's message and ``request_id``;
* 429: 429 with ``Retry-After`` (Orgo's value; 1 s when Orgo gave none), so the caller
  backs off too;
* 401 from Orgo means the *app's* API key is wrong, not the caller's credentials: 502,
  never 401 (a 401 would make a browser re-authenticate against the app for nothing);
* any upstream 5xx, a connection failure or an undecodable answer: 502; a timeout: 504.
  The body then says only what failed and the ``request_id``, not Orgo's text;
* a computer that entered ``error`` while being waited on: 409; ``wait_until`` giving
  up: 504; a WebSocket channel failure: 502.

Every message is passed through the secret registry's redaction once more, and the
raw upstream body is never copied: neither the API key nor a ``vnc_password`` can reach
the answer, even if Orgo echoed one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from .._errors import (
    APIConnectionError,
    APIDecodeError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    ComputerStateError,
    OrgoError,
    RateLimitError,
    WaitTimeoutError,
    WebSocketError,
)
from .._secrets import redact

__all__ = ["ErrorAnswer", "error_answer"]

# Statuses whose meaning is the same for the app's caller as for us.
_PASS_THROUGH = frozenset({400, 403, 404, 409, 422})


@dataclass(frozen=True, slots=True)
class ErrorAnswer:
    """What to answer for an error: ``status``, extra ``headers`` and a JSON ``body``.

    The body is ``{"error": message, "type": exception class, "request_id": ...}``
    (``request_id`` only when Orgo gave one, ``upstream_status`` when Orgo said the
    desktop failed, ``retry_after`` for 429).
    """

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


def _retry_after(exc: RateLimitError) -> int:
    try:
        value = exc.retry_after
    except Exception:  # a malformed header must not turn a 429 into a 500
        value = None
    if value is None or not math.isfinite(value) or value < 0:
        return 1
    return max(1, math.ceil(value))


def error_answer(exc: OrgoError) -> ErrorAnswer:
    """The HTTP answer for ``exc`` (see the module docstring for the rules).

    >>> from orgo_async import NotFoundError
    >>> error_answer(NotFoundError("Computer not found", status_code=404)).status
    404
    """
    name = type(exc).__name__
    body: dict[str, Any] = {"type": name}
    headers: dict[str, str] = {}
    if isinstance(exc, APIStatusError):
        if exc.request_id:
            body["request_id"] = redact(exc.request_id)
        if exc.upstream_status is not None:
            body["upstream_status"] = exc.upstream_status
        if isinstance(exc, RateLimitError):
            seconds = _retry_after(exc)
            headers["Retry-After"] = str(seconds)
            body["retry_after"] = seconds
            return ErrorAnswer(429, {"error": _message(exc), **body}, headers)
        if isinstance(exc, AuthenticationError):
            return ErrorAnswer(
                502, {"error": "the Orgo API rejected this server's API key", **body}
            )
        if exc.status_code in _PASS_THROUGH:
            return ErrorAnswer(exc.status_code, {"error": _message(exc), **body})
        return ErrorAnswer(502, {"error": f"the Orgo API failed (HTTP {exc.status_code})", **body})
    if isinstance(exc, APITimeoutError):
        return ErrorAnswer(504, {"error": "the Orgo API did not answer in time", **body})
    if isinstance(exc, APIConnectionError):
        return ErrorAnswer(502, {"error": "could not reach the Orgo API", **body})
    if isinstance(exc, APIDecodeError):
        return ErrorAnswer(502, {"error": "the Orgo API sent an unexpected answer", **body})
    if isinstance(exc, WaitTimeoutError):
        return ErrorAnswer(504, {"error": _message(exc), **body})
    if isinstance(exc, ComputerStateError):
        return ErrorAnswer(409, {"error": _message(exc), "status": exc.status, **body})
    if isinstance(exc, WebSocketError):
        return ErrorAnswer(502, {"error": _message(exc), **body})
    return ErrorAnswer(500, {"error": "internal error", **body})


def _message(exc: OrgoError) -> str:
    # Already redacted when the error was built; again here because the registry may
    # have learnt a secret since (a vnc_password fetched after the error was made).
    return redact(exc.message)
