"""A real screen for the demo: Xvfb with x11vnc in front of it, on loopback.

x11vnc reads its passwords from a file it re-reads whenever a viewer connects
(``-passwdfile read:...``), so the emulator's computers can all tunnel their websockify to
this one server, each with its own rotating ``vnc_password``: :meth:`Desktop.set_passwords`
rewrites the file. Needs the Debian packages ``xvfb``, ``x11vnc`` and ``x11-xserver-utils``
(for ``xsetroot``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import socket
import tempfile
import time
from collections.abc import Iterable
from types import TracebackType

__all__ = ["Desktop", "missing_tools"]

TOOLS = ("Xvfb", "x11vnc", "xsetroot")


def missing_tools() -> list[str]:
    """The programs this module needs that are not on ``PATH``."""
    return [tool for tool in TOOLS if shutil.which(tool) is None]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


class Desktop:
    """``async with Desktop(1024, 768) as d``: ``d.display`` (``":N"``), ``d.port`` (VNC).

    Every process is stopped and the password file removed on exit.
    """

    def __init__(self, width: int = 1024, height: int = 768) -> None:
        self.width = width
        self.height = height
        self.display = ""
        self.port = 0
        self._procs: list[asyncio.subprocess.Process] = []
        self._dir = tempfile.mkdtemp(prefix="orgo-demo-desktop-")
        self._passwd = os.path.join(self._dir, "passwd")
        self._mtime = 0

    async def __aenter__(self) -> Desktop:
        try:
            await self._start()
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    def set_passwords(self, passwords: Iterable[str]) -> None:
        """The VNC passwords x11vnc accepts from now on (one per computer, full access)."""
        lines = [p for p in passwords if p] or [secrets.token_hex(8)]  # none: nobody gets in
        # Without the marker, a file of exactly two passwords makes the second view-only.
        text = "".join(p + "\n" for p in lines) + "__BEGIN_VIEWONLY__\n"
        tmp = self._passwd + ".tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        # x11vnc re-reads the file when its modification time (whole seconds) changes:
        # make every version's strictly later, even for two writes within one second.
        self._mtime = max(int(time.time()), self._mtime + 1)
        os.utime(tmp, (self._mtime, self._mtime))
        os.replace(tmp, self._passwd)  # x11vnc never reads a half-written file

    async def paint(self, colour: str) -> None:
        """Fill the root window with ``colour`` (``"#rrggbb"``)."""
        await self._run("xsetroot", "-solid", colour)

    async def _run(self, *argv: str) -> None:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            env={**os.environ, "DISPLAY": self.display},
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        if await proc.wait() != 0:
            raise RuntimeError(f"{argv[0]} failed with exit code {proc.returncode}")

    async def _start(self) -> None:
        missing = missing_tools()
        if missing:
            raise RuntimeError(
                f"missing {', '.join(missing)} (apt-get install -y xvfb x11vnc x11-xserver-utils)"
            )
        read_fd, write_fd = os.pipe()
        try:
            xvfb = await asyncio.create_subprocess_exec(
                "Xvfb", "-displayfd", str(write_fd), "-screen", "0",
                f"{self.width}x{self.height}x24", "-nolisten", "tcp",
                pass_fds=(write_fd,),
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
            )  # fmt: skip
        finally:
            os.close(write_fd)
        self._procs.append(xvfb)
        loop = asyncio.get_running_loop()
        with os.fdopen(read_fd, "rb") as pipe:
            async with asyncio.timeout(20):
                number = (await loop.run_in_executor(None, pipe.readline)).strip().decode()
        if not number.isdigit():
            raise RuntimeError(f"Xvfb did not report a display ({number!r})")
        self.display = f":{number}"
        self.set_passwords([])
        self.port = _free_port()
        vnc = await asyncio.create_subprocess_exec(
            "x11vnc", "-display", self.display, "-rfbport", str(self.port), "-localhost",
            "-passwdfile", f"read:{self._passwd}", "-forever", "-shared", "-quiet",
            "-nowf", "-noxdamage",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        self._procs.append(vnc)
        async with asyncio.timeout(20):
            while True:
                if vnc.returncode is not None:
                    raise RuntimeError(f"x11vnc exited with {vnc.returncode}")
                try:
                    _, writer = await asyncio.open_connection("127.0.0.1", self.port)
                except OSError:
                    await asyncio.sleep(0.1)
                    continue
                writer.close()
                await writer.wait_closed()
                break

    async def close(self) -> None:
        """Stop x11vnc and Xvfb; remove the password file."""
        for proc in reversed(self._procs):
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.terminate()
                try:
                    async with asyncio.timeout(5):
                        await proc.wait()
                except TimeoutError:
                    proc.kill()
                    await proc.wait()
        self._procs.clear()
        shutil.rmtree(self._dir, ignore_errors=True)
