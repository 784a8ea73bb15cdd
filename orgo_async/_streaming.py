"""Streamed responses for the resources: a context manager, and the iterator they return.

There is no second pipeline here. :func:`stream` sends through
:meth:`HTTPPipeline.request <orgo_async._http.HTTPPipeline.request>` with
``response_type=StreamedResponse``: the same build, key, rate-limit governor, retry
decision (:func:`~orgo_async._retry.retry_delay`) and error mapping
(:mod:`orgo_async._status_errors`) as every buffered request, and the same one send
attempt (:func:`~orgo_async._transport.send_once`), which hands a 2xx answer out before
its body is read. It is for server-sent events, the streamed thread title and file
downloads written to disk chunk by chunk. Streamed *request* bodies (uploads) need no
helper: pass a :class:`~orgo_async._transport.StreamBody` as ``content=``.

Nothing is resent once the response was handed out (the caller may have consumed part
of it, and an SSE stream or an agent run cannot be replayed); a non-2xx answer is read
(at most :data:`~orgo_async._transport.ERROR_BODY_LIMIT` bytes) and raised as its typed
error before anything is handed out.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from typing import Any, Generic, TypeVar

from ._http import HTTPPipeline
from ._protocol.sse import ServerSentEvent, SSEDecoder
from ._routes import Route
from ._transport import StreamedResponse

__all__ = ["ResponseStream", "server_sent_events", "stream"]

T = TypeVar("T")


@contextlib.asynccontextmanager
async def stream(
    pipeline: HTTPPipeline,
    route: Route,
    *ids: str,
    params: Mapping[str, str] | None = None,
    json: Any = None,
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
    ``read_timeout`` bounds the silence between two reads (``None``: the route's
    timeout, else the client's); there is no total timeout, a stream lasts as long as
    it has data. Leaving the ``async with`` releases the connection, read or not.
    """
    resp = await pipeline.call(
        route,
        *ids,
        response_type=StreamedResponse,
        params=params,
        json=json,
        headers={"Accept": accept, **(headers or {})},
        timeout=read_timeout,
        url=url,
        auth=auth,
    )
    try:
        yield resp
    finally:
        resp.close()


async def server_sent_events(resp: StreamedResponse) -> AsyncIterator[ServerSentEvent]:
    """The events of a ``text/event-stream`` response, each as soon as its blank line
    arrived (:class:`~orgo_async._protocol.sse.SSEDecoder` over the chunks). A malformed
    or oversized stream raises :class:`~orgo_async.APIDecodeError` with its status."""
    decoder = SSEDecoder(status_code=resp.status)
    async for chunk in resp.iter_any():
        for event in decoder.feed(chunk):
            yield event


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
