"""websockify tunnelled to a real VNC server: x11vnc on an Xvfb display.

Needs the ``xvfb`` and ``x11vnc`` packages (``apt-get install -y xvfb x11vnc``); skipped
with that reason when the binaries are absent.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
from collections.abc import AsyncIterator

import pytest

from .conftest import Harness
from .rfb_client import RfbAuthFailed, handshake, read_raw_update, update_request
from .test_ws_websockify import WsStream

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (shutil.which("Xvfb") and shutil.which("x11vnc")),
        reason="needs Xvfb and x11vnc (apt-get install -y xvfb x11vnc)",
    ),
]

WIDTH, HEIGHT = 640, 480


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


async def _stop(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        try:
            async with asyncio.timeout(5):
                await proc.wait()
        except TimeoutError:
            proc.kill()
            await proc.wait()


@pytest.fixture
async def x11vnc(harness: Harness) -> AsyncIterator[int]:
    """Xvfb + x11vnc with the computer's vnc_password; yields the VNC port."""
    read_fd, write_fd = os.pipe()
    xvfb = await asyncio.create_subprocess_exec(
        "Xvfb",
        "-displayfd",
        str(write_fd),
        "-screen",
        "0",
        f"{WIDTH}x{HEIGHT}x24",
        "-nolisten",
        "tcp",
        pass_fds=(write_fd,),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    os.close(write_fd)
    procs = [xvfb]
    try:
        loop = asyncio.get_running_loop()
        with os.fdopen(read_fd, "rb") as pipe:
            async with asyncio.timeout(20):
                display = (await loop.run_in_executor(None, pipe.readline)).strip().decode()
        assert display.isdigit(), f"Xvfb did not report a display: {display!r}"
        port = _free_port()
        vnc = await asyncio.create_subprocess_exec(
            "x11vnc",
            "-display",
            f":{display}",
            "-rfbport",
            str(port),
            "-localhost",
            "-passwd",
            harness.computer.vnc_password,
            "-forever",
            "-shared",
            "-quiet",
            "-nopw",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        procs.append(vnc)
        async with asyncio.timeout(20):
            while True:
                try:
                    _, w = await asyncio.open_connection("127.0.0.1", port)
                except OSError:
                    await asyncio.sleep(0.1)
                    continue
                w.close()
                await w.wait_closed()
                break
        yield port
    finally:
        for proc in reversed(procs):
            await _stop(proc)


async def test_rfb_through_websockify_to_x11vnc(harness: Harness, x11vnc: int) -> None:
    harness.fake.vnc_target = ("127.0.0.1", x11vnc)
    async with harness.connect("websockify") as ws:
        s = WsStream(ws)
        init = await handshake(s.recv_exact, s.send, harness.computer.vnc_password)
        assert (init.width, init.height) == (WIDTH, HEIGHT)
        assert init.true_colour
        await s.send(update_request(False, 0, 0, 16, 16))
        rects = await read_raw_update(s.recv_exact, bpp=init.bpp)
        # x11vnc may send more than asked (it updates in tiles), never less.
        assert rects and sum(w * h for _, _, w, h, _ in rects) >= 256
        assert any(x == 0 and y == 0 for x, y, _, _, _ in rects)


async def test_wrong_password_rejected_by_x11vnc(harness: Harness, x11vnc: int) -> None:
    harness.fake.vnc_target = ("127.0.0.1", x11vnc)
    async with harness.connect("websockify") as ws:
        s = WsStream(ws)
        with pytest.raises(RfbAuthFailed):
            await handshake(s.recv_exact, s.send, "wrong-pw")
