"""The one request pipeline: build -> send -> retry -> map errors -> decode.

Every REST call of the SDK, the Desktop API proxy included, goes through
:meth:`HTTPPipeline.request`. It is the single place for authentication, timeouts,
retries, the client-wide rate-limit governor, error mapping, logging and redaction. The
steps are separate pieces, the way httpx separates building a request from sending it:

1. :meth:`HTTPPipeline.build` turns the arguments into an immutable
   :class:`~orgo_async._transport.Request` (URL, headers with the key, body, timeout);
2. :func:`~orgo_async._transport.send_once` sends it once and returns the outcome as data:
   a response, or a failure saying whether the request can have reached the server;
3. :func:`~orgo_async._retry.retry_delay` decides from that outcome alone whether to send
   again and when. Retry safety is data, not code: each endpoint is a
   :class:`~orgo_async._routes.Route` that says whether it is idempotent, and a request
   that may have reached the server is sent again only if it is (never turn one click
   into two; the rules are in :mod:`orgo_async._retry`);
4. :func:`~orgo_async._status_errors.status_error` maps a final non-2xx answer to the
   exception hierarchy; :func:`~orgo_async._decode.decode_response` decodes a 2xx body
   with a msgspec decoder built once per type.

:meth:`HTTPPipeline.request` is the short loop that ties them together, for streamed
requests and responses too (:mod:`orgo_async._streaming`): a request body may be a
:class:`~orgo_async._transport.StreamBody` sent chunk by chunk, and
``response_type=StreamedResponse`` hands a 2xx answer out before its body is read. Two
rules come with streaming, both from :mod:`orgo_async._retry`: a body that started to
go out is never sent again, and a response handed out is past any retry.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Final, TypeVar, cast, overload

import aiohttp
import msgspec
from yarl import URL

from ._decode import decode_response
from ._response import RawResponse
from ._retry import (
    RATE_LIMIT_MIN_DELAY,
    Failure,
    NoReplay,
    backoff_delay,
    may_have_acted,
    parse_retry_after,
    retry_delay,
)
from ._routes import Route, check_id
from ._secrets import Secret, get_logger
from ._status_errors import status_error
from ._transport import (
    Request,
    Response,
    SharedSession,
    StreamBody,
    StreamedResponse,
    TransportFailure,
    failure_error,
    send_once,
)

__all__ = [
    "DEFAULT_BASE_URL",
    "ApiKey",
    "HTTPPipeline",
    # These live in _response, _routes and _retry now; re-exported so code written
    # against the old layout (connection/ imports RawResponse from here) keeps working.
    "RawResponse",
    "RequestOptions",
    "Route",
    "check_id",
    "copy_options",
    "parse_retry_after",
    "retry_sleep",
]

T = TypeVar("T")

DEFAULT_BASE_URL: Final = "https://www.orgo.ai/api"
DEFAULT_TIMEOUT: Final = 60.0
DEFAULT_CONNECT_TIMEOUT: Final = 10.0
DEFAULT_MAX_RETRIES: Final = 2

ApiKey = Secret | Callable[[], str | Awaitable[str]]

log = get_logger()
_DEBUG = logging.DEBUG

# The clock retries and the governor wait on; tests replace it to run without waiting.
retry_sleep = asyncio.sleep

_encoder = msgspec.json.Encoder()
# What a request with auth=False carries (a pre-signed or foreign URL): neither the key
# nor the caller's default headers, which may hold credentials of their own.
_ANONYMOUS_HEADERS: Final = {"Accept": "application/json"}


@dataclass(frozen=True, slots=True)
class RequestOptions:
    """Per-client (and, through ``with_options``, per-call) request settings."""

    timeout: float = DEFAULT_TIMEOUT
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    max_retries: int = DEFAULT_MAX_RETRIES
    headers: Mapping[str, str] = field(default_factory=dict)


def copy_options(options: RequestOptions, **changes: Any) -> RequestOptions:
    """``options`` with the non-None ``changes`` applied (headers are merged)."""
    clean = {k: v for k, v in changes.items() if v is not None}
    if "headers" in clean:
        clean["headers"] = {**options.headers, **clean["headers"]}
    return replace(options, **clean)


class HTTPPipeline:
    """Sends requests to the Orgo API. One per client view; views share a
    :class:`~orgo_async._transport.SharedSession` (``transport``)."""

    def __init__(
        self,
        *,
        base_url: str,
        api_key: ApiKey,
        options: RequestOptions,
        transport: SharedSession,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        base = URL(self.base_url)
        self.origin = f"{base.scheme}://{base.raw_authority}"
        self._api_key = api_key
        self._static_auth: dict[str, str] | None = None
        if isinstance(api_key, Secret):
            self._static_auth = {"Authorization": f"Bearer {api_key.get()}"}
        self.options = options
        self.transport = transport
        # Built once: the hot path of a fleet poll reuses them untouched (aiohttp copies
        # headers into its own multidict, so sharing the dict is safe).
        self._base_headers: dict[str, str] = {**_ANONYMOUS_HEADERS, **options.headers}
        self._get_headers: dict[str, str] | None = (
            {**self._base_headers, **self._static_auth} if self._static_auth is not None else None
        )
        self._default_timeout = self._timeout(options.timeout)

    def with_options(self, options: RequestOptions) -> HTTPPipeline:
        """A pipeline with other options over the same shared session."""
        return HTTPPipeline(
            base_url=self.base_url,
            api_key=self._api_key,
            options=options,
            transport=self.transport,
        )

    # -- 1. building: no I/O ------------------------------------------------------------

    def build(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        content: bytes | StreamBody | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        url: str | None = None,
        auth: bool = True,
        stream: bool = False,
    ) -> Request:
        """The request to send, ready for every attempt.

        A static key goes in here. A callable key is asked before every attempt instead
        (keys can rotate between retries), see :meth:`request`. ``auth=False`` sends
        neither the key nor the client's default headers. With ``stream=True`` the answer
        is handed out unread and ``timeout`` bounds the silence between two reads (a
        stream lasts as long as it has data).
        """
        full_url = url if url is not None else self.base_url + path
        target = URL(full_url, encoded=url is None)
        if params:
            target = target.with_query(params)
        body = content
        prebuilt = self._get_headers
        plain_body = content is None or type(content) is bytes
        if json is None and not headers and auth and prebuilt is not None and plain_body:
            req_headers = prebuilt  # the hot path: a GET with a static key
        else:
            req_headers = dict(self._base_headers if auth else _ANONYMOUS_HEADERS)
            if json is not None:
                body = _encoder.encode(json)
                req_headers["Content-Type"] = "application/json"
            elif isinstance(content, StreamBody):
                req_headers["Content-Type"] = content.content_type
                if content.size is not None:
                    req_headers["Content-Length"] = str(content.size)
            if headers:
                req_headers.update(headers)
            if auth and self._static_auth is not None:
                req_headers.update(self._static_auth)
        if stream:
            total, client_timeout = self._read_timeout(timeout)
        elif timeout is None:  # the hot path: no call, the prebuilt default
            total, client_timeout = self.options.timeout, self._default_timeout
        else:
            total, client_timeout = timeout, self._timeout(timeout)
        shown = path if url is None else URL(full_url).path
        return Request(
            method, target, req_headers, body, client_timeout, total, shown, full_url, stream
        )

    def _read_timeout(self, timeout: float | None) -> tuple[float, aiohttp.ClientTimeout]:
        # A stream has no total timeout: it lasts as long as data keeps coming.
        read = self.options.timeout if timeout is None else timeout
        connect = self.options.connect_timeout
        return read, aiohttp.ClientTimeout(total=None, sock_connect=connect, sock_read=read)

    def _timeout(self, total: float) -> aiohttp.ClientTimeout:
        # sock_connect makes a connect timeout distinguishable (ConnectionTimeoutError):
        # that request provably never reached the server.
        return aiohttp.ClientTimeout(
            total=total, sock_connect=min(total, self.options.connect_timeout)
        )

    async def api_key(self) -> str:
        """The key for the next request: the static one, or the callable's current answer.

        For what authenticates outside this pipeline, such as the hosted agent's WebSocket
        URL; the value must go only into what is sent, never into a log or message.
        """
        if self._static_auth is not None:
            return cast(Secret, self._api_key).get()
        # A callable key (sync or async) is asked on every attempt, so keys can rotate.
        produced = cast(Callable[[], Any], self._api_key)()
        if asyncio.iscoroutine(produced) or isinstance(produced, Awaitable):
            produced = await produced
        if not isinstance(produced, str) or not produced:
            raise TypeError("the api_key callable must return a non-empty str")
        return Secret(produced).get()

    async def _with_fresh_key(self, request: Request) -> Request:
        auth = f"Bearer {await self.api_key()}"
        return msgspec.structs.replace(request, headers={**request.headers, "Authorization": auth})

    # -- the pipeline -----------------------------------------------------------------

    def call(
        self,
        route: Route,
        *ids: str,
        response_type: type[T],
        json: Any = None,
        params: Mapping[str, str] | None = None,
        content: bytes | StreamBody | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        url: str | None = None,
        auth: bool = True,
        ok_statuses: frozenset[int] | None = None,
    ) -> Coroutine[Any, Any, T]:
        """Send ``route`` with its ``{}`` placeholders filled by validated, quoted ``ids``.

        A plain function returning :meth:`request`'s coroutine, not a coroutine of its
        own: one object less per request, which a fleet poll feels as GC pressure. Bad ids
        raise here, before anything is awaited. The other arguments are :meth:`request`'s.
        """
        if len(ids) == 1:
            path = route.path.format(check_id(ids[0]))
        else:
            path = route.path.format(*[check_id(i) for i in ids]) if ids else route.path
        return self.request(
            route.method,
            path,
            idempotent=route.idempotent,
            response_type=response_type,
            json=json,
            params=params,
            content=content,
            headers=headers,
            timeout=timeout if timeout is not None else route.timeout,
            url=url,
            auth=auth,
            ok_statuses=ok_statuses,
            settled_on_retry=route.settled_on_retry,
        )

    @overload
    async def request(
        self,
        method: str,
        path: str,
        *,
        idempotent: bool,
        response_type: type[T],
        json: Any = ...,
        params: Mapping[str, str] | None = ...,
        content: bytes | StreamBody | None = ...,
        headers: Mapping[str, str] | None = ...,
        timeout: float | None = ...,
        max_retries: int | None = ...,
        url: str | None = ...,
        auth: bool = ...,
        ok_statuses: frozenset[int] | None = ...,
        settled_on_retry: frozenset[int] = ...,
    ) -> T: ...

    @overload
    async def request(
        self,
        method: str,
        path: str,
        *,
        idempotent: bool,
        response_type: None,
        json: Any = ...,
        params: Mapping[str, str] | None = ...,
        content: bytes | StreamBody | None = ...,
        headers: Mapping[str, str] | None = ...,
        timeout: float | None = ...,
        max_retries: int | None = ...,
        url: str | None = ...,
        auth: bool = ...,
        ok_statuses: frozenset[int] | None = ...,
        settled_on_retry: frozenset[int] = ...,
    ) -> None: ...

    async def request(
        self,
        method: str,
        path: str,
        *,
        idempotent: bool,
        response_type: type[Any] | None,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        content: bytes | StreamBody | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
        url: str | None = None,
        auth: bool = True,
        ok_statuses: frozenset[int] | None = None,
        settled_on_retry: frozenset[int] = frozenset(),
    ) -> Any:
        """Send one logical request (with retries) and decode the answer into ``response_type``.

        ``path`` is relative to the base URL; ``url`` (absolute) replaces it, for stored
        screenshots and pre-signed downloads. ``auth=False`` sends neither the API key nor
        the default headers (for URLs on other origins). ``response_type`` may be a
        msgspec type, ``bytes``, :class:`RawResponse`, ``None``, or
        :class:`~orgo_async._transport.StreamedResponse`: the 2xx answer unread, which the
        caller must ``close()`` (:func:`orgo_async._streaming.stream` does). ``content``
        may be a :class:`~orgo_async._transport.StreamBody`. ``ok_statuses`` are extra
        non-2xx statuses that still count as success (207). ``settled_on_retry``: see
        :class:`~orgo_async._routes.Route` (the answer is then ``{"success": true}``
        decoded into ``response_type``).
        """
        shared = self.transport
        session = shared.get_session()
        loop = shared.loop
        assert loop is not None  # bound by get_session
        req = self.build(method, path, json=json, params=params, content=content,
                         headers=headers, timeout=timeout, url=url, auth=auth,
                         stream=response_type is StreamedResponse)  # fmt: skip
        rotating_key = auth and self._static_auth is None
        retries = self.options.max_retries if max_retries is None else max_retries
        attempt = 0
        acted = False  # an earlier attempt may have been carried out
        while True:
            attempt += 1
            sent = await self._with_fresh_key(req) if rotating_key else req
            if shared.blocked_until and (held := shared.held_for()) > 0:
                await retry_sleep(held)  # the rate-limit governor (a 429 somewhere)
            started = loop.time()
            outcome = await send_once(session, sent)
            if type(outcome) is Response:
                if log.isEnabledFor(_DEBUG):
                    _log_response(sent, outcome, loop.time() - started, attempt, retries)
                status = outcome.status
                if 200 <= status < 300 or (ok_statuses is not None and status in ok_statuses):
                    return decode_response(response_type, outcome, sent)
                if acted and status in settled_on_retry:
                    return _settled(response_type, outcome, sent, attempt)
            elif isinstance(outcome, StreamedResponse):
                if log.isEnabledFor(_DEBUG):
                    _log_response(sent, outcome, loop.time() - started, attempt, retries)
                return outcome  # handed out: from here on nothing is resent
            delay = self._next_delay(outcome, sent, idempotent, attempt, retries)
            if delay is None:
                if isinstance(outcome, TransportFailure):
                    body = sent.body
                    if isinstance(body, StreamBody) and body.error is not None:
                        raise body.error from None  # the body's own failure (a size limit)
                    raise failure_error(outcome, sent) from outcome.error
                raise status_error(
                    outcome.status, outcome.body, outcome.headers, method=method, url=sent.path
                )
            acted = acted or may_have_acted(
                outcome.kind if isinstance(outcome, TransportFailure) else outcome.status
            )
            _log_retry(sent, outcome, delay, attempt, retries)
            if isinstance(outcome, TransportFailure) or outcome.status != 429:
                await retry_sleep(delay)  # a 429 waits through the governor, above

    # -- 3. what to do after a failed attempt -----------------------------------------

    def _next_delay(
        self,
        outcome: Response | TransportFailure,
        request: Request,
        idempotent: bool,
        attempt: int,
        retries: int,
    ) -> float | None:
        what: Failure | NoReplay | int
        retry_after = None
        if isinstance(outcome, TransportFailure):
            what = outcome.kind
        else:
            what = outcome.status
            retry_after = parse_retry_after(outcome.headers.get("Retry-After"))
        body = request.body
        if isinstance(body, StreamBody) and body.started:
            what = NoReplay.BODY_STARTED
        delay = retry_delay(
            what,
            idempotent=idempotent,
            attempt=attempt,
            max_retries=retries,
            retry_after=retry_after,
        )
        if isinstance(outcome, Response) and outcome.status == 429:
            # Every task sharing this client waits, not only this one, even when this
            # request gives up.
            if delay is None:
                delay_all = backoff_delay(attempt, retry_after, minimum=RATE_LIMIT_MIN_DELAY)
            else:
                delay_all = delay
            self.transport.hold(delay_all)
        return delay


_SETTLED_BODY: Final = b'{"success":true,"message":"an earlier attempt took effect"}'


def _settled(response_type: type[Any] | None, answer: Response, sent: Request, attempt: int) -> Any:
    """The success of a call whose retry was answered "already done" (a
    ``settled_on_retry`` status) after an attempt the server may have carried out."""
    why = "after an attempt whose answer was lost: that attempt took effect"
    log.info("%s %s -> %d on attempt %d, %s", sent.method, sent.path, answer.status, attempt, why)
    return decode_response(response_type, Response(200, answer.headers, _SETTLED_BODY), sent)


def _log_response(
    request: Request,
    response: Response | StreamedResponse,
    seconds: float,
    attempt: int,
    retries: int,
) -> None:
    log.debug(
        "%s %s -> %d in %.1f ms (attempt %d/%d)",
        request.method,
        request.path,
        response.status,
        seconds * 1000,
        attempt,
        retries + 1,
    )


def _log_retry(
    request: Request,
    outcome: Response | TransportFailure,
    delay: float,
    attempt: int,
    retries: int,
) -> None:
    if isinstance(outcome, Response):
        reason = f"HTTP {outcome.status}"
    else:
        e = outcome.error
        reason = f"{outcome.kind.value} ({type(e).__name__}: {e})" if str(e) else outcome.kind.value
    log.info(
        "retrying %s %s in %.2fs after %s (attempt %d/%d)",
        request.method,
        request.path,
        delay,
        reason,
        attempt + 1,
        retries + 1,
    )
