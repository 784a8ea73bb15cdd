"""A real X server for the tests: Xvfb, x11vnc on it, and X clients to observe the
effects (``xdotool`` reads the pointer, ``xev`` prints the events a window receives).

Used by ``agents/test_x11vnc.py`` (the RFB input path), ``testing_ws/test_ws_x11vnc.py``
(the emulator's websockify in front of a real VNC server), each skipped with the reason
when a binary is missing, and by the agent benchmark's REST-vs-RFB measurement.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

BINARIES = ("Xvfb", "x11vnc", "xdotool", "xev")


def missing(binaries: tuple[str, ...] = BINARIES) -> list[str]:
    """Those of ``binaries`` (by default all this module runs) that are not installed."""
    return [b for b in binaries if shutil.which(b) is None]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


async def stop(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        try:
            async with asyncio.timeout(5):
                await proc.wait()
        except TimeoutError:
            proc.kill()
            await proc.wait()


@dataclass
class X11:
    """A running Xvfb display with x11vnc serving it (``port``)."""

    display: str
    port: int = 0
    procs: list[asyncio.subprocess.Process] = field(default_factory=list)
    vnc: asyncio.subprocess.Process | None = None

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "DISPLAY": f":{self.display}"}

    async def run(self, *args: str) -> str:
        proc = await asyncio.create_subprocess_exec(
            *args, env=self.env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        out, err = await proc.communicate()
        assert proc.returncode == 0, (args, err)
        return out.decode()

    async def pointer(self) -> tuple[int, int]:
        """The X server's pointer position, read with ``xdotool getmouselocation``."""
        out = await self.run("xdotool", "getmouselocation", "--shell")
        values = dict(line.split("=", 1) for line in out.split())
        return int(values["X"]), int(values["Y"])

    async def start_vnc(self, password: str) -> None:
        """(Re)start x11vnc with ``password`` on :attr:`port` (a restart rotates it)."""
        if self.vnc is not None:
            await stop(self.vnc)
            self.procs.remove(self.vnc)
        self.port = self.port or free_port()
        self.vnc = await asyncio.create_subprocess_exec(
            "x11vnc", "-display", f":{self.display}", "-rfbport", str(self.port),
            "-localhost", "-passwd", password, "-forever", "-shared", "-quiet",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        self.procs.append(self.vnc)
        async with asyncio.timeout(20):
            while True:
                try:
                    _, w = await asyncio.open_connection("127.0.0.1", self.port)
                except OSError:
                    await asyncio.sleep(0.05)
                    continue
                w.close()
                await w.wait_closed()
                return


@contextlib.asynccontextmanager
async def xvfb(width: int, height: int) -> AsyncIterator[X11]:
    read_fd, write_fd = os.pipe()
    proc = await asyncio.create_subprocess_exec(
        "Xvfb", "-displayfd", str(write_fd), "-screen", "0", f"{width}x{height}x24",
        "-nolisten", "tcp", pass_fds=(write_fd,),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    os.close(write_fd)
    x = X11(display="", procs=[proc])
    try:
        loop = asyncio.get_running_loop()
        with os.fdopen(read_fd, "rb") as pipe:
            async with asyncio.timeout(20):
                display = (await loop.run_in_executor(None, pipe.readline)).strip().decode()
        assert display.isdigit(), f"Xvfb did not report a display: {display!r}"
        x.display = display
        yield x
    finally:
        for p in reversed(x.procs):
            await stop(p)


_EVENT = re.compile(r"^(KeyPress|KeyRelease|ButtonPress|ButtonRelease) event")
_STATE = re.compile(r"state (0x[0-9a-f]+)")
_KEYSYM = re.compile(r"keysym 0x[0-9a-f]+, ([^)]+)\)")
_BUTTON = re.compile(r"button (\d+)")


class Xev:
    """``xev`` covering the screen; :meth:`events` parses what it printed so far into
    ``(event, keysym name or button number, modifier state)``."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        while line := await self.proc.stdout.readline():
            self.lines.append(line.decode(errors="replace"))

    def events(self) -> list[tuple[str, str, int]]:
        out: list[tuple[str, str, int]] = []
        current: str | None = None
        for line in self.lines:
            m = _EVENT.match(line)
            if m:
                current = m[1]
                continue
            if current is None:
                continue
            state = _STATE.search(line)
            if state is None:
                continue
            what = _KEYSYM.search(line) if current.startswith("Key") else _BUTTON.search(line)
            if what is not None:
                out.append((current, what[1], int(state[1], 16)))
                current = None
        return out

    async def close(self) -> None:
        await stop(self.proc)
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader


async def start_xev(x: X11, width: int, height: int) -> Xev:
    proc = await asyncio.create_subprocess_exec(
        "xev", "-geometry", f"{width}x{height}+0+0", "-event", "keyboard", "-event", "button",
        env=x.env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    xev = Xev(proc)
    async with asyncio.timeout(10):  # until its window is on the screen
        while True:
            found = await asyncio.create_subprocess_exec(
                "xdotool", "search", "--onlyvisible", "--name", "Event Tester",
                env=x.env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
            )  # fmt: skip
            if await found.wait() == 0:
                return xev
            await asyncio.sleep(0.05)
