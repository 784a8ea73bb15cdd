"""The aiohttp side of the pipeline: the shared session, and one send attempt.

:func:`send_once` sends a built :class:`Request` once and returns what happened as data:
a :class:`Response` (the whole body read), a :class:`StreamedResponse` (the 2xx answer to
a streamed request, handed out before its body is read) or a :class:`TransportFailure`
whose :class:`~orgo_async._retry.Failure` says whether the request can have reached the
server. It never raises for network trouble and never retries: deciding that is
:mod:`orgo_async._retry`'s job. :func:`failure_error` is the one place a failure becomes
the exception the caller sees, for a failed send and for a streamed body that breaks
while it is read; non-2xx answers are mapped by :mod:`orgo_async._status_errors`.

A request body is bytes, or a :class:`StreamBody` produced chunk by chunk (an upload
that never sits whole in memory), which records whether it started to go out.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import Any, Final

import aiohttp
import msgspec
from yarl import URL

from ._errors import APIConnectionError, APITimeoutError
from ._retry import Failure
from ._version import __version__

__all__ = [
    "CHUNK_SIZE",
    "ERROR_BODY_LIMIT",
    "Request",
    "Response",
    "SharedSession",
    "StreamBody",
    "StreamedResponse",
    "TransportFailure",
    "classify",
    "failure_error",
    "send_once",
]

CHUNK_SIZE: Final = 64 * 1024
# What is read of a non-2xx answer to a streamed request: an error is JSON of a few
# hundred bytes; this only bounds a misbehaving server.
ERROR_BODY_LIMIT: Final = 1 << 20
# What a send attempt or a streamed read can raise for network trouble (see classify).
_NETWORK_ERRORS: Final = (aiohttp.ClientError, TimeoutError)


class StreamBody:
    """A request body produced chunk by chunk, that knows whether it started to go out.

    ``source`` returns a fresh async iterator of ``bytes``; it is called when an attempt
    pulls the first chunk, which marks the body :attr:`started`. A started body is never
    sent again (:attr:`~orgo_async._retry.NoReplay.BODY_STARTED`); an attempt that failed
    before (the connection could not be opened) leaves it unstarted, so the next attempt
    opens it afresh. ``size`` (when known) is sent as ``Content-Length``, else the body
    goes chunked. :attr:`error` keeps an exception the source raised (for instance a size
    limit), so the caller sees it instead of the connection error it caused.
    """

    __slots__ = ("_source", "content_type", "error", "size", "started")

    def __init__(
        self,
        source: Callable[[], AsyncIterator[bytes]],
        *,
        content_type: str,
        size: int | None = None,
    ) -> None:
        self._source = source
        self.content_type = content_type
        self.size = size
        self.started = False
        self.error: BaseException | None = None

    def open(self) -> AsyncIterator[bytes]:
        """The iterator for one attempt; ``RuntimeError`` once the body started."""
        if self.started:
            raise RuntimeError("this request body already started to go out; it cannot be replayed")
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[bytes]:
        self.started = True  # runs on the first pull: the body started to go out
        source = self._source()
        try:
            async for chunk in source:
                yield chunk
        except Exception as e:
            self.error = e
            raise
        finally:
            aclose = getattr(source, "aclose", None)
            if aclose is not None:
                await aclose()

    def __repr__(self) -> str:
        return f"StreamBody(content_type={self.content_type!r}, size={self.size})"


class Request(msgspec.Struct, frozen=True, gc=False):
    """One request, built and ready to send: nothing in it changes between attempts.

    ``path`` is what logs and errors show (no query, no host); ``full_url`` is the URL
    without the query, for :class:`~orgo_async.RawResponse`. ``gc=False``: it holds no
    cycles, and a fleet poll builds one per request, so the garbage collector need not
    track it.
    """

    method: str
    url: URL
    headers: Mapping[str, str]
    body: bytes | StreamBody | None
    timeout: aiohttp.ClientTimeout
    total_timeout: float
    path: str
    full_url: str
    stream: bool = False
    """Hand a 2xx answer out unread (:class:`StreamedResponse`); ``total_timeout`` is
    then the longest silence tolerated between two reads."""

    def __repr__(self) -> str:
        # Never the headers (the key) nor the body (what the caller typed, a password).
        return f"Request({self.method} {self.path})"


class Response(msgspec.Struct, frozen=True, gc=False):
    """An HTTP answer, whatever its status, with the whole body read."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    def __repr__(self) -> str:
        # Never the body: a computer's JSON holds its vnc_password.
        return f"Response(status={self.status}, size={len(self.body)})"


class TransportFailure(msgspec.Struct, frozen=True):
    """No HTTP answer: ``kind`` says how far the request got, ``error`` is aiohttp's."""

    kind: Failure
    error: BaseException


class StreamedResponse:
    """A 2xx answer whose body has not been read yet.

    Iterate it with :meth:`iter_chunks` / :meth:`iter_any`, or :meth:`read` it whole;
    :meth:`close` releases the connection. A failure while reading raises what a failed
    send would (:func:`failure_error`): :class:`~orgo_async.APITimeoutError` when nothing
    arrived for the read timeout, else :class:`~orgo_async.APIConnectionError`. It is
    never retried: the caller may have consumed part of it.
    """

    __slots__ = ("_request", "_resp", "headers", "status")

    def __init__(self, resp: aiohttp.ClientResponse, request: Request) -> None:
        self._resp = resp
        self._request = request
        self.status = resp.status
        self.headers: Mapping[str, str] = resp.headers

    @property
    def content_type(self) -> str:
        """The media type of ``Content-Type``, lower-cased, without parameters."""
        return self.headers.get("Content-Type", "").split(";")[0].strip().lower()

    @property
    def content_length(self) -> int | None:
        """``Content-Length``, when the server sent one."""
        return self._resp.content_length

    async def iter_chunks(self, size: int = CHUNK_SIZE) -> AsyncIterator[bytes]:
        """The body in chunks of at most ``size`` bytes."""
        with self._errors():
            async for chunk in self._resp.content.iter_chunked(size):
                yield chunk

    async def iter_any(self) -> AsyncIterator[bytes]:
        """The body as it arrives (for event streams: no waiting for a full chunk)."""
        with self._errors():
            async for chunk in self._resp.content.iter_any():
                yield chunk

    async def read(self, limit: int | None = None) -> bytes:
        """The whole body; ``APIConnectionError`` past ``limit`` bytes."""
        parts: list[bytes] = []
        total = 0
        async for chunk in self.iter_chunks():
            total += len(chunk)
            if limit is not None and total > limit:
                raise APIConnectionError(
                    f"response body exceeds {limit} bytes",
                    method=self._request.method,
                    url=self._request.path,
                )
            parts.append(chunk)
        return b"".join(parts)

    def close(self) -> None:
        """Release the connection: back to the pool when the body was read to the end,
        closed otherwise (an unread body cannot be reused on a keep-alive connection)."""
        if self._resp.content.at_eof():
            self._resp.release()
        else:
            self._resp.close()

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except _NETWORK_ERRORS as e:
            raise failure_error(TransportFailure(classify(e), e), self._request) from e

    def __repr__(self) -> str:
        return f"StreamedResponse(status={self.status}, content_type={self.content_type!r})"


async def send_once(
    session: aiohttp.ClientSession, request: Request
) -> Response | StreamedResponse | TransportFailure:
    """Send ``request`` once; redirects are not followed (they could carry the key away).

    A streamed request's 2xx answer comes back unread (:class:`StreamedResponse`); any
    other answer is read whole (a non-2xx one to a streamed request, at most
    :data:`ERROR_BODY_LIMIT` bytes).
    """
    body = request.body
    payload = body.open() if type(body) is StreamBody else body
    try:
        # Awaited and released by hand rather than `async with`: the context managers
        # cost five coroutine objects per request, which a fleet poll feels as GC
        # pressure. release() does what their exit does (the connection goes back to
        # the pool, or is closed if the body was not read to the end), except waiting
        # for the request-body writer, which release() cancels if still running.
        resp = await session.request(
            request.method,
            request.url,
            data=payload,
            headers=request.headers,
            timeout=request.timeout,
            allow_redirects=False,
        )
        if request.stream and 200 <= resp.status < 300:
            return StreamedResponse(resp, request)
        try:
            read = resp.content.read(ERROR_BODY_LIMIT) if request.stream else resp.read()
            return Response(resp.status, resp.headers, await read)
        finally:
            resp.release()
    except _NETWORK_ERRORS as e:
        return TransportFailure(classify(e), e)
    finally:
        if payload is not body:
            await _close_body(payload)


async def _close_body(payload: Any) -> None:
    """Close an upload's chunk generator now (its file), unless aiohttp is inside it."""
    # RuntimeError "already running": the cancelled writer task finalizes it instead.
    with contextlib.suppress(RuntimeError):
        await payload.aclose()


def classify(error: BaseException) -> Failure:
    """How far a request that raised ``error`` (an aiohttp or timeout error) got."""
    # The order matters: ClientConnectorSSLError is also a ClientConnectorError, and
    # ConnectionTimeoutError (the sock_connect timeout) is also a ServerTimeoutError.
    if isinstance(error, aiohttp.ClientSSLError):
        return Failure.TLS
    if isinstance(error, aiohttp.ConnectionTimeoutError):
        return Failure.CONNECT_TIMEOUT
    if isinstance(error, aiohttp.ClientConnectorError):
        return Failure.CONNECT
    if isinstance(error, TimeoutError | aiohttp.ServerTimeoutError):
        return Failure.TIMEOUT
    # Reset, dropped mid-body, bad framing: the request may have been processed.
    return Failure.DROPPED


def failure_error(failure: TransportFailure, request: Request) -> APIConnectionError:
    """The exception for a request that got no (complete) answer."""
    e = failure.error
    kind = failure.kind
    method, path = request.method, request.path
    if kind is Failure.TLS:
        # Certificate or TLS failure: retrying cannot help, and nothing was sent.
        msg = f"TLS error connecting to {request.url.origin()}: {e}"
        return APIConnectionError(msg, method=method, url=path)
    if kind is Failure.CONNECT_TIMEOUT:
        msg = f"timed out connecting to {request.url.origin()}"
        return APITimeoutError(msg, method=method, url=path)
    if kind is Failure.CONNECT:
        cause = e.os_error if isinstance(e, aiohttp.ClientConnectorError) else e
        msg = f"could not connect to {request.url.origin()}: {cause}"
        return APIConnectionError(msg, method=method, url=path)
    if kind is Failure.TIMEOUT:
        seconds = f"{request.total_timeout:g}s"
        msg = (
            f"no data received for {seconds}"
            if request.stream
            else f"request timed out after {seconds}"
        )
        return APITimeoutError(msg, method=method, url=path)
    msg = f"connection error: {type(e).__name__}: {e}"
    return APIConnectionError(msg, method=method, url=path)


class SharedSession:
    """What every view of one client shares: the aiohttp session (created lazily), the
    event loop it is bound to, and the client-wide rate-limit governor.

    The governor: when any request sees a 429, :meth:`hold` makes every request sharing
    this session wait (:attr:`blocked_until`, in loop time) before it is sent.
    """

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
        self.blocked_until = 0.0

    def get_session(self) -> aiohttp.ClientSession:
        """The session, created on first use inside the running loop, which it binds to."""
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

    def hold(self, delay: float) -> None:
        """Hold every request of this client back for ``delay`` seconds from now."""
        assert self.loop is not None
        self.blocked_until = max(self.blocked_until, self.loop.time() + delay)

    def held_for(self) -> float:
        """Seconds left before requests may be sent again (0 when not held)."""
        if not self.blocked_until:
            return 0.0
        assert self.loop is not None
        return max(0.0, self.blocked_until - self.loop.time())

    async def close(self) -> None:
        """Close the session if this client created it. Idempotent."""
        self.closed = True
        if self.owns_session and self.session is not None and not self.session.closed:
            await self.session.close()
