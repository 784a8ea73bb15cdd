"""The emulator's HTTP shell: what every request passes through before and after a route.

One middleware records the request (``fake.requests``), applies the global latency and
the scripted faults (a status sequence answers before the route, ``reset`` drops the
connection instead of running it; ``hold`` delays the route's answer and ``drop`` /
``lost`` / ``truncated`` / ``malformed`` damage it), checks the Bearer key, and
turns every failure into the documented error body ``{"error", "request_id"[, "code",
"upstream_status", ...]}`` (reference §1.4). Routes raise :class:`ApiError`; they never
build error bodies themselves.

:class:`Emulator` is what the routes need from :class:`~orgo_async.testing.FakeOrgo`,
so the route modules depend on this contract and not on the server module.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, NoReturn, Protocol

import msgspec
from aiohttp import web

from ._config import BashHandler, ExecHandler, PlanLimits, Timings
from ._faults import ERROR_TEXT, Applied, Faults, reset_connection
from ._state import ApiKey, World
from ._state_agent import AgentWorld
from ._state_files import FileStore
from ._state_templates import TemplateRegistry

__all__ = [
    "API_KEY",
    "REQUEST_ID",
    "ApiError",
    "Emulator",
    "Handler",
    "RecordedRequest",
    "api_middleware",
    "bad",
    "error_response",
    "json_response",
]

log = logging.getLogger("orgo_async.testing")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

REQUEST_ID = web.RequestKey("orgo_request_id", str)
API_KEY = web.RequestKey("orgo_api_key", ApiKey)

MISSING_KEY = "Missing API key."
INVALID_KEY = (
    "Invalid API key. Check it for typos or generate a new one at https://www.orgo.ai/start."
)


@dataclass
class RecordedRequest:
    """One HTTP request as the emulator received it (``fake.requests``)."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    request_id: str
    json: Any = field(default=None)

    def __repr__(self) -> str:
        # Headers carry the API key and ?token= a WebSocket token or the API key (the
        # hosted agent): keep them out of reprs (and so out of test logs).
        query = {k: "***" if k == "token" else v for k, v in self.query.items()}
        return f"RecordedRequest({self.method} {self.path} query={query} json={self.json!r})"


class Emulator(Protocol):
    """What the REST routes read and change on the emulator (``FakeOrgo`` satisfies it)."""

    world: World
    faults: Faults
    requests: list[RecordedRequest]
    #: Requests being handled, per connection (its transport): the connections that
    #: are not idle (``refuse_connections`` closes only the idle ones at once).
    in_flight: dict[Any, int]
    storage: dict[str, bytes]
    timings: Timings
    plan: PlanLimits
    latency: float
    strict: bool
    allow_exec: bool
    max_recorded: int | None
    max_stored_screenshots: int
    rtmp_connections: set[str] | None
    origin: str
    #: Stored files (§8), the template registry (§9), the hosted agent (§10).
    files: FileStore
    templates: TemplateRegistry
    agent: AgentWorld

    @property
    def hostname(self) -> str:
        """``host:port`` of the emulator (every computer's ``hostname``)."""
        ...

    @property
    def bash_handler(self) -> BashHandler | None:
        """The registered ``/bash`` handler, if any."""
        ...

    @property
    def exec_handler(self) -> ExecHandler | None:
        """The registered ``/exec`` handler, if any."""
        ...

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run ``coro`` in the background until the emulator closes."""
        ...

    def next_pid(self) -> int:
        """A fake process id."""
        ...

    def workdir(self) -> str:
        """A private directory for ``allow_exec`` subprocesses."""
        ...


class ApiError(Exception):
    """Raised by a route to answer ``status`` with ``{"error": message, **extra}``."""

    def __init__(
        self, status: int, message: str, headers: dict[str, str] | None = None, **extra: Any
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}
        self.extra = extra


def bad(message: str, status: int = 400, **extra: Any) -> NoReturn:
    """Answer ``status`` (400 unless said) with ``message`` and the ``extra`` fields."""
    raise ApiError(status, message, **extra)


def json_response(
    data: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """A JSON answer."""
    return web.Response(
        status=status,
        body=msgspec.json.encode(data),
        content_type="application/json",
        headers=headers,
    )


def error_response(
    status: int,
    message: str,
    request_id: str,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> web.Response:
    """The documented error body (§1.4)."""
    return json_response({"error": message, "request_id": request_id, **extra}, status, headers)


def api_middleware(fake: Emulator) -> Callable[..., Awaitable[web.StreamResponse]]:
    """The middleware of the emulator's application (see the module docstring)."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        transport = request.transport
        busy = fake.in_flight
        busy[transport] = busy.get(transport, 0) + 1
        try:
            return await _handle(fake, request, handler)
        finally:
            if busy[transport] <= 1:
                del busy[transport]
            else:
                busy[transport] -= 1

    return middleware


async def _handle(fake: Emulator, request: web.Request, handler: Handler) -> web.StreamResponse:
    """Record, fault, authenticate and run one request (the middleware's body)."""
    rid = str(uuid.uuid4())
    request[REQUEST_ID] = rid
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        return error_response(413, "Request body too large", rid)
    _record(fake, request, body, rid)
    path = request.path
    is_api = path == "/api" or path.startswith("/api/")
    if fake.latency:
        await asyncio.sleep(fake.latency)
    # Faults also apply to WebSocket handshakes (``/desktops/{id}/ws/terminal``), so a
    # client's reconnect path can meet a 503 before the upgrade.
    applied = fake.faults.take(
        request.method, (path[4:] or "/") if is_api else path, request.headers
    )
    if applied is not None:
        early = await _before_route(applied, rid)
        if early is not None:
            return early
        if applied.kind == "reset":  # nothing processed: the route never runs
            reset_connection(request.transport)
            return web.Response(status=204)
    if not is_api:
        return await handler(request)  # WebSockets authenticate with their token
    response = await _run_route(fake, request, handler, rid)
    if applied is not None:
        if applied.hold:
            await asyncio.sleep(applied.hold)
        if applied.kind is not None:
            return await _damage(request, response, applied.kind, applied.body)
    return response


def _record(fake: Emulator, request: web.Request, body: bytes, rid: str) -> None:
    parsed: Any = None
    if body:
        with contextlib.suppress(msgspec.DecodeError):
            parsed = msgspec.json.decode(body)
    fake.requests.append(
        RecordedRequest(
            request.method,
            request.path,
            dict(request.query),
            dict(request.headers),
            body,
            rid,
            parsed,
        )
    )
    if fake.max_recorded is not None and len(fake.requests) > fake.max_recorded:
        del fake.requests[: len(fake.requests) - fake.max_recorded]


async def _before_route(applied: Applied, rid: str) -> web.Response | None:
    """A fault's latency, then its scripted status (which answers instead of the route)."""
    if applied.latency:
        await asyncio.sleep(applied.latency)
    if applied.status is None:
        return None
    headers = {}
    if applied.retry_after is not None:
        ra = applied.retry_after
        headers["Retry-After"] = str(int(ra)) if float(ra).is_integer() else str(ra)
    return error_response(
        applied.status, ERROR_TEXT.get(applied.status, "Injected fault"), rid, headers
    )


async def _run_route(
    fake: Emulator, request: web.Request, handler: Handler, rid: str
) -> web.StreamResponse:
    """Authenticate, run the route, map every failure to the documented error body."""
    try:
        request[API_KEY] = _authenticate(fake, request)
        return await handler(request)
    except ApiError as exc:
        return error_response(exc.status, exc.message, rid, exc.headers, **exc.extra)
    except web.HTTPException as exc:  # router 404/405, oversized bodies
        text = {404: "Not found", 405: "Method not allowed"}.get(exc.status, exc.reason)
        return error_response(exc.status, text, rid)
    except Exception:  # an emulator bug must still answer the documented shape
        log.exception("emulator route failed: %s %s", request.method, request.path)
        return error_response(500, "Internal server error", rid)


def _authenticate(fake: Emulator, request: web.Request) -> ApiKey:
    header = request.headers.get("Authorization")
    if not header or not header.strip():
        raise ApiError(401, MISSING_KEY)
    scheme, _, token = header.strip().partition(" ")
    key = fake.world.keys.get(token.strip()) if scheme.lower() == "bearer" else None
    if key is None:
        raise ApiError(401, INVALID_KEY)
    return key


async def _damage(
    request: web.Request, response: web.StreamResponse, kind: str, bad_body: bytes | None
) -> web.StreamResponse:
    """Damage a route's answer as a ``drop`` / ``lost`` / ``truncated`` / ``malformed``
    fault says."""
    if kind == "lost":  # the route ran; not one byte of its answer leaves
        reset_connection(request.transport)
        return web.Response(status=204)
    body = response.body if isinstance(response, web.Response) else b""
    raw = body if isinstance(body, bytes) else b""
    if kind == "malformed":
        return web.Response(
            status=response.status,
            body=bad_body or b"<html>oops</html>",
            content_type="application/json",
        )
    half = raw[: max(1, len(raw) // 2)]
    if kind == "truncated":
        return web.Response(status=response.status, body=half, content_type=response.content_type)
    # "drop": promise the whole body, send half, close the connection.
    stream = web.StreamResponse(status=response.status)
    stream.content_type = response.content_type
    stream.content_length = max(len(raw), 2)
    await stream.prepare(request)
    await stream.write(half)
    if request.transport is not None:
        request.transport.close()
    return stream
