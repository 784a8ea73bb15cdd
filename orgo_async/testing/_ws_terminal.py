"""The terminal channel (reference §11.4): a real shell on a PTY behind the JSON protocol.

Client ``input{data}`` is written to the PTY, ``resize{cols,rows}`` is applied with
``TIOCSWINSZ`` (``stty size`` in the shell shows it); PTY output goes out as
``output{data}``, decoded as UTF-8 incrementally (a character split across reads is
not mangled; invalid bytes become U+FFFD).

Decisions where the reference is silent or leaves a choice:

* §15.1 #12: when the shell exits the server sends ``{"type":"exit","code":N}`` and then
  closes the socket with **1000**; a terminal without a shell has nothing left to serve.
* The shell runs locally. Over loopback it is always available (whoever reaches a
  loopback socket already runs code on this machine; the demo and the ``fake_orgo``
  fixture rely on it). A peer from any other address needs ``allow_exec=True`` (the
  switch that also makes REST ``bash`` / ``exec`` real): otherwise the socket gets an
  error frame and close 4500 ("failed to spawn shell"), the documented code for that
  case, so ``fake-server --host 0.0.0.0`` is not a remote shell by accident.
* ``cols``/``rows`` must be integers in 1..1000 (query and ``resize``); bad query values
  -> error frame + close 4500, a bad ``resize`` -> error frame, the session goes on.
* Spawn failure -> error frame + close 4500. When the socket ends for any reason the
  shell's process group is killed and reaped and the PTY closed.
"""

from __future__ import annotations

import asyncio
import codecs
import ipaddress
import sys
from typing import TYPE_CHECKING, Any, Final

from ._ws_core import CLOSE_NORMAL, CLOSE_START_FAILED, WsSession, query_int, receive_json_loop

if TYPE_CHECKING:
    from ._pty import PtyShell
    from ._ws_core import FakeLike

__all__ = ["shell_allowed", "terminal_channel"]

MAX_DIM: Final = 1000


def shell_allowed(allow_exec: bool, peer: str | None) -> bool:
    """Whether a terminal may spawn a local shell for a client at ``peer``."""
    if allow_exec:
        return True
    if not peer:
        return False
    if peer.startswith("::ffff:"):  # IPv4-mapped IPv6
        peer = peer[7:]
    try:
        return ipaddress.ip_address(peer.split("%")[0]).is_loopback
    except ValueError:
        return False


def _valid_dim(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_DIM


async def terminal_channel(session: WsSession, fake: FakeLike) -> None:
    """Serve one terminal socket: spawn the shell, pump both ways, clean up."""
    cols = query_int(session.request, "cols", 80)
    rows = query_int(session.request, "rows", 24)
    if not (_valid_dim(cols) and _valid_dim(rows)):
        await session.send_error(f"Invalid cols/rows: integers 1..{MAX_DIM} expected")
        session.request_close(CLOSE_START_FAILED, "invalid cols/rows")
        return
    assert cols is not None and rows is not None
    if not shell_allowed(fake.allow_exec, session.request.remote):
        await session.send_error(
            "Failed to spawn shell: local command execution is disabled in this emulator "
            "for non-loopback clients (enable it with allow_exec=True)"
        )
        session.request_close(CLOSE_START_FAILED, "failed to spawn shell")
        return
    if sys.platform == "win32":  # pragma: no cover - the emulator's PTY is POSIX only
        await session.send_error("Failed to spawn shell: no PTY on this platform")
        session.request_close(CLOSE_START_FAILED, "failed to spawn shell")
        return

    from ._pty import PtyShell

    shell = PtyShell()
    try:
        try:
            await shell.spawn(cols, rows)
        except OSError as exc:
            await session.send_error(f"Failed to spawn shell: {exc.strerror or exc}")
            session.request_close(CLOSE_START_FAILED, "failed to spawn shell")
            return
        await _pump(session, shell)
    finally:
        await shell.close()


async def _handle(session: WsSession, shell: PtyShell, msg: dict[str, Any]) -> None:
    """One client message: ``input`` to the PTY, ``resize`` applied, else an error frame."""
    kind = msg["type"]
    if kind == "input":
        data = msg.get("data")
        if not isinstance(data, str):
            await session.send_error("Invalid input message: 'data' must be a string")
            return
        await shell.write(data.encode("utf-8", errors="surrogatepass"))
    elif kind == "resize":
        c, r = msg.get("cols"), msg.get("rows")
        if not (_valid_dim(c) and _valid_dim(r)):
            await session.send_error(
                f"Invalid resize message: 'cols' and 'rows' must be integers 1..{MAX_DIM}"
            )
            return
        assert isinstance(c, int) and isinstance(r, int)
        shell.resize(c, r)
    else:
        await session.send_error(f"Unknown message type: {kind}")


async def _pump(session: WsSession, shell: PtyShell) -> None:
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    async def output() -> None:
        while True:
            chunk = await shell.read()
            text = decoder.decode(chunk, final=not chunk)
            if text:
                await session.send_json({"type": "output", "data": text})
            if not chunk:
                return

    async def handle(msg: dict[str, Any]) -> None:
        await _handle(session, shell, msg)

    async def exited() -> None:
        code = await shell.wait()
        # All output first, then the exit frame. A background job still holding the
        # PTY would keep it open forever, so the drain is bounded.
        try:
            async with asyncio.timeout(1.0):
                await asyncio.shield(output_task)
        except TimeoutError:
            output_task.cancel()
        await session.send_json({"type": "exit", "code": code})
        session.request_close(CLOSE_NORMAL, "shell exited")

    output_task = asyncio.create_task(output())
    exit_task = asyncio.create_task(exited())
    try:
        await receive_json_loop(session, handle)
    finally:
        for task in (output_task, exit_task):
            task.cancel()
        await asyncio.gather(output_task, exit_task, return_exceptions=True)
