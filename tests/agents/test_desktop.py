"""The one desktop surface against the emulator: every action, checked in its action log.

REST actions appear under their endpoint names; RFB input appears as ``vnc_pointer`` /
``vnc_key`` events (compacted to ``ptr``/``key`` by ``Env.log``), in the order sent.
"""

from __future__ import annotations

import asyncio

import msgspec
import pytest

from orgo_async import BadRequestError, Computer, ConflictError, InternalServerError
from orgo_async.agents import ActionError, Desktop
from orgo_async.agents._image import decode_png, image_size
from orgo_async.testing._rfb import RfbServer
from tests.conftest import eventually

from .conftest import (
    ALT,
    BACK_KEY,
    CTRL,
    FORWARD_KEY,
    LEFT,
    MIDDLE,
    RIGHT,
    SHIFT,
    WHEEL_DOWN,
    WHEEL_LEFT,
    WHEEL_RIGHT,
    WHEEL_UP,
    Env,
    click,
    nav,
    wheel,
)  # fmt: skip


async def test_rest_clicks_and_the_pointer_they_leave(env: Env) -> None:
    async with Desktop(env.orgo, env.cid) as d:
        assert await d.size() == (1280, 720)
        await d.click(10, 20)
        await d.click(11, 21, button="right")
        await d.click(12, 22, button="middle")
        await d.click(13, 23, count=2)
        assert await d.cursor_position() == (13, 23)
        await d.click()  # at the pointer
    assert env.log() == [
        ("click", {"x": 10, "y": 20, "button": "left"}),
        ("click", {"x": 11, "y": 21, "button": "right"}),
        ("click", {"x": 12, "y": 22, "button": "middle"}),
        ("click", {"x": 13, "y": 23, "button": "left", "double": True}),
        ("click", {"x": 13, "y": 23, "button": "left"}),
    ]


async def test_clicks_rest_cannot_express_go_over_rfb(env: Env) -> None:
    async with Desktop(env.orgo, env.cid) as d:
        await d.click(5, 6, count=3)
        await d.click(7, 8, modifiers="ctrl+shift")
        await d.click(9, 10, button="right", count=2)
        await d.click(11, 12, button="middle", modifiers=["ALT"])
        await d.click(13, 14, button="back")
        await d.click(15, 16, button="forward")
    assert env.log() == [
        ("ptr", (0, 5, 6)),
        *[("ptr", (m, 5, 6)) for m in (LEFT, 0, LEFT, 0, LEFT, 0)],
        ("key", (True, CTRL)),
        ("key", (True, SHIFT)),
        *click(7, 8),
        ("key", (False, SHIFT)),
        ("key", (False, CTRL)),
        ("ptr", (0, 9, 10)),
        *[("ptr", (m, 9, 10)) for m in (RIGHT, 0, RIGHT, 0)],
        ("key", (True, ALT)),
        *click(11, 12, MIDDLE),
        ("key", (False, ALT)),
        *nav(13, 14, BACK_KEY),
        *nav(15, 16, FORWARD_KEY),
    ]
    # The RFB pointer is the emulator's one pointer: a REST screenshot shows it there.
    assert env.computer.screen.pointer == (15, 16)


async def test_mouse_down_move_up_is_a_drag_and_keeps_the_button_held(env: Env) -> None:
    async with Desktop(env.orgo, env.cid) as d:
        await d.move(100, 100)
        await d.mouse_down()
        await d.move(150, 120)  # the button stays down: RFB, mask kept
        await d.mouse_up(160, 130)
        await d.move(1, 2)  # nothing held: REST again
    assert env.log() == [
        ("move", {"x": 100, "y": 100}),
        ("ptr", (LEFT, 100, 100)),
        ("ptr", (LEFT, 150, 120)),
        ("ptr", (0, 160, 130)),
        ("move", {"x": 1, "y": 2}),
    ]


async def test_drags(env: Env) -> None:
    async with Desktop(env.orgo, env.cid) as d:
        await d.drag([(10, 10), (20, 30)])
        await d.drag([(0, 0), (8, 0), (8, 16)])
        await d.drag([(1, 1), (9, 1)], modifiers="shift", button="right")
        assert await d.cursor_position() == (9, 1)
    log = env.log()
    assert log[0] == (
        "drag",
        {"start_x": 10, "start_y": 10, "end_x": 20, "end_y": 30, "button": "left", "duration": 0.5},
    )
    path = log[1:20]
    assert path[:2] == [("ptr", (0, 0, 0)), ("ptr", (LEFT, 0, 0))]
    # Interpolated motion with the button held, along both segments, then the release.
    assert [p for _, p in path[2:18]] == [(LEFT, i, 0) for i in range(1, 9)] + [
        (LEFT, 8, 2 * i) for i in range(1, 9)
    ]
    assert path[18] == ("ptr", (0, 8, 16))
    shifted = log[20:]
    assert shifted[0] == ("key", (True, SHIFT)) and shifted[-1] == ("key", (False, SHIFT))
    assert shifted[2] == ("ptr", (RIGHT, 1, 1)) and shifted[-2] == ("ptr", (0, 9, 1))


async def test_scrolls(env: Env) -> None:
    async with Desktop(env.orgo, env.cid) as d:
        await d.scroll("down")  # pointer unknown: at the screen centre
        await d.scroll("up", 2, 10, 20)
        await d.scroll("left", 2)  # at the pointer, over RFB
        await d.scroll("right", 1, 30, 40)
        await d.scroll("down", 1, 50, 60, modifiers="ctrl")
        await d.scroll("left", 1, 70, 80, modifiers="shift+ctrl")  # Shift not pressed twice
    async with Desktop(env.orgo, env.cid, horizontal_scroll="buttons") as d:
        await d.scroll("left", 1, 1, 2)
        await d.scroll("right", 2, 3, 4)
    # Sideways is the wheel with Shift held (x11vnc passes only buttons 1-5), or with
    # horizontal_scroll="buttons" X buttons 6 and 7.
    assert env.log() == [
        ("scroll", {"direction": "down", "amount": 3, "x": 640, "y": 360}),
        ("scroll", {"direction": "up", "amount": 2, "x": 10, "y": 20}),
        *wheel(10, 20, WHEEL_UP, 2, held=SHIFT),
        *wheel(30, 40, WHEEL_DOWN, 1, held=SHIFT),
        *wheel(50, 60, WHEEL_DOWN, 1, held=CTRL),
        ("key", (True, SHIFT)),
        ("key", (True, CTRL)),
        *wheel(70, 80, WHEEL_UP, 1),
        ("key", (False, CTRL)),
        ("key", (False, SHIFT)),
        *wheel(1, 2, WHEEL_LEFT, 1),
        *wheel(3, 4, WHEEL_RIGHT, 2),
    ]


async def test_keyboard(env: Env) -> None:
    async with Desktop(env.orgo, env.cid) as d:
        await d.type("héllo wörld")
        await d.key("ctrl+shift+t")
        await d.key("enter")
        await d.key("ctrl+a Delete", repeat=2)
        await d.hold_key("shift", 0.01)
    assert env.log() == [
        ("type", {"text": "héllo wörld"}),
        ("key", {"key": "ctrl+shift+t"}),
        ("key", {"key": "Return"}),
        ("key", {"key": "ctrl+a"}),
        ("key", {"key": "Delete"}),
        ("key", {"key": "ctrl+a"}),
        ("key", {"key": "Delete"}),
        ("key", (True, SHIFT)),
        ("key", (False, SHIFT)),
    ]


async def test_hold_key_releases_when_cancelled(env: Env) -> None:
    async with Desktop(env.orgo, env.cid) as d:
        task = asyncio.create_task(d.hold_key("ctrl+alt", 30))
        await eventually(lambda: env.log() == [("key", (True, CTRL)), ("key", (True, ALT))])
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert env.log()[2:] == [("key", (False, ALT)), ("key", (False, CTRL))]


async def test_input_rfb_sends_every_pointer_and_key_action_over_rfb(env: Env) -> None:
    async with Desktop(env.orgo, env.cid, input="rfb") as d:
        await d.click(3, 4)
        await d.move(5, 6)
        await d.scroll("up", 1, 7, 8)
        await d.drag([(1, 1), (1, 2)])
        await d.type("Hi\n")
        await d.key("ctrl+c", repeat=2)
    log = env.log()
    assert all(name in ("ptr", "key") for name, _ in log)
    assert log[:5] == [*click(3, 4), ("ptr", (0, 5, 6)), ("ptr", (0, 7, 8))]
    keys = [k for name, k in log if name == "key"]
    assert keys == [
        (True, ord("H")), (False, ord("H")), (True, ord("i")), (False, ord("i")),
        (True, 0xFF0D), (False, 0xFF0D),
        *[(True, CTRL), (True, ord("c")), (False, ord("c")), (False, CTRL)] * 2,
    ]  # fmt: skip


async def test_screenshot_zoom_wait_bash(env: Env) -> None:
    env.fake.on_bash(lambda command, computer: ("out\n", 3) if command == "false" else "ok\n")
    async with Desktop(env.orgo, env.cid) as d:
        shot = await d.screenshot()
        assert (shot.mime_type, shot.width, shot.height) == ("image/png", 1280, 720)
        zoom = await d.zoom(100, 50, 300, 150)
        assert (zoom.width, zoom.height) == (200, 100) == image_size(zoom.data)
        # The zoom is exactly that region of a screenshot.
        _, _, full = decode_png(shot.data)
        _, _, region = decode_png(zoom.data)
        assert region[:600] == full[(50 * 1280 + 100) * 3 : (50 * 1280 + 300) * 3]
        await d.wait(1.5)
        await d.wait(75)  # beyond the endpoint's 60 s: two calls
        assert (await d.bash("echo hi")).output == "ok\n"
        assert (await d.bash("false")).exit_code == 3
    assert env.log(screenshots=True) == [
        ("screenshot", {"response_format": "base64"}),
        ("screenshot", {"response_format": "base64"}),
        ("wait", {"duration": 1.5}),
        ("wait", {"duration": 60.0}),
        ("wait", {"duration": 15.0}),
        ("bash", {"command": "echo hi"}),
        ("bash", {"command": "false"}),
    ]


async def test_rfb_screenshots_read_the_framebuffer(env: Env) -> None:
    server = RfbServer("x", 1280, 720)  # the same emulated screen, for its colours
    async with Desktop(env.orgo, env.cid, screenshots="rfb") as d:
        shot = await d.screenshot()
        zoom = await d.zoom(0, 100, 4, 102)
    assert (shot.width, shot.height) == (1280, 720) == image_size(shot.data)
    _, _, rgb = decode_png(shot.data)
    for row in (0, 359, 719):
        assert rgb[row * 1280 * 3 : row * 1280 * 3 + 3] == bytes(server.colour_at_row(row))
    assert decode_png(zoom.data) == (
        4,
        2,
        bytes(server.colour_at_row(100)) * 4 + bytes(server.colour_at_row(101)) * 4,
    )
    assert env.log(screenshots=True) == []  # nothing through REST


async def test_size_from_a_screenshot_when_the_computer_has_no_resolution(env: Env) -> None:
    env.computer.resolution = "1024x768x24"
    computer = msgspec.structs.replace(await env.orgo.computers.get(env.cid), resolution=None)
    async with Desktop(env.orgo, computer) as d:
        assert await d.size() == (1024, 768)
    assert env.log(screenshots=True) == [("screenshot", {"response_format": "base64"})]
    known = msgspec.structs.replace(computer, resolution="800x600x24")
    assert Desktop(env.orgo, known).known_size == (800, 600)  # no request at all


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda d: d.click(1280, 5), r"outside the 1280x720 display"),
        (lambda d: d.click(-1, 5), "outside"),
        (lambda d: d.click(5, None), "both x and y"),
        (lambda d: d.click(), "pointer position is not known"),
        (lambda d: d.click(1, 1, count=4), "count must be 1, 2 or 3"),
        (lambda d: d.click(1, 1, button="wheel"), "button must be"),
        (lambda d: d.click(1, 1, modifiers="ctrl+bogus"), "'bogus'"),
        (lambda d: d.move(1.5, 2), "integers"),
        (lambda d: d.drag([(1, 1)]), "at least two points"),
        (lambda d: d.drag([(1, 1), (2,)]), "each path point"),
        (lambda d: d.scroll("sideways"), "direction"),
        (lambda d: d.scroll("up", 0, 1, 1), "amount"),
        (lambda d: d.type(""), "non-empty"),
        (lambda d: d.key("ctrl+"), "invalid key combo"),
        (lambda d: d.key("Return", repeat=0), "repeat"),
        (lambda d: d.hold_key("shift", -1), "duration"),
        (lambda d: d.hold_key("", 1), "hold_key needs a key"),
        (lambda d: d.zoom(10, 10, 5, 20), "x0 < x1"),
        (lambda d: d.wait(-1), "duration"),
        (lambda d: d.bash("  "), "command"),
    ],
)
async def test_bad_arguments_raise_action_error_and_send_nothing(
    env: Env, call: object, match: str
) -> None:
    async with Desktop(env.orgo, env.cid) as d:
        with pytest.raises(ActionError, match=match):
            await call(d)  # type: ignore[operator]
    assert env.log(screenshots=True) == []


@pytest.mark.parametrize(
    ("status", "error"), [(400, BadRequestError), (409, ConflictError), (500, InternalServerError)]
)
async def test_api_errors_are_typed(env: Env, status: int, error: type[Exception]) -> None:
    env.fake.faults.add("POST", "/computers/{id}/click", statuses=[status])
    async with Desktop(env.orgo, env.cid) as d:
        with pytest.raises(error):
            await d.click(1, 1)
        await d.click(1, 1)  # the next one goes through
    assert env.log() == [("click", {"x": 1, "y": 1, "button": "left"})]


async def test_a_desktop_from_a_computer_object_needs_no_fetch(env: Env) -> None:
    computer: Computer = await env.orgo.computers.get(env.cid)
    before = len(env.fake.requests)
    d = Desktop(env.orgo, computer)
    assert d.known_size == (1280, 720)
    await d.open()
    assert len(env.fake.requests) == before
    await d.aclose()


async def test_a_restart_mid_episode_redoes_the_rfb_handshake(env: Env) -> None:
    async with Desktop(env.orgo, env.cid) as d:
        await d.click(5, 5, count=3)  # RFB
        session = d.rfb
        assert session is not None and session.alive
        old = env.computer.vnc_password
        await env.orgo.computers.restart(env.cid)  # a new vnc_password: sockets get 4401
        await eventually(lambda: not session.alive)
        await d.click(6, 6, count=3)
        assert session.handshakes == 2 and env.computer.vnc_password != old
    assert env.log()[-7:] == [("ptr", (0, 6, 6)), *[("ptr", (m, 6, 6)) for m in (LEFT, 0) * 3]]
