"""The events channel (reference §11.6): subscribe / unsubscribe, relay of desktop events.

Nothing is sent until the client subscribes. Events come from the computer's
:class:`~orgo_async.testing._state.EventHub` (the REST side publishes them as actions
happen); each connection listens on its own bounded queue, so a slow client loses the
oldest events, as the real server's 256-event buffer does.

Decisions where the reference is silent:

* ``subscribe`` / ``unsubscribe`` are atomic: if any listed type is unknown, the reply
  is ``{"type":"error","message":"Unknown event type: X"}`` for the first unknown one
  and the subscription set is left unchanged.
* ``event_types`` missing or not a list of strings -> an error frame; the session goes on.
* Unsubscribing a type that was not subscribed is not an error.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Final

from ._ws_core import WsSession, receive_json_loop

if TYPE_CHECKING:
    from ._ws_core import FakeLike

__all__ = ["EVENT_TYPES", "events_channel"]

#: The documented event catalog (§11.6).
EVENT_TYPES: Final = frozenset(
    {
        "window_focus",
        "window_open",
        "window_close",
        "clipboard",
        "file_change",
        "screen_change",
        "audio_stream_start",
        "audio_stream_stop",
        "process_start",
        "process_stop",
        "idle",
        "active",
    }
)


def _event_types(msg: dict[str, Any]) -> list[str] | str:
    """The ``event_types`` list of a (un)subscribe message, or an error text."""
    types = msg.get("event_types")
    if not isinstance(types, list) or not all(isinstance(t, str) for t in types):
        return "Invalid message: 'event_types' must be a list of strings"
    for t in types:
        if t not in EVENT_TYPES:
            return f"Unknown event type: {t}"
    return types


async def events_channel(session: WsSession, fake: FakeLike) -> None:
    """Serve one events socket until the client leaves or the session is closed."""
    hub = session.computer.events
    queue = hub.listen()
    subscribed: set[str] = set()

    def take_pending() -> list[dict[str, Any]]:
        # Events already published were published under the *current* subscription;
        # collect them before it changes so a subscribe does not pick up older events.
        pending = []
        while not queue.empty():
            event = queue.get_nowait()
            if event.get("type") in subscribed:
                pending.append(event)
        return pending

    async def relay() -> None:
        while True:
            event = await queue.get()
            if event.get("type") in subscribed:
                await session.send_json({"type": "event", "event": event})

    async def handle(msg: dict[str, Any]) -> None:
        kind = msg["type"]
        if kind not in ("subscribe", "unsubscribe"):
            await session.send_error(f"Unknown message type: {kind}")
            return
        types = _event_types(msg)
        if isinstance(types, str):
            await session.send_error(types)
            return
        pending = take_pending()
        if kind == "subscribe":
            subscribed.update(types)
        else:
            subscribed.difference_update(types)
        for event in pending:
            await session.send_json({"type": "event", "event": event})
        await session.send_json({"type": kind + "d", "message": "ok"})

    relay_task = asyncio.create_task(relay())
    try:
        await receive_json_loop(session, handle)
    finally:
        relay_task.cancel()
        await asyncio.gather(relay_task, return_exceptions=True)
        hub.unlisten(queue)
