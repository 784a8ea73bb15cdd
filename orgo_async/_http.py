"""The one request pipeline: build -> send -> retry -> map errors -> decode.

Every REST call of the SDK, the Desktop API proxy included, goes through
:meth:`HTTPPipeline.request`. It is the single place for authentication, timeouts,
retries, the client-wide rate-limit governor, error mapping, logging and redaction.

Retry safety is data, not code: each endpoint is a :class:`Route` that says whether it is
idempotent, and the pipeline alone decides what may be sent twice:

* idempotent routes (reads, delete, start/stop ...) are retried on connection errors,
  timeouts, 408, 429 and 5xx;
* non-idempotent routes (create, click, type, bash ...) are retried only when the request
  provably never reached the server (the TCP/TLS connection could not be opened) or the
  server said it did not process it (429, 503). A timeout or a connection dropped after
  the request was written may mean the action ran: retrying would turn one double click
  into two, so the error goes to the caller instead.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import re
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Final, TypeVar, cast, overload
from urllib.parse import quote

import aiohttp
import msgspec
from yarl import URL

from ._errors import (
    APIConnectionError,
    APIDecodeError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServiceUnavailableError,
    UnprocessableEntityError,
    excerpt,
)
from ._secrets import Secret, get_logger, redact
from ._version import __version__

if TYPE_CHECKING:
    from types import TracebackType  # noqa: F401

__all__ = [
    "DEFAULT_BASE_URL",
    "ApiKey",
    "HTTPPipeline",
    "RawResponse",
    "RequestOptions",
    "Route",
    "check_id",
    "may_retry_status",
    "parse_retry_after",
]

T = TypeVar("T")

DEFAULT_BASE_URL: Final = "https://www.orgo.ai/api"
DEFAULT_TIMEOUT: Final = 60.0
DEFAULT_CONNECT_TIMEOUT: Final = 10.0
DEFAULT_MAX_RETRIES: Final = 2
# The reference recommends backoff starting at 1 s, doubling, capped at 60 s for 429s.
RETRY_BASE_DELAY: Final = 0.5
RETRY_MAX_DELAY: Final = 8.0
RATE_LIMIT_MIN_DELAY: Final = 1.0
MAX_RETRY_AFTER: Final = 60.0

ApiKey = Secret | Callable[[], str | Awaitable[str]]

log = get_logger()
_DEBUG = logging.DEBUG

_STATUS_ERRORS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
    503: ServiceUnavailableError,
}
# The server said it did not process the request: safe to send again, whatever it was.
_NOT_PROCESSED: Final = frozenset({429, 503})
# Transient failures that may have happened after the server acted: idempotent only.
_TRANSIENT: Final = frozenset({408, 429, 500, 502, 503, 504})


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date)."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - time.time()
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)


# Ids made only of these need no quoting (UUIDs, hex instance ids): the fast path.
_SAFE_ID = re.compile(r"[A-Za-z0-9_~-][A-Za-z0-9_.~-]{0,255}")
_BAD_ID = re.compile(r"[/\\?#%\s\x00-\x1f\x7f]")


def check_id(value: object, what: str = "id") -> str:
    """Validate an id before it goes into a URL path, and path-quote it.

    Refuses (``ValueError``) what can never be a valid id and could change which URL is
    requested: empty strings, ``.``/``..``, slashes, ``?``/``#``/``%``, whitespace and
    control characters. ``TypeError`` for non-strings (a common slip: passing a
    ``Computer`` instead of ``computer.id``).
    """
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, not {type(value).__name__}")
    if _SAFE_ID.fullmatch(value) is not None:
        return value
    if not value:
        raise ValueError(f"{what} must not be empty")
    if value in (".", "..") or len(value) > 256 or _BAD_ID.search(value) is not None:
        raise ValueError(f"invalid {what}: {value[:64]!r}")
    if not value.isprintable():
        raise ValueError(f"invalid {what}: contains control characters")
    return quote(value, safe="")


@dataclass(frozen=True, slots=True)
class Route:
    """One endpoint: verb, path template (``{}`` placeholders for ids) and retry safety.

    ``timeout`` overrides the client default for endpoints whose server-side work is long
    (bash, exec, wait, start).
    """

    method: str
    path: str
    idempotent: bool
    timeout: float | None = None


@dataclass(frozen=True, slots=True)
class RequestOptions:
    """Per-client (and, through ``with_options``, per-call) request settings."""

    timeout: float = DEFAULT_TIMEOUT
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    max_retries: int = DEFAULT_MAX_RETRIES
    headers: Mapping[str, str] = field(default_factory=dict)


class RawResponse:
    """A response kept as bytes: what the Desktop proxy and binary downloads return."""

    __slots__ = ("content", "headers", "status", "url")

    def __init__(self, status: int, headers: Mapping[str, str], content: bytes, url: str) -> None:
        self.status = status
        self.headers = headers
        self.content = content
        self.url = url

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "").split(";")[0].strip()

    def json(self) -> Any:
        """The body decoded as JSON; :class:`APIDecodeError` if it is not JSON."""
        try:
            return msgspec.json.decode(self.content)
        except msgspec.DecodeError as e:
            raise APIDecodeError(
                f"response is not JSON: {e}", status_code=self.status, body=self.content
            ) from None

    def __repr__(self) -> str:
        return f"RawResponse(status={self.status}, size={len(self.content)})"


_decoders: dict[Any, msgspec.json.Decoder[Any]] = {}


def _decoder(tp: type[T]) -> msgspec.json.Decoder[T]:
    """Decoders are built once per type and reused: building one is the costly part."""
    dec = _decoders.get(tp)
    if dec is None:
        dec = _decoders[tp] = msgspec.json.Decoder(tp)
    return dec


_encoder = msgspec.json.Encoder()
# Indirection so tests can replace the retry clock without touching asyncio itself.
_sleep = asyncio.sleep


class _Transport:
    """What every client view shares: the session, its event loop and the rate governor."""

    def __init__(
        self,
        *,
        session: aiohttp.ClientSession | None,
        max_connections: int,
        max_connections_per_host: int,
        ssl: Any,
    ) -> None:
        self.session = session
        self.owns_session = session is None
        self.max_connections = max_connections
        self.max_connections_per_host = max_connections_per_host
        self.ssl = ssl
        self.loop: asyncio.AbstractEventLoop | None = None
        self.closed = False
        # Client-wide rate-limit governor: when any request sees a 429, every request
        # sharing this client waits until this loop time before sending.
        self.blocked_until = 0.0

    def get_session(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self.loop is not loop:
            if self.loop is not None:
                raise RuntimeError(
                    "this AsyncOrgo client is bound to another event loop; "
                    "create one client per event loop"
                )
            self.loop = loop
        if self.closed:
            raise RuntimeError("this AsyncOrgo client is closed")
        session = self.session
        if session is None:
            connector = aiohttp.TCPConnector(
                limit=self.max_connections,
                limit_per_host=self.max_connections_per_host,
                ttl_dns_cache=300,
                ssl=self.ssl if self.ssl is not None else True,
            )
            session = self.session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=None),
                headers={"User-Agent": f"orgo-async/{__version__}"},
            )
        return session

    async def close(self) -> None:
        self.closed = True
        if self.owns_session and self.session is not None and not self.session.closed:
            await self.session.close()


class HTTPPipeline:
    """Sends requests to the Orgo API. One per client view; views share a ``_Transport``."""

    def __init__(
        self,
        *,
        base_url: str,
        api_key: ApiKey,
        options: RequestOptions,
        transport: _Transport,
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
        self._base_headers: dict[str, str] = {"Accept": "application/json", **options.headers}
        self._get_headers: dict[str, str] | None = (
            {**self._base_headers, **self._static_auth} if self._static_auth is not None else None
        )
        self._default_timeout = self._timeout(options.timeout)

    def with_options(self, options: RequestOptions) -> HTTPPipeline:
        return HTTPPipeline(
            base_url=self.base_url,
            api_key=self._api_key,
            options=options,
            transport=self.transport,
        )

    # -- building ---------------------------------------------------------------------

    async def _auth_headers(self) -> dict[str, str]:
        if self._static_auth is not None:
            return self._static_auth
        # A callable key (sync or async) is asked on every attempt, so keys can rotate.
        produced = cast(Callable[[], Any], self._api_key)()
        if asyncio.iscoroutine(produced) or isinstance(produced, Awaitable):
            produced = await produced
        if not isinstance(produced, str) or not produced:
            raise TypeError("the api_key callable must return a non-empty str")
        return {"Authorization": f"Bearer {Secret(produced).get()}"}

    def _timeout(self, total: float) -> aiohttp.ClientTimeout:
        # sock_connect makes a connect timeout distinguishable (ConnectionTimeoutError):
        # that request provably never reached the server.
        return aiohttp.ClientTimeout(
            total=total, sock_connect=min(total, self.options.connect_timeout)
        )

    # -- the pipeline -----------------------------------------------------------------

    def call(
        self,
        route: Route,
        *ids: str,
        response_type: type[T],
        json: Any = None,
        params: Mapping[str, str] | None = None,
        timeout: float | None = None,
        ok_statuses: frozenset[int] | None = None,
    ) -> Coroutine[Any, Any, T]:
        """Send ``route`` with its ``{}`` placeholders filled by validated, quoted ``ids``.

        A plain function returning :meth:`request`'s coroutine, not a coroutine of its
        own: one object less per request, which a fleet poll feels as GC pressure. Bad ids
        raise here, before anything is awaited.
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
            timeout=timeout if timeout is not None else route.timeout,
            ok_statuses=ok_statuses,
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
        content: bytes | None = ...,
        headers: Mapping[str, str] | None = ...,
        timeout: float | None = ...,
        max_retries: int | None = ...,
        url: str | None = ...,
        auth: bool = ...,
        ok_statuses: frozenset[int] | None = ...,
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
        content: bytes | None = ...,
        headers: Mapping[str, str] | None = ...,
        timeout: float | None = ...,
        max_retries: int | None = ...,
        url: str | None = ...,
        auth: bool = ...,
        ok_statuses: frozenset[int] | None = ...,
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
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
        url: str | None = None,
        auth: bool = True,
        ok_statuses: frozenset[int] | None = None,
    ) -> Any:
        """Send one logical request (with retries) and decode the answer into ``response_type``.

        ``path`` is relative to the base URL; ``url`` (absolute) replaces it, for stored
        screenshots. ``auth=False`` sends no API key (for URLs on other origins).
        ``response_type`` may be a msgspec type, ``bytes``, :class:`RawResponse` or ``None``.
        ``ok_statuses`` are extra non-2xx statuses that still count as success (207).
        """
        transport = self.transport
        session = transport.get_session()
        opts = self.options
        full_url = url if url is not None else self.base_url + path
        target = URL(full_url, encoded=url is None)
        if params:
            target = target.with_query(params)
        body: bytes | None = content
        req_headers: dict[str, str]
        prebuilt = self._get_headers
        # The common case (a GET with a static key) sends the prebuilt dict as is.
        add_auth = auth
        if json is None and not headers and auth and prebuilt is not None:
            req_headers = prebuilt
            add_auth = False
        else:
            req_headers = dict(self._base_headers)
            if json is not None:
                body = _encoder.encode(json)
                req_headers["Content-Type"] = "application/json"
            if headers:
                req_headers.update(headers)
        if timeout is None:
            total_timeout = opts.timeout
            client_timeout = self._default_timeout
        else:
            total_timeout = timeout
            client_timeout = self._timeout(timeout)
        retries = opts.max_retries if max_retries is None else max_retries
        loop = transport.loop
        assert loop is not None
        log_path = path if url is None else URL(full_url).path
        attempt = 0
        while True:
            attempt += 1
            if add_auth:
                req_headers.update(await self._auth_headers())
            if transport.blocked_until:
                wait = transport.blocked_until - loop.time()
                if wait > 0:
                    await _sleep(wait)
            started = loop.time()
            try:
                async with session.request(
                    method,
                    target,
                    data=body,
                    headers=req_headers,
                    timeout=client_timeout,
                    allow_redirects=False,
                ) as resp:
                    data = await resp.read()
                    status = resp.status
                    resp_headers = resp.headers
            except aiohttp.ClientSSLError as e:
                # Certificate or TLS failure: retrying cannot help, and nothing was sent.
                raise APIConnectionError(
                    f"TLS error connecting to {self.origin}: {e}", method=method, url=log_path
                ) from e
            except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as e:
                # The connection was never opened: nothing reached the server.
                error: APIConnectionError
                if isinstance(e, aiohttp.ConnectionTimeoutError):
                    error = APITimeoutError(
                        f"timed out connecting to {self.origin}", method=method, url=log_path
                    )
                else:
                    cause = e.os_error if isinstance(e, aiohttp.ClientConnectorError) else e
                    error = APIConnectionError(
                        f"could not connect to {self.origin}: {cause}", method=method, url=log_path
                    )
                if attempt <= retries:
                    await self._backoff(method, log_path, attempt, retries, str(error), None)
                    continue
                raise error from e
            except (TimeoutError, aiohttp.ServerTimeoutError) as e:
                err = APITimeoutError(
                    f"request timed out after {total_timeout:g}s", method=method, url=log_path
                )
                if idempotent and attempt <= retries:
                    await self._backoff(method, log_path, attempt, retries, "timeout", None)
                    continue
                raise err from e
            except aiohttp.ClientError as e:
                # Reset, dropped mid-body, bad framing: the server may have acted.
                err2 = APIConnectionError(
                    f"connection error: {type(e).__name__}: {e}", method=method, url=log_path
                )
                if idempotent and attempt <= retries:
                    await self._backoff(method, log_path, attempt, retries, str(err2), None)
                    continue
                raise err2 from e

            if log.isEnabledFor(_DEBUG):
                log.debug(
                    "%s %s -> %d in %.1f ms (attempt %d/%d)",
                    method,
                    log_path,
                    status,
                    (loop.time() - started) * 1000,
                    attempt,
                    retries + 1,
                )
            if 200 <= status < 300 or (ok_statuses is not None and status in ok_statuses):
                return self._decode(
                    response_type, status, data, resp_headers, full_url, method, log_path
                )

            retry_after = parse_retry_after(resp_headers.get("Retry-After"))
            if status == 429:
                # Every task sharing this client waits, not just this one; the wait
                # happens at the top of the loop, for this retry too.
                delay = self._delay(attempt, retry_after, minimum=RATE_LIMIT_MIN_DELAY)
                transport.blocked_until = max(transport.blocked_until, loop.time() + delay)
            if (
                attempt <= retries
                and status in _TRANSIENT
                and (idempotent or status in _NOT_PROCESSED)
            ):
                if status == 429:
                    self._log_retry(method, log_path, attempt, retries, "HTTP 429", delay)
                else:
                    await self._backoff(
                        method, log_path, attempt, retries, f"HTTP {status}", retry_after
                    )
                continue
            raise self._status_error(status, data, resp_headers, method, log_path)

    # -- helpers ----------------------------------------------------------------------

    @staticmethod
    def _delay(attempt: int, retry_after: float | None, minimum: float = 0.0) -> float:
        if retry_after is not None:
            return min(retry_after, MAX_RETRY_AFTER)
        # "Equal jitter": half fixed, half random, so retries spread out but never
        # collapse to zero.
        ceiling = min(RETRY_MAX_DELAY, RETRY_BASE_DELAY * 2.0 ** (attempt - 1))
        return max(minimum, ceiling / 2 + random.uniform(0, ceiling / 2))

    async def _backoff(
        self,
        method: str,
        path: str,
        attempt: int,
        retries: int,
        reason: str,
        retry_after: float | None,
    ) -> None:
        delay = self._delay(attempt, retry_after)
        self._log_retry(method, path, attempt, retries, reason, delay)
        await _sleep(delay)

    @staticmethod
    def _log_retry(
        method: str, path: str, attempt: int, retries: int, reason: str, delay: float
    ) -> None:
        log.info(
            "retrying %s %s in %.2fs after %s (attempt %d/%d)",
            method,
            path,
            delay,
            reason,
            attempt + 1,
            retries + 1,
        )

    def _decode(
        self,
        tp: type[Any] | None,
        status: int,
        data: bytes,
        headers: Mapping[str, str],
        url: str,
        method: str,
        path: str,
    ) -> Any:
        dec = _decoders.get(tp)
        if dec is not None and data:
            try:
                return dec.decode(data)
            except (msgspec.ValidationError, msgspec.DecodeError):
                pass  # fall through to the slow path, which says what is wrong
        if tp is None:
            return None
        if tp is RawResponse:
            return RawResponse(status, dict(headers), data, url)
        if tp is bytes:
            return data
        if not data.strip():
            # Some endpoints answer 200 with no body; models whose fields all have
            # defaults (Success, ActionResult) stand for that.
            try:
                return tp()
            except TypeError:
                raise APIDecodeError(
                    f"empty response, expected {tp.__name__}",
                    status_code=status,
                    body=data,
                    method=method,
                    url=path,
                ) from None
        try:
            return _decoder(tp).decode(data)
        except msgspec.ValidationError as e:
            raise APIDecodeError(
                f"response does not match {tp.__name__}: {e}",
                status_code=status,
                body=data,
                method=method,
                url=path,
            ) from None
        except msgspec.DecodeError as e:
            raise APIDecodeError(
                f"malformed JSON in response: {e}",
                status_code=status,
                body=data,
                method=method,
                url=path,
            ) from None

    @staticmethod
    def _status_error(
        status: int, data: bytes, headers: Mapping[str, str], method: str, path: str
    ) -> APIStatusError:
        info: dict[str, Any] = {}
        try:
            decoded = msgspec.json.decode(data) if data else None
        except msgspec.DecodeError:
            decoded = None
        if isinstance(decoded, dict):
            info = decoded
        raw_error = info.get("error")
        code = info.get("code")
        message: str | None = None
        if isinstance(raw_error, str):
            message = raw_error
        elif isinstance(raw_error, dict):  # /v1/chat/completions nests it
            nested_msg = raw_error.get("message")
            message = nested_msg if isinstance(nested_msg, str) else None
            if code is None and isinstance(raw_error.get("code"), str):
                code = raw_error["code"]
        elif isinstance(info.get("message"), str):
            message = info["message"]
        if message is None:
            message = f"HTTP {status}" + (f": {excerpt(data, 120)}" if data and not info else "")
        upstream = info.get("upstream_status")
        request_id = info.get("request_id") or headers.get("X-Request-Id")
        cls = _STATUS_ERRORS.get(status)
        if cls is None:
            cls = InternalServerError if status >= 500 else APIStatusError
        return cls(
            redact(message),
            status_code=status,
            body=data,
            request_id=request_id if isinstance(request_id, str) else None,
            code=code if isinstance(code, str) else None,
            upstream_status=upstream if isinstance(upstream, int) else None,
            data=info,
            method=method,
            url=path,
            headers=dict(headers),
        )

    # -- hooks for orgo_async/_streaming.py ------------------------------------------------
    # Streamed requests/responses (uploads, SSE) are sent there, with this pipeline's key,
    # rate-limit governor, retry rules, backoff and error mapping through these names.

    async def api_key(self) -> str:
        """The key for the next request (a callable key is asked again)."""
        return (await self._auth_headers())["Authorization"].removeprefix("Bearer ")

    async def auth_headers(self) -> dict[str, str]:
        """The ``Authorization`` header for the next attempt."""
        return await self._auth_headers()

    async def backoff(
        self,
        method: str,
        path: str,
        attempt: int,
        retries: int,
        reason: str,
        retry_after: float | None,
    ) -> None:
        """Log and sleep before retry ``attempt + 1``."""
        await self._backoff(method, path, attempt, retries, reason, retry_after)

    def note_rate_limited(self, attempt: int, retry_after: float | None) -> float:
        """A 429 was seen: every request sharing this client waits (the governor).
        Returns the wait."""
        transport = self.transport
        assert transport.loop is not None
        delay = self._delay(attempt, retry_after, minimum=RATE_LIMIT_MIN_DELAY)
        transport.blocked_until = max(transport.blocked_until, transport.loop.time() + delay)
        return delay

    async def governor(self) -> None:
        """Wait while the client-wide rate-limit governor says so."""
        transport = self.transport
        if transport.blocked_until and transport.loop is not None:
            wait = transport.blocked_until - transport.loop.time()
            if wait > 0:
                await _sleep(wait)

    log_retry = _log_retry
    status_error = _status_error


def may_retry_status(status: int, idempotent: bool) -> bool:
    """Whether a request that got ``status`` may be sent again (the rules of the module doc)."""
    return status in _TRANSIENT and (idempotent or status in _NOT_PROCESSED)


def copy_options(options: RequestOptions, **changes: Any) -> RequestOptions:
    """``options`` with the non-None ``changes`` applied (headers are merged)."""
    clean = {k: v for k, v in changes.items() if v is not None}
    if "headers" in clean:
        clean["headers"] = {**options.headers, **clean["headers"]}
    return replace(options, **clean)
