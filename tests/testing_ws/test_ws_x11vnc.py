"""websockify tunnelled to a real VNC server: x11vnc on an Xvfb display.

Needs the ``xvfb`` and ``x11vnc`` packages (``apt-get install -y xvfb x11vnc``); skipped
with that reason when the binaries are absent.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.x11 import missing, xvfb

from .conftest import Harness
from .rfb_client import RfbAuthFailed, handshake, read_raw_update, update_request
from .test_ws_websockify import WsStream

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        bool(missing(("Xvfb", "x11vnc"))),
        reason="needs Xvfb and x11vnc (apt-get install -y xvfb x11vnc)",
    ),
]

WIDTH, HEIGHT = 640, 480


@pytest.fixture
async def x11vnc(harness: Harness) -> AsyncIterator[int]:
    """Xvfb + x11vnc with the computer's vnc_password; yields the VNC port."""
    async with xvfb(WIDTH, HEIGHT) as x:
        await x.start_vnc(harness.computer.vnc_password)
        yield x.port


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
