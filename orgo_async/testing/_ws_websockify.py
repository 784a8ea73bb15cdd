"""The websockify channel (reference §11.3): raw RFB bytes in binary WebSocket messages.

With ``fake.vnc_target`` set, the socket is a websockify bridge to that TCP address: each
binary message is written to TCP as is, each TCP read becomes one binary message. Without
it, the emulator's own :class:`~orgo_async.testing._rfb.RfbServer` answers (RFB 3.8, VNC
authentication against the computer's current ``vnc_password``); its key and pointer
events are recorded on the computer as actions ``vnc_key`` ``{"down", "key"}`` (X keysym)
and ``vnc_pointer`` ``{"buttons", "x", "y"}`` (RFB button mask: 1 left, 2 middle, 4
right, 8/16 wheel up/down, 32/64 wheel left/right, 128 back), in the order received, and
ClientCutText as ``vnc_cut_text`` ``{"text"}`` plus a ``clipboard`` event on the events
channel. Pointer events move the same emulated pointer REST actions move (so a REST
screenshot shows it) and key presses count on the same screen.

Decisions where the reference is silent (§15.1 #5):

* the ``binary`` subprotocol is agreed to when offered (noVNC offers it); the legacy
  base64 mode is not supported;
* a text frame is a protocol error: close **1003** (unsupported data);
* the VNC target refusing the connection: close **1011**; the target hanging up, or the
  built-in server ending the RFB session (bad VNC password, protocol error): close
  **1000**, as websockify does when its TCP side closes;
* server output is sent in messages of at most 64 KiB, like websockify's TCP reads, so
  clients with a default 1 MiB message limit can take a full-screen update.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Final

from aiohttp import WSMsgType

from ._rfb import RfbServer
from ._state import Action
from ._ws import CLOSE_INTERNAL, CLOSE_NORMAL, CLOSE_UNSUPPORTED, WsSession

if TYPE_CHECKING:
    from ._ws import FakeLike

__all__ = ["CHUNK", "websockify_channel"]

CHUNK: Final = 1 << 16


async def _send_chunked(session: WsSession, data: bytes) -> bool:
    for start in range(0, len(data), CHUNK):
        if not await session.send_bytes(data[start : start + CHUNK]):
            return False
    return True


async def websockify_channel(session: WsSession, fake: FakeLike) -> None:
    """Serve one websockify socket: tunnel to ``fake.vnc_target`` or the built-in server."""
    if fake.vnc_target is not None:
        await _tunnel(session, fake.vnc_target)
    else:
        await _builtin(session)


async def _next_binary(session: WsSession) -> bytes | None:
    """The next binary message, or ``None`` once the session should end."""
    msg = await session.ws.receive()
    if msg.type == WSMsgType.BINARY:
        data: bytes = msg.data
        return data
    if msg.type == WSMsgType.TEXT:
        session.request_close(CLOSE_UNSUPPORTED, "binary frames only")
    elif msg.type == WSMsgType.ERROR:
        code = getattr(session.ws.exception(), "code", None)
        session.request_close(code if isinstance(code, int) else CLOSE_INTERNAL)
    else:
        session.request_close(CLOSE_NORMAL)
    return None


async def _builtin(session: WsSession) -> None:
    computer = session.computer

    def on_key(down: bool, key: int) -> None:
        computer.actions.append(Action("vnc_key", {"down": down, "key": key}))
        if down:  # the REST screenshot shows key presses from either path
            computer.screen.keys += 1

    def on_pointer(buttons: int, x: int, y: int) -> None:
        computer.actions.append(Action("vnc_pointer", {"buttons": buttons, "x": x, "y": y}))
        # One pointer for both paths: a REST screenshot after an RFB move shows it moved.
        computer.screen.pointer = (min(x, computer.width - 1), min(y, computer.height - 1))

    def on_cut_text(text: str) -> None:
        # The client pasted into the desktop: the desktop's clipboard changed.
        computer.actions.append(Action("vnc_cut_text", {"text": text}))
        computer.events.publish("clipboard", {"content": text})

    rfb = RfbServer(
        computer.vnc_password,
        computer.width,
        computer.height,
        on_key=on_key,
        on_pointer=on_pointer,
        on_cut_text=on_cut_text,
    )
    await session.send_bytes(rfb.start())
    while True:
        data = await _next_binary(session)
        if data is None:
            return
        reply = rfb.receive(data)
        if reply and not await _send_chunked(session, reply):
            return
        if rfb.closed:
            session.request_close(CLOSE_NORMAL, "RFB session ended")
            return


async def _tunnel(session: WsSession, target: tuple[str, int]) -> None:
    try:
        reader, writer = await asyncio.open_connection(*target)
    except OSError:
        session.request_close(CLOSE_INTERNAL, "VNC server unreachable")
        return

    async def upstream() -> None:
        while True:
            data = await _next_binary(session)
            if data is None:
                return
            writer.write(data)
            await writer.drain()

    async def downstream() -> None:
        while True:
            data = await reader.read(CHUNK)
            if not data:
                session.request_close(CLOSE_NORMAL, "VNC server closed the connection")
                return
            if not await session.send_bytes(data):
                return

    tasks = [asyncio.create_task(upstream()), asyncio.create_task(downstream())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        writer.close()  # before any await: the socket is released even if we are cancelled
        results = await asyncio.gather(*tasks, return_exceptions=True)
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        for result in results:
            if isinstance(result, OSError):
                session.request_close(CLOSE_NORMAL, "VNC connection lost")
