"""One ``AsyncOrgo`` per ASGI app: the lifespan that owns it, the dependency that hands it
to handlers, the exception handler for our typed errors, and cancel-on-disconnect.

::

    from fastapi import FastAPI
    from orgo_async.web import OrgoDep, add_exception_handlers, orgo_lifespan

    app = FastAPI(lifespan=orgo_lifespan())        # opened on startup, closed on shutdown
    add_exception_handlers(app)                    # NotFoundError -> 404, 429 keeps Retry-After

    @app.get("/computers/{computer_id}")
    async def computer(computer_id: str, orgo: OrgoDep) -> dict[str, str]:
        c = await orgo.computers.get(computer_id)
        return {"id": c.id, "status": c.status}

Starlette is imported by this module (it is the ``web`` extra); ``import orgo_async``
never imports it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response

from .._errors import OrgoError
from .._secrets import get_logger
from .._tasks import cancel_and_wait
from ._answers import error_answer
from ._relay import STATE_KEY, RelayRegistry

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from .._client import AsyncOrgo

__all__ = [
    "STATE_ORGO",
    "CancelOnDisconnect",
    "add_exception_handlers",
    "get_orgo",
    "orgo_exception_handler",
    "orgo_lifespan",
]

log = get_logger("orgo_async.web")

#: The lifespan state key of the app's client (``request.state.orgo``).
STATE_ORGO = "orgo"

Lifespan = Callable[[Any], contextlib.AbstractAsyncContextManager[Any]]
Message = MutableMapping[str, Any]


def orgo_lifespan(
    client: Callable[[], AsyncOrgo] | None = None,
    *,
    lifespan: Lifespan | None = None,
    relay_close_timeout: float = 5.0,
    **client_options: Any,
) -> Callable[[Any], contextlib.AbstractAsyncContextManager[dict[str, Any]]]:
    """A lifespan for ``FastAPI(lifespan=...)`` / ``Starlette(lifespan=...)`` that owns
    one :class:`~orgo_async.AsyncOrgo` for the whole app.

    The client is created on startup (``client()`` if given, else
    ``AsyncOrgo(**client_options)``: ``api_key`` and ``base_url`` fall back to
    ``ORGO_API_KEY``/``ORGO_BASE_URL``), shared by every request (one connection pool,
    one rate-limit governor), and closed on shutdown after the live relays have been
    closed with 1001. It is exposed as lifespan state (``request.state.orgo``, what
    :func:`get_orgo` reads) and as ``app.state.orgo``.

    ``lifespan`` is the app's own lifespan, entered inside ours (the client is already
    open in it); the state it yields is merged.
    """

    @contextlib.asynccontextmanager
    async def _lifespan(app: Any) -> AsyncIterator[dict[str, Any]]:
        if client is not None:
            orgo = client()
        else:
            from .._client import AsyncOrgo

            orgo = AsyncOrgo(**client_options)
        relays = RelayRegistry()
        state: dict[str, Any] = {STATE_ORGO: orgo, STATE_KEY: relays}
        app_state = getattr(app, "state", None)
        if app_state is not None:
            setattr(app_state, STATE_ORGO, orgo)
        try:
            if lifespan is None:
                yield state
            else:
                async with lifespan(app) as inner:
                    yield {**(inner or {}), **state}
        finally:
            await relays.aclose(relay_close_timeout)
            await orgo.close()
            log.info("orgo_lifespan: client closed")

    return _lifespan


def get_orgo(connection: HTTPConnection) -> AsyncOrgo:
    """The app's :class:`~orgo_async.AsyncOrgo` (a FastAPI dependency; works for HTTP
    and WebSocket routes). ``RuntimeError`` if the app has no :func:`orgo_lifespan`."""
    orgo = connection.scope.get("state", {}).get(STATE_ORGO)
    if orgo is None:
        orgo = getattr(connection.app.state, STATE_ORGO, None)
    if orgo is None:
        raise RuntimeError(
            "no AsyncOrgo on this app: create it with FastAPI(lifespan=orgo_lifespan())"
        )
    return orgo  # type: ignore[no-any-return]


async def orgo_exception_handler(request: Request, exc: Exception) -> Response:
    """Answer an :class:`~orgo_async.OrgoError` as JSON (rules in ``error_answer``):
    404 stays 404, 429 keeps ``Retry-After``, an upstream 5xx becomes 502, and no secret
    ever reaches the body."""
    if not isinstance(exc, OrgoError):  # pragma: no cover - registered for OrgoError only
        raise exc
    answer = error_answer(exc)
    if answer.status >= 500:
        log.warning("%s %s -> %d: %s", request.method, request.url.path, answer.status, exc)
    return JSONResponse(answer.body, status_code=answer.status, headers=answer.headers)


def add_exception_handlers(app: Starlette) -> None:
    """Register :func:`orgo_exception_handler` for every :class:`~orgo_async.OrgoError`."""
    app.add_exception_handler(OrgoError, orgo_exception_handler)


class CancelOnDisconnect:
    """ASGI middleware: cancel an HTTP handler when its client disconnects.

    ::

        app.add_middleware(CancelOnDisconnect)

    ASGI servers keep running a handler whose client has gone; for an endpoint that waits
    on Orgo (``wait_until``, a long ``bash``) that is work and a pooled connection for
    nobody. With this middleware the handler is cancelled: the SDK's request is
    abandoned, its connection released, nothing is left running. Requests whose response
    was fully sent are never cancelled. Note that a cancelled non-idempotent call (a
    ``create``) may still have happened on Orgo's side, as with any dropped request.
    """

    def __init__(self, app: Callable[[Any, Any, Any], Awaitable[None]]) -> None:
        self.app = app

    async def __call__(
        self,
        scope: MutableMapping[str, Any],
        receive: Callable[[], Awaitable[Message]],
        send: Callable[[Message], Awaitable[None]],
    ) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        task = asyncio.current_task()
        assert task is not None
        guard = _DisconnectGuard(receive, send, task)
        try:
            await self.app(scope, guard.receive, guard.send)
        except asyncio.CancelledError:
            if guard.fired and task.uncancel() == 0:
                log.info("%s: client disconnected, handler cancelled", scope.get("path"))
                return
            raise
        else:
            if guard.fired:  # the app swallowed our cancellation: take it back
                task.uncancel()
        finally:
            await guard.stop()


class _DisconnectGuard:
    """Reads the server's ``receive`` on behalf of the app (one message ahead at most,
    so the server's own flow control still holds) and cancels the app's task when
    ``http.disconnect`` arrives before the response is complete."""

    def __init__(
        self,
        receive: Callable[[], Awaitable[Message]],
        send: Callable[[Message], Awaitable[None]],
        task: asyncio.Task[Any],
    ) -> None:
        self._receive = receive
        self._send = send
        self._task = task
        self._mailbox: asyncio.Queue[Message] = asyncio.Queue(maxsize=1)
        self._gone = False
        self.response_done = False
        self.fired = False
        self._watcher = asyncio.create_task(self._watch(), name="orgo-cancel-on-disconnect")

    async def _watch(self) -> None:
        while True:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                self._gone = True
                if not self.response_done:
                    self.fired = True
                    self._task.cancel()
                with contextlib.suppress(asyncio.QueueFull):
                    self._mailbox.put_nowait(message)
                return
            await self._mailbox.put(message)

    async def receive(self) -> Message:
        if self._gone and self._mailbox.empty():
            return {"type": "http.disconnect"}
        return await self._mailbox.get()

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            self.response_done = True
        await self._send(message)

    async def stop(self) -> None:
        await cancel_and_wait([self._watcher])
