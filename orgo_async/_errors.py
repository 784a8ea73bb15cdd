"""The exception hierarchy. Everything the SDK raises on purpose is an :class:`OrgoError`.

::

    OrgoError
    ├── APIError                      anything that came back from (or failed to reach) the API
    │   ├── APIStatusError            a non-2xx answer
    │   │   ├── BadRequestError           400
    │   │   ├── AuthenticationError       401
    │   │   ├── PermissionDeniedError     403 (scope-mismatch fields exposed)
    │   │   ├── NotFoundError             404
    │   │   ├── ConflictError             409
    │   │   ├── CreditsExhaustedError     402 (balance_cents; chat completions)
    │   │   ├── UnprocessableEntityError  422
    │   │   │   └── TemplateValidationError   every field error of a template (``errors``)
    │   │   ├── RateLimitError            429 (retry_after)
    │   │   └── InternalServerError       5xx
    │   │       └── ServiceUnavailableError 503
    │   ├── APIConnectionError        the request did not get an answer
    │   │   └── APITimeoutError
    │   └── APIDecodeError            the answer is not what the API documents
    ├── WebSocketError                a per-computer channel failed (terminal, audio, events, vnc)
    │   ├── TokenRejectedError            4401, still rejected after one password refresh
    │   ├── ComputerNotRunningError       4404
    │   ├── ChannelStartError             4500 (shell or audio capture failed to start)
    │   ├── ComputerGoingAwayError        1001 (server shutting down or computer stopping)
    │   ├── SessionLostError              the terminal's shell is gone and cannot resume
    │   ├── HeartbeatTimeoutError         no pong in time: the connection is dead
    │   ├── ChannelProtocolError          a frame that breaks the channel's protocol
    │   ├── EventSubscriptionError        the server refused an events subscription
    │   └── AgentError                    the hosted agent socket failed or its run failed
    ├── ComputerStateError            a computer entered ``error`` while being waited on
    ├── TemplateBuildError            a template build being waited on failed
    └── WaitTimeoutError              wait_until gave up (also a TimeoutError)

Every message is passed through :func:`orgo_async._secrets.scrub`, so a server that echoes
a token back, or a malformed body that holds a password, cannot leak it through
``str(exc)``, ``repr(exc)`` or ``exc.args``. The raw bytes stay available as ``exc.body``
for the caller who asks for them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ._retry import parse_retry_after
from ._secrets import scrub

__all__ = [
    "APIConnectionError",
    "APIDecodeError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AgentError",
    "AuthenticationError",
    "BadRequestError",
    "ChannelProtocolError",
    "ChannelStartError",
    "ComputerGoingAwayError",
    "ComputerNotRunningError",
    "ComputerStateError",
    "ConflictError",
    "CreditsExhaustedError",
    "EventSubscriptionError",
    "FieldError",
    "HeartbeatTimeoutError",
    "InternalServerError",
    "NotFoundError",
    "OrgoError",
    "PermissionDeniedError",
    "RateLimitError",
    "ServiceUnavailableError",
    "SessionLostError",
    "TemplateBuildError",
    "TemplateValidationError",
    "TokenRejectedError",
    "UnprocessableEntityError",
    "WaitTimeoutError",
    "WebSocketError",
    "describe_field_errors",
    "excerpt",
]

_EXCERPT = 200
# How much of a body is scrubbed before the excerpt is cut from it. Scrubbing before
# cutting means a secret that crosses the cut is recognised whole; the window bounds the
# work on a multi-megabyte body (the scrubber is linear, but an error path need not read
# what it will not show).
_SCRUB_WINDOW = 64 * 1024


def excerpt(body: bytes | str, limit: int = _EXCERPT) -> str:
    """A short, printable, scrubbed prefix of a body for error messages and logs.

    Secrets are hidden whatever the body (see :func:`orgo_async._secrets.scrub`):

    >>> excerpt(b'{"id": "c1", "vnc_password": "a06db12a86', limit=40)
    '{"id": "c1", "vnc_password": "***'
    """
    # 4 bytes per character at most in UTF-8: enough bytes for the whole window.
    raw = body[: _SCRUB_WINDOW * 4].decode("utf-8", "replace") if isinstance(body, bytes) else body
    text = scrub(raw[:_SCRUB_WINDOW])
    return text if len(text) <= limit else text[:limit] + "…"


class OrgoError(Exception):
    """Base class of every error the SDK raises on purpose."""

    def __init__(self, message: str) -> None:
        self.message = scrub(message)
        super().__init__(self.message)


class APIError(OrgoError):
    """An error talking to the REST API. ``method`` and ``url`` say which request."""

    def __init__(self, message: str, *, method: str | None = None, url: str | None = None) -> None:
        super().__init__(message)
        self.method = method
        self.url = url


class APIStatusError(APIError):
    """The API answered with a non-2xx status.

    Attributes mirror the documented error body (``orgo-api.md`` §1.4): ``message`` is
    ``error``, plus ``request_id`` (quote it to support), ``code`` (e.g.
    ``workspace_scope_mismatch``), ``upstream_status`` (set when the desktop itself failed:
    400 = rejected body, 408/504 = timed out, 500 = crashed), ``error_type`` (the
    ``type`` of the nested ``{"error": {"type", "message", "code"}}`` shape of
    ``/v1/chat/completions``), ``data`` (the body as a dict, when it was a JSON object)
    and the raw ``body`` bytes. They are filled from the body by one mapping,
    :func:`orgo_async._status_errors.status_error`, which also picks the subclass.
    """

    status_code: int

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        body: bytes = b"",
        request_id: str | None = None,
        code: str | None = None,
        upstream_status: int | None = None,
        error_type: str | None = None,
        data: dict[str, Any] | None = None,
        method: str | None = None,
        url: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message, method=method, url=url)
        self.status_code = status_code
        self.body = body
        self.request_id = request_id
        self.code = code
        self.upstream_status = upstream_status
        self.error_type = error_type
        self.data = data or {}
        self.headers = headers or {}

    @property
    def status(self) -> int:
        """Alias of :attr:`status_code`."""
        return self.status_code

    def __str__(self) -> str:
        parts = [f"{self.status_code}: {self.message}"]
        if self.code:
            parts.append(f"code={self.code}")
        if self.upstream_status is not None:
            parts.append(f"upstream_status={self.upstream_status}")
        if self.request_id:
            parts.append(f"request_id={self.request_id}")
        if self.method and self.url:
            parts.append(f"({self.method} {scrub(self.url)})")
        return " ".join(parts)


class BadRequestError(APIStatusError):
    """400: bad JSON, missing field, out-of-range value, or the desktop is not available."""


class AuthenticationError(APIStatusError):
    """401: missing or invalid API key."""


class PermissionDeniedError(APIStatusError):
    """403: authenticated but not allowed (plan limit, no access, or a scoped key).

    For a workspace-scoped key used outside its workspace, ``code`` is
    ``"workspace_scope_mismatch"`` and :attr:`key_workspace_id` /
    :attr:`target_workspace_id` say which workspaces were involved.
    """

    def __init__(
        self,
        message: str,
        *,
        key_workspace_id: str | None = None,
        target_workspace_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.key_workspace_id = key_workspace_id
        self.target_workspace_id = target_workspace_id

    @property
    def is_scope_mismatch(self) -> bool:
        """True when a workspace-scoped key was used outside its workspace."""
        return self.code == "workspace_scope_mismatch"


class NotFoundError(APIStatusError):
    """404: not found, or not visible to this key."""


class ConflictError(APIStatusError):
    """409: the resource's state blocks the operation (e.g. stopping a stopped computer)."""


class UnprocessableEntityError(APIStatusError):
    """422: validation failed (e.g. every resize dimension was rejected)."""


@dataclass(frozen=True, slots=True)
class FieldError:
    """One field error of a template document: ``{field, code, message, hint?}``.

    ``code`` is ``invalid_enum``, ``required``, ``unknown_ref`` (or a newer code, kept as
    it came). It is also the type the error body is decoded into
    (:class:`orgo_async._models.ErrorBody`), so a missing member takes its default.
    """

    field: str = ""
    code: str = "invalid"
    message: str = ""
    hint: str | None = None

    def __str__(self) -> str:
        text = f"{self.field}: {self.message}" if self.field else self.message
        text = f"{text} [{self.code}]"
        return f"{text} (hint: {self.hint})" if self.hint else text


def describe_field_errors(errors: Sequence[FieldError]) -> str:
    """One line for a list of field errors (the first five, and how many more)."""
    shown = "; ".join(str(e) for e in errors[:5]) or "no details"
    more = f" (+{len(errors) - 5} more)" if len(errors) > 5 else ""
    return f"template validation failed with {len(errors)} error(s): {shown}{more}"


class TemplateValidationError(UnprocessableEntityError):
    """A template document failed validation; :attr:`errors` holds every field error.

    Raised for ``{"ok": false, "errors": [...]}`` from ``templates.validate`` (HTTP 200,
    so :attr:`status_code` is 200 there) and for a 422 with that body from
    ``templates.publish``.
    """

    def __init__(self, message: str, *, errors: Sequence[FieldError], **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.errors = list(errors)

    @classmethod
    def from_errors(cls, errors: Sequence[FieldError], **kwargs: Any) -> TemplateValidationError:
        """One carrying ``errors``, with a message that lists them."""
        return cls(describe_field_errors(errors), errors=errors, **kwargs)


class CreditsExhaustedError(APIStatusError):
    """402 ``credits_exhausted``: the account has no Orgo credits left for the hosted agent.

    :attr:`balance_cents` is the balance the server reported (``None`` if it did not).
    Bring your own Anthropic key (``anthropic_api_key=``) to run without Orgo credits.
    """

    def __init__(self, message: str, *, balance_cents: int | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.balance_cents = balance_cents


class RateLimitError(APIStatusError):
    """429: rate limited. :attr:`retry_after` is the server's hint in seconds, if any."""

    @property
    def retry_after(self) -> float | None:
        return parse_retry_after(self.headers.get("Retry-After"))


class InternalServerError(APIStatusError):
    """5xx: the API or the desktop failed."""


class ServiceUnavailableError(InternalServerError):
    """503: the desktop could not be reached; the request was not processed."""


class APIConnectionError(APIError):
    """The request got no answer: connection refused, reset, or dropped mid-body."""


class APITimeoutError(APIConnectionError, TimeoutError):
    """The request did not finish within its timeout."""


class APIDecodeError(APIError):
    """The answer is not what the API documents: malformed JSON or wrong types.

    ``status_code`` is the HTTP status, ``excerpt`` a short, scrubbed prefix of the body
    (also in the message) and ``body`` the raw bytes.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        body: bytes = b"",
        method: str | None = None,
        url: str | None = None,
    ) -> None:
        self.status_code = status_code
        self.body = body
        self.excerpt = excerpt(body)
        super().__init__(
            f"{message} (HTTP {status_code}, body starts {self.excerpt!r})", method=method, url=url
        )


class WebSocketError(OrgoError):
    """A per-computer WebSocket channel failed.

    ``channel`` is ``terminal``, ``audio``, ``events`` or ``websockify``; ``code`` and
    ``reason`` are the close code and reason when the server closed the socket.
    """

    def __init__(
        self,
        message: str,
        *,
        channel: str | None = None,
        code: int | None = None,
        reason: str | None = None,
    ) -> None:
        super().__init__(message)
        self.channel = channel
        self.code = code
        self.reason = reason


class TokenRejectedError(WebSocketError):
    """4401: the token was rejected, even after fetching a fresh ``vnc_password`` once."""


class ComputerNotRunningError(WebSocketError):
    """4404: the computer does not exist or is not running."""


class ChannelStartError(WebSocketError):
    """4500: the server failed to start the shell (terminal) or the capture (audio)."""


class ComputerGoingAwayError(WebSocketError):
    """1001: the server is shutting down or the computer is stopping."""


class SessionLostError(WebSocketError):
    """The terminal's shell session is gone; a reconnect would be a different shell."""


class HeartbeatTimeoutError(WebSocketError):
    """No pong arrived in time: the connection is dead."""


class ChannelProtocolError(WebSocketError):
    """A frame that breaks the channel's protocol (malformed JSON, wrong types, oversized)."""


class EventSubscriptionError(WebSocketError):
    """The server refused a subscription (e.g. ``Unknown event type: invalid_type``)."""


class AgentError(WebSocketError):
    """The hosted agent (``wss://agent.orgo.ai/ws/prompt``) failed.

    Raised when its socket closes before the ``result`` frame (``result`` is then
    ``None`` and ``code``/``reason`` say how it closed), or by ``orgo.agent.run`` when
    the run ended with ``success: false`` (``result`` is that final result).
    """

    def __init__(self, message: str, *, result: Any = None, **kwargs: Any) -> None:
        super().__init__(message, channel="agent", **kwargs)
        self.result = result


class WaitTimeoutError(OrgoError, TimeoutError):
    """``wait_until`` gave up before the computer reached the wanted status.

    ``last_status`` is the status last seen.
    """

    def __init__(self, message: str, *, last_status: str | None = None) -> None:
        super().__init__(message)
        self.last_status = last_status


class ComputerStateError(OrgoError):
    """A computer being waited on reached a state it cannot leave by itself (``error``)."""

    def __init__(self, message: str, *, computer_id: str, status: str) -> None:
        super().__init__(message)
        self.computer_id = computer_id
        self.status = status


class TemplateBuildError(OrgoError):
    """A template build being waited on (``templates.wait_built``) ended ``failed``.

    ``ref`` is the template and ``error`` the server's reason, if it gave one.
    """

    def __init__(self, message: str, *, ref: str, error: str | None = None) -> None:
        super().__init__(message)
        self.ref = ref
        self.error = error
