"""A real terminal endpoint for tests: bash on a PTY behind the documented JSON frames."""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import fcntl
import json
import os
import signal
import struct
import tempfile
import termios
from typing import Any

from websockets.asyncio.server import ServerConnection

# A coloured prompt, like a real desktop's: green user@host, blue cwd.
PS1 = r"\[\e[1;32m\]user@desktop\[\e[0m\]:\[\e[1;34m\]\w\[\e[0m\]\$ "


def _set_size(fd: int, cols: int, rows: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def _make_controlling_tty() -> None:  # runs in the child before exec
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


async def pty_terminal(ws: ServerConnection, query: dict[str, str]) -> None:
    """Serve one terminal connection with a fresh interactive bash."""
    cols, rows = int(query.get("cols", "80")), int(query.get("rows", "24"))
    master, slave = os.openpty()
    _set_size(master, cols, rows)
    home = tempfile.mkdtemp(prefix="orgo-pty-")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": home,
        "TERM": "xterm-256color",
        "PS1": PS1,
        "LANG": "C.UTF-8",
    }
    proc = await asyncio.create_subprocess_exec(
        "bash",
        "--norc",
        "--noprofile",
        "-i",
        stdin=slave,
        stdout=slave,
        stderr=slave,
        cwd=home,
        env=env,
        start_new_session=True,
        preexec_fn=_make_controlling_tty,
    )
    os.close(slave)
    loop = asyncio.get_running_loop()
    out: asyncio.Queue[bytes | None] = asyncio.Queue()

    def readable() -> None:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO once the shell is gone
            data = b""
        if not data:
            loop.remove_reader(master)
            out.put_nowait(None)
        else:
            out.put_nowait(data)

    loop.add_reader(master, readable)

    async def pump_out() -> None:
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        while (data := await out.get()) is not None:
            await ws.send(json.dumps({"type": "output", "data": decoder.decode(data)}))
        code = await proc.wait()
        await ws.send(json.dumps({"type": "exit", "code": code}))
        await ws.close(1000)

    async def pump_in() -> None:
        async for frame in ws:
            msg: dict[str, Any] = json.loads(frame)
            ws.seen.frames.append(msg)  # type: ignore[attr-defined]
            kind = msg.get("type")
            if kind == "input":
                os.write(master, msg["data"].encode())
            elif kind == "resize":
                _set_size(master, int(msg["cols"]), int(msg["rows"]))
            elif kind == "ping":
                await ws.send('{"type":"pong"}')

    tasks = [asyncio.create_task(pump_out()), asyncio.create_task(pump_in())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(BaseException):
                await t
        loop.remove_reader(master)
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
        os.close(master)
        with contextlib.suppress(OSError):
            for name in os.listdir(home):
                os.remove(os.path.join(home, name))
            os.rmdir(home)
