"""What the terminal and VNC relays share: the result record, the registry of live
relays that the lifespan closes on shutdown, the life of one browser socket around a
session (:func:`serve_relay`), and running two pumps until one ends."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from .._errors import OrgoError
from .._secrets import get_logger
from .._tasks import cancel_and_wait
from ._socket import BrowserSocket, CloseCode, WebSocketLike, close_code_for

if TYPE_CHECKING:
    from ..connection import Connection

__all__ = [
    "STATE_KEY",
    "RelayRegistry",
    "RelayResult",
    "open_connection",
    "refuse",
    "run_pumps",
    "serve_relay",
]

log = get_logger("orgo_async.web")

#: The lifespan state key under which :func:`orgo_async.web.orgo_lifespan` keeps the
#: registry of live relays (ASGI copies lifespan state into every connection's scope).
STATE_KEY: Final = "orgo_relays"


@dataclass
class RelayResult:
    """How a relay session went (returned by the relay functions, also logged).

    ``code`` is the close code sent to the browser (or ``None`` when the browser closed
    first, with its code in ``browser_code``); ``error`` is the upstream failure, if any.
    Byte counts are payload bytes (terminal: characters of output/input text).
    """

    channel: str
    code: int | None = None
    reason: str = ""
    browser_code: int | None = None
    error: BaseException | None = None
    to_browser: int = 0
    from_browser: int = 0
    sessions: int = 0


class RelayRegistry:
    """The live relay sessions of one app; :meth:`aclose` ends them all with 1001."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self.closing = False

    def __len__(self) -> int:
        return len(self._tasks)

    def add(self, task: asyncio.Task[Any]) -> None:
        """Track a relay's task until it ends."""
        self._tasks.add(task)

    def discard(self, task: asyncio.Task[Any]) -> None:
        """Forget a relay's task."""
        self._tasks.discard(task)

    async def aclose(self, timeout: float = 5.0) -> None:
        """Cancel every live relay (each closes its browser with 1001 and its upstream
        channel) and wait up to ``timeout`` seconds for them."""
        self.closing = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)


def registry_of(sock: BrowserSocket) -> RelayRegistry | None:
    """The app's relay registry, if the app uses :func:`orgo_lifespan`."""
    state = sock.scope.get("state")
    if isinstance(state, dict):
        reg = state.get(STATE_KEY)
        if isinstance(reg, RelayRegistry):
            return reg
    return None


async def serve_relay(
    name: str,
    websocket: WebSocketLike,
    result: RelayResult,
    session: Callable[[BrowserSocket], Awaitable[None]],
    *,
    subprotocol: str | None = None,
) -> RelayResult:
    """Accept ``websocket`` (with ``subprotocol`` when the browser offers it) and run
    ``session`` on it, tracked in the app's registry while it runs; ``name`` is the
    relay's, for the log.

    Cancellation (the app shutting down) closes the browser with 1001 and propagates.
    Returns ``result`` with the browser's own close code filled in.
    """
    sock = BrowserSocket(websocket)
    registry = registry_of(sock)
    task = asyncio.current_task()
    if registry is not None and task is not None:
        registry.add(task)
    try:
        if await sock.accept(subprotocol):
            await session(sock)
    except asyncio.CancelledError:
        result.code = int(CloseCode.GOING_AWAY)
        await sock.close(CloseCode.GOING_AWAY, "server shutting down")
        raise
    finally:
        if registry is not None and task is not None:
            registry.discard(task)
    result.browser_code = sock.peer_code
    log.info("%s relay ended: close %s (browser %s)", name, result.code, result.browser_code)
    return result


async def refuse(sock: BrowserSocket, result: RelayResult, error: OrgoError) -> None:
    """Close the browser because the upstream could not be opened: ``error`` mapped to
    its close code (:func:`close_code_for`), its message (cut short) as the reason."""
    result.error = error
    result.code = int(close_code_for(error))
    await sock.close(result.code, str(error)[:100])


async def open_connection(
    source: Connection | Callable[[], Awaitable[Connection]],
) -> Connection:
    """``source`` itself, or what awaiting ``source()`` gives."""
    from ..connection import Connection

    if isinstance(source, Connection):
        return source
    if callable(source):
        conn = await source()
        if not isinstance(conn, Connection):
            raise TypeError("the connection factory must return an orgo_async.Connection")
        return conn
    raise TypeError("connection must be an orgo_async.Connection or an async callable")


async def run_pumps(
    down: Coroutine[Any, Any, tuple[int, str]],
    up: Coroutine[Any, Any, tuple[int, str] | None],
) -> tuple[int | None, str, BaseException | None]:
    """Run the upstream->browser pump ``down`` and the browser->upstream pump ``up``
    until one ends; cancel the other.

    ``down`` returns the close code and reason for the browser when the upstream ended;
    ``up`` returns ``None`` when the browser left (no close to send) or a code of its
    own (a protocol violation). An exception from either is the upstream failure,
    mapped to a close code here.
    """
    tasks = [asyncio.ensure_future(down), asyncio.ensure_future(up)]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        await cancel_and_wait(tasks)
    # The browser-side pump wins a tie: if the browser left, there is nobody to tell.
    first = tasks[1] if tasks[1] in done else tasks[0]
    if first.cancelled():  # pragma: no cover - both were cancelled from outside
        raise asyncio.CancelledError
    exc = first.exception()
    if exc is not None:
        mapped = close_code_for(exc)
        level = logging.ERROR if mapped is CloseCode.INTERNAL_ERROR else logging.INFO
        log.log(level, "relay: upstream ended: %s", exc, exc_info=exc if level >= 40 else None)
        return int(mapped), _reason(exc), exc
    result = first.result()
    if result is None:
        return None, "", None
    return result[0], result[1], None


def _reason(exc: BaseException) -> str:
    # Close reasons reach the browser: our messages are redacted, but keep them short
    # and free of URLs.
    text = str(exc).split(" (", 1)[0]
    return text[:100]
