"""The RFB input path against a real VNC server: x11vnc on Xvfb, reached through the
emulator's websockify (``FakeOrgo(vnc_target=...)``). The effects are read on the X
server itself: the pointer with ``xdotool getmouselocation``, keys and buttons as the
events a real X client (``xev``) receives, with their modifier state. VNC authentication
succeeding here is the real-server oracle of the shared DES.

Skipped only when one of Xvfb, x11vnc, xdotool, xev is not installed (named in the reason).
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from orgo_async import AsyncOrgo, TokenRejectedError
from orgo_async.agents import Desktop
from orgo_async.agents._image import decode_png
from orgo_async.testing import FakeComputer, FakeOrgo
from tests.conftest import eventually
from tests.x11 import X11, missing, start_xev, xvfb

from .conftest import timings

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(bool(missing()), reason=f"needs {', '.join(missing())} (apt-get install "
                       "xvfb x11vnc xdotool x11-utils)"),
]  # fmt: skip

W, H = 640, 480
SHIFT_MASK, CTRL_MASK = 0x1, 0x4


@dataclass
class Real:
    x: X11
    fake: FakeOrgo
    orgo: AsyncOrgo
    computer: FakeComputer


@pytest.fixture
async def real() -> AsyncIterator[Real]:
    async with xvfb(W, H) as x, FakeOrgo(timings=timings()) as fake:
        ws = fake.add_workspace("x11")
        computer = fake.add_computer(ws.id, "real", resolution=f"{W}x{H}x24")
        await x.start_vnc(computer.vnc_password)
        fake.vnc_target = ("127.0.0.1", x.port)
        async with fake.client(max_retries=0) as orgo:
            yield Real(x, fake, orgo, computer)


async def test_pointer_actions_move_the_real_pointer(real: Real) -> None:
    async with Desktop(real.orgo, real.computer.id, input="rfb") as d:
        await d.move(100, 120)
        await pointer_at(real.x, (100, 120))
        await d.click(200, 210, count=3)
        await pointer_at(real.x, (200, 210))
        await d.drag([(10, 10), (300, 40), (320, 400)])
        await pointer_at(real.x, (320, 400))
        await d.mouse_down(5, 6)
        await d.move(7, 8)
        await d.mouse_up()
        await pointer_at(real.x, (7, 8))
        assert await d.cursor_position() == (7, 8)
        session = d.rfb
        assert session is not None and session.handshakes == 1 and session.size == (W, H)


async def test_keys_and_buttons_reach_a_real_x_client(real: Real) -> None:
    xev = await start_xev(real.x, W, H)
    try:
        async with Desktop(real.orgo, real.computer.id) as d:
            await d.click(50, 50, modifiers="ctrl")  # REST cannot hold keys: RFB
            await d.click(60, 60, count=3)
            await d.scroll("left", 1, 70, 70)
            await d.scroll("right", 1)
            await d.scroll("up", 1, 70, 70, modifiers="shift")
            await d.click(80, 80, button="back")
            await d.hold_key("shift", 0.05)
        async with Desktop(real.orgo, real.computer.id, input="rfb") as d:
            await d.key("ctrl+a")
            await d.type("Hi")
            await d.key("Return")
            await d.scroll("down", 2, 90, 90)

        def presses() -> list[tuple[str, str, int]]:
            return [e for e in xev.events() if e[0] in ("ButtonPress", "KeyPress")]

        await eventually(lambda: len(presses()) >= 21)
        got = presses()
    finally:
        await xev.close()
    assert got == [
        ("KeyPress", "Control_L", 0),
        ("ButtonPress", "1", CTRL_MASK),  # the click arrived with Ctrl held
        ("ButtonPress", "1", 0),
        ("ButtonPress", "1", 0),
        ("ButtonPress", "1", 0),
        ("KeyPress", "Shift_L", 0),  # sideways: the wheel with Shift held
        ("ButtonPress", "4", SHIFT_MASK),
        ("KeyPress", "Shift_L", 0),
        ("ButtonPress", "5", SHIFT_MASK),
        ("KeyPress", "Shift_L", 0),
        ("ButtonPress", "4", SHIFT_MASK),  # wheel up with Shift held
        ("KeyPress", "XF86Back", 0),  # back
        ("KeyPress", "Shift_L", 0),  # held, then released
        ("KeyPress", "Control_L", 0),
        ("KeyPress", "a", CTRL_MASK),
        ("KeyPress", "Shift_L", 0),  # x11vnc adds Shift for the capital
        ("KeyPress", "H", SHIFT_MASK),
        ("KeyPress", "i", 0),
        ("KeyPress", "Return", 0),
        ("ButtonPress", "5", 0),
        ("ButtonPress", "5", 0),
    ]


async def test_rfb_screenshot_is_the_real_framebuffer(real: Real) -> None:
    paint = shutil.which("xsetroot") is not None
    if paint:  # a known colour on the root window, read back over RFB
        await real.x.run("xsetroot", "-solid", "#3366cc")
    async with Desktop(real.orgo, real.computer.id, screenshots="rfb") as d:
        shot = await d.screenshot()
        zoom = await d.zoom(10, 10, 20, 15)
    width, height, rgb = decode_png(shot.data)
    assert (width, height) == (W, H) == (shot.width, shot.height)
    zoom_w, zoom_h, zoom_rgb = decode_png(zoom.data)
    assert (zoom_w, zoom_h) == (10, 5)
    if paint:
        assert rgb[:3] == zoom_rgb[:3] == bytes([0x33, 0x66, 0xCC])


async def pointer_at(x: X11, where: tuple[int, int]) -> None:
    """The X pointer reaches ``where`` (x11vnc applies pointer events in its main loop,
    a few ms after confirming them; polling keeps a loaded machine from failing this)."""
    for _ in range(100):
        if await x.pointer() == where:
            return
        await asyncio.sleep(0.02)
    assert await x.pointer() == where


async def test_restart_rotates_the_password_and_the_session_follows(real: Real) -> None:
    async with Desktop(real.orgo, real.computer.id, input="rfb") as d:
        await d.move(11, 12)
        # A restart: a new vnc_password everywhere (websockify and the VNC server).
        new = real.fake.rotate_password(real.computer.id)
        await real.x.start_vnc(new)
        session = d.rfb
        assert session is not None
        await eventually(lambda: not session.alive)
        await d.move(13, 14)
        await pointer_at(real.x, (13, 14))
        assert session.handshakes == 2


async def test_a_password_the_vnc_server_rejects_is_a_typed_error(real: Real) -> None:
    # websockify accepts the token, x11vnc (still on the old password) refuses it as the
    # VNC password: one refresh, then TokenRejectedError.
    real.fake.rotate_password(real.computer.id)
    async with Desktop(real.orgo, real.computer.id, input="rfb") as d:
        with pytest.raises(TokenRejectedError, match="VNC password was rejected"):
            await d.move(1, 1)
    assert len(real.fake.requests_to("GET", f"/computers/{real.computer.id}/vnc-password")) == 1
    await asyncio.sleep(0)
