"""Streamed requests and responses: bodies that never sit whole in memory, SSE.

The additive half of the one pipeline (:mod:`orgo_async._http`): the same key, the same
client-wide rate-limit governor, the same retry rules, backoff and typed errors (through
the pipeline's hooks), for the two things :meth:`HTTPPipeline.request
<orgo_async._http.HTTPPipeline.request>` cannot do because it reads every answer whole:

* a **response handed out before its body is read** (server-sent events, the streamed
  thread title, a file download written to disk chunk by chunk): :func:`stream` yields a
  :class:`StreamedResponse` as soon as a 2xx status and its headers arrived;
* a **request body produced chunk by chunk** (a multipart upload read from a file or an
  async iterator): a :class:`StreamBody`.

Two rules on top of the pipeline's (see its module docstring):

* nothing is retried once a response was handed out: the caller may have consumed part of
  it, and an SSE stream or an agent run cannot be replayed;
* nothing is retried once a :class:`StreamBody` started to go out (its first chunk was
  pulled): the server may have received and acted on part of an upload, and an iterator
  cannot be rewound. Before that (the connection could not be opened), the pipeline's
  rules apply as usual.

A non-2xx answer is read (at most :data:`ERROR_BODY_LIMIT` bytes) and raised as the
pipeline's typed error before anything is handed out.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping
from typing import Any, Final, Generic, TypeVar

import aiohttp
import msgspec
from yarl import URL

from ._errors import APIConnectionError, APITimeoutError
from ._http import HTTPPipeline, Route, check_id, may_retry_status, parse_retry_after
from ._secrets import get_logger

__all__ = [
    "CHUNK_SIZE",
    "ERROR_BODY_LIMIT",
    "ResponseStream",
    "StreamBody",
    "StreamedResponse",
    "stream",
]

T = TypeVar("T")

CHUNK_SIZE: Final = 64 * 1024
# An error answer is JSON of a few hundred bytes; this only bounds a misbehaving server.
ERROR_BODY_LIMIT: Final = 1 << 20

log = get_logger()
_encoder = msgspec.json.Encoder()


class StreamBody:
    """A request body produced chunk by chunk, that knows whether it started to go out.

    ``source`` returns a fresh async iterator of ``bytes`` each time it is called (a file
    reopened) when ``replayable``; otherwise it is called once. ``size`` (when known) is
    sent as ``Content-Length``, else the body goes chunked. :attr:`error` keeps an
    exception the source raised (for instance a size limit), so the caller sees it instead
    of the connection error it caused.
    """

    __slots__ = ("_source", "content_type", "error", "replayable", "size", "started")

    def __init__(
        self,
        source: Callable[[], AsyncIterator[bytes]],
        *,
        content_type: str,
        size: int | None = None,
        replayable: bool = False,
    ) -> None:
        self._source = source
        self.content_type = content_type
        self.size = size
        self.replayable = replayable
        self.started = False
        self.error: BaseException | None = None

    def open(self) -> AsyncIterator[bytes]:
        """A new iterator over the body (one per attempt)."""
        if self.started and not self.replayable:
            raise RuntimeError("this request body was already sent and cannot be replayed")
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


class StreamedResponse:
    """A 2xx response whose body has not been read yet.

    Iterate it with :meth:`iter_chunks` / :meth:`iter_any`, or :meth:`read` it whole.
    Connection failures while reading raise :class:`~orgo_async.APIConnectionError`
    (:class:`~orgo_async.APITimeoutError` when nothing arrived for the read timeout).
    """

    __slots__ = ("_method", "_path", "_resp", "headers", "status", "url")

    def __init__(self, resp: aiohttp.ClientResponse, method: str, path: str) -> None:
        self._resp = resp
        self._method = method
        self._path = path
        self.status = resp.status
        self.headers: Mapping[str, str] = resp.headers
        self.url = str(resp.url)

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "").split(";")[0].strip().lower()

    @property
    def content_length(self) -> int | None:
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
                    f"response body exceeds {limit} bytes", method=self._method, url=self._path
                )
            parts.append(chunk)
        return b"".join(parts)

    @contextlib.contextmanager
    def _errors(self) -> Any:
        try:
            yield
        except (TimeoutError, aiohttp.ServerTimeoutError) as e:
            raise APITimeoutError(
                "timed out reading the response body", method=self._method, url=self._path
            ) from e
        except aiohttp.ClientError as e:
            raise APIConnectionError(
                f"connection error while reading the response: {type(e).__name__}: {e}",
                method=self._method,
                url=self._path,
            ) from e

    def __repr__(self) -> str:
        return f"StreamedResponse(status={self.status}, content_type={self.content_type!r})"


@contextlib.asynccontextmanager
async def stream(
    pipeline: HTTPPipeline,
    route: Route,
    *ids: str,
    params: Mapping[str, str] | None = None,
    json: Any = None,
    body: StreamBody | None = None,
    headers: Mapping[str, str] | None = None,
    url: str | None = None,
    auth: bool = True,
    read_timeout: float | None = None,
    accept: str = "application/json",
) -> AsyncIterator[StreamedResponse]:
    """Send ``route`` and yield the response as soon as a 2xx status arrived.

    ``ids`` fill the route's ``{}`` placeholders (validated and quoted like
    :meth:`HTTPPipeline.call <orgo_async._http.HTTPPipeline.call>`). ``url`` (absolute)
    replaces the path; with ``auth=False`` neither the API key nor the client's default
    headers are sent (a pre-signed storage URL carries its own credentials).
    ``read_timeout`` bounds the silence between two reads (``None``: the client's
    timeout); there is no total timeout, a stream lasts as long as it has data. Leaving
    the ``async with`` releases the connection, read or not.
    """
    path = route.path.format(*[check_id(i) for i in ids]) if ids else route.path
    full_url = url if url is not None else pipeline.base_url + path
    target = URL(full_url, encoded=url is None)
    if params:
        target = target.with_query(params)
    log_path = path if url is None else URL(full_url).path
    req_headers: dict[str, str] = {"Accept": accept}
    if auth:
        req_headers.update(pipeline.options.headers)
    data: bytes | None = None
    if json is not None:
        data = _encoder.encode(json)
        req_headers["Content-Type"] = "application/json"
    if body is not None:
        req_headers["Content-Type"] = body.content_type
        if body.size is not None:
            req_headers["Content-Length"] = str(body.size)
    if headers:
        req_headers.update(headers)
    opts = pipeline.options
    timeout = aiohttp.ClientTimeout(
        total=None,
        sock_connect=opts.connect_timeout,
        sock_read=opts.timeout if read_timeout is None else read_timeout,
    )
    resp = await _send(pipeline, route, target, log_path, req_headers, data, body, timeout, auth)
    try:
        yield StreamedResponse(resp, route.method, log_path)
    finally:
        # A body left unread cannot be reused on a keep-alive connection: close it.
        if resp.content.at_eof():
            resp.release()
        else:
            resp.close()


async def _send(
    pipeline: HTTPPipeline,
    route: Route,
    target: URL,
    log_path: str,
    req_headers: dict[str, str],
    data: bytes | None,
    body: StreamBody | None,
    timeout: aiohttp.ClientTimeout,
    auth: bool,
) -> aiohttp.ClientResponse:
    """Send with the pipeline's retry rules until a 2xx response (returned unread)."""
    session = pipeline.transport.get_session()
    loop = pipeline.transport.loop
    assert loop is not None
    method = route.method
    retries = pipeline.options.max_retries
    attempt = 0
    while True:
        attempt += 1
        if auth:
            req_headers.update(await pipeline.auth_headers())
        await pipeline.governor()
        payload: Any = body.open() if body is not None else data
        started = loop.time()
        try:
            resp = await session.request(
                method,
                target,
                data=payload,
                headers=req_headers,
                timeout=timeout,
                allow_redirects=False,
            )
        except BaseException as e:
            if body is not None:
                await _close_body(payload)
            if body is not None and body.error is not None:
                raise body.error from None  # the source's own failure (e.g. too large)
            error = _connection_error(
                e, f"{target.scheme}://{target.raw_authority}", method, log_path
            )
            if error is None:
                raise
            # Resend only what provably never went out, or is safe to send twice.
            never_sent = isinstance(
                e, aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError
            ) and not isinstance(e, aiohttp.ClientSSLError)  # TLS failures never heal
            body_fresh = body is None or not body.started
            if attempt <= retries and body_fresh and (never_sent or route.idempotent):
                await pipeline.backoff(method, log_path, attempt, retries, str(error), None)
                continue
            raise error from e
        status = resp.status
        log.debug(
            "%s %s -> %d in %.1f ms (attempt %d/%d, streamed)",
            method,
            log_path,
            status,
            (loop.time() - started) * 1000,
            attempt,
            retries + 1,
        )
        if 200 <= status < 300:
            return resp
        try:
            raw = await resp.content.read(ERROR_BODY_LIMIT)
        except aiohttp.ClientError:
            raw = b""
        finally:
            resp.close()  # also stops a body the server answered before reading
            if body is not None:
                await _close_body(payload)
        retry_after = parse_retry_after(resp.headers.get("Retry-After"))
        delay = pipeline.note_rate_limited(attempt, retry_after) if status == 429 else 0.0
        body_fresh = body is None or not body.started
        if attempt <= retries and body_fresh and may_retry_status(status, route.idempotent):
            if status == 429:  # the wait happens in governor(), for every request
                pipeline.log_retry(method, log_path, attempt, retries, "HTTP 429", delay)
            else:
                await pipeline.backoff(
                    method, log_path, attempt, retries, f"HTTP {status}", retry_after
                )
            continue
        raise pipeline.status_error(status, raw, resp.headers, method, log_path)


async def _close_body(payload: Any) -> None:
    """Close an upload's chunk generator now (its file), unless aiohttp is inside it."""
    # RuntimeError "already running": the cancelled writer task finalizes it instead.
    with contextlib.suppress(RuntimeError):
        await payload.aclose()


def _connection_error(
    e: BaseException, origin: str, method: str, path: str
) -> APIConnectionError | None:
    """The pipeline's error for a failed send, or ``None`` for what is not a send failure.
    ``origin`` is the host that was asked (the API's, or a storage host's)."""
    if isinstance(e, aiohttp.ClientSSLError):
        return APIConnectionError(f"TLS error connecting to {origin}: {e}", method=method, url=path)
    if isinstance(e, aiohttp.ConnectionTimeoutError):
        return APITimeoutError(f"timed out connecting to {origin}", method=method, url=path)
    if isinstance(e, aiohttp.ClientConnectorError):
        return APIConnectionError(
            f"could not connect to {origin}: {e.os_error}", method=method, url=path
        )
    if isinstance(e, TimeoutError | aiohttp.ServerTimeoutError):
        return APITimeoutError("timed out waiting for the response", method=method, url=path)
    if isinstance(e, aiohttp.ClientError):
        return APIConnectionError(
            f"connection error: {type(e).__name__}: {e}", method=method, url=path
        )
    return None


class ResponseStream(Generic[T]):
    """Items of a streamed response: an async iterator that is also an async context manager.

    Nothing is sent before the first item is asked for. Iteration ends with the stream;
    leaving an ``async with`` (or :meth:`aclose`) early closes the connection at once,
    and so does cancelling the task that iterates::

        async with orgo.templates.build_events(ref) as events:
            async for event in events:
                print(event.line)
    """

    __slots__ = ("_agen",)

    def __init__(self, agen: AsyncGenerator[T, None]) -> None:
        self._agen = agen

    def __aiter__(self) -> ResponseStream[T]:
        return self

    async def __anext__(self) -> T:
        return await self._agen.__anext__()

    async def aclose(self) -> None:
        """Stop early and release the connection (idempotent)."""
        await self._agen.aclose()

    async def __aenter__(self) -> ResponseStream[T]:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
