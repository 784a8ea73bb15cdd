"""``Desktop``: the one surface every agent adapter drives (Claude, OpenAI, your own).

Each method is one thing a computer-use model asks for. The REST action endpoints are
used where they exist (``orgo-api.md`` §6: validated server-side, typed errors, and a
REST-only episode never opens a WebSocket); what REST cannot express goes as RFB input
events over the websockify channel (:class:`~orgo_async.agents._rfb.RfbSession`):

* REST: left/right/middle clicks and left double clicks, moves, two-point drags,
  vertical scrolls, typing, key combos, waits, screenshots, shell commands;
* RFB (PointerEvent button masks, KeyEvent keysyms): clicks with held keys, triple
  clicks, right/middle double clicks, back/forward (the XF86Back/XF86Forward keys),
  mouse down/up, drags along a path, horizontal scrolls, scrolls with held keys, and
  holding a key for a duration.

``input="rfb"`` sends every pointer and key action over RFB instead (measured faster per
action, see the README's Agents section for the numbers and why REST stays the
default); ``screenshots="rfb"`` reads screenshots and zooms from the RFB framebuffer.

(One class with one method per model action, ~580 lines: the routing rules between
REST and RFB read best side by side.)

Coordinates are checked against the display size before anything is sent; bad
arguments raise :class:`ActionError` (a ``ValueError``) naming what was wrong, and
failures of the API or the channel raise the SDK's typed errors.

(Past 500 lines on purpose: one class with one method per model action, each choosing
REST or RFB beside the others; the RFB session and the image code are modules of their
own already, and splitting the class would scatter the one surface adapters share.)
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Literal

from .._errors import OrgoError
from .._protocol import keysyms
from ._image import crop_png, encode_png, image_size

if TYPE_CHECKING:
    from .._client import AsyncOrgo
    from .._models import BashResult, Computer, Screenshot
    from .._protocol.rfb import RfbClient
    from ._rfb import RfbSession

__all__ = ["ActionError", "Button", "Desktop", "Direction", "as_point"]

Button = Literal["left", "right", "middle", "back", "forward"]
Direction = Literal["up", "down", "left", "right"]
Keys = str | Sequence[str]

_MASK: dict[str, int] = {"left": 1, "middle": 2, "right": 4}
_WHEEL: dict[str, int] = {"up": 8, "down": 16, "left": 32, "right": 64}
# x11vnc applies only the first five bits of RFB's button mask (its MAX_BUTTONS is 5;
# checked against x11vnc 0.9.16 on Xvfb, whose pointer has 10 buttons): buttons 6-9
# never arrive. So "back"/"forward" are the XF86Back/XF86Forward keys (what browsers
# and file managers bind those buttons to), and a horizontal scroll is by default the
# wheel with Shift held (how GTK, Chromium and Firefox scroll sideways).
_NAV_KEYS: dict[str, int] = {
    "back": keysyms.keysym("XF86Back"),
    "forward": keysyms.keysym("XF86Forward"),
}
_SHIFT = keysyms.keysym("Shift_L")
_RESOLUTION = re.compile(r"^(\d{1,5})x(\d{1,5})")
_DRAG_STEPS = 8  # intermediate pointer events per RFB drag segment, so apps see motion
_MAX_WAIT = 60.0  # the REST /wait limit per call (§6.9)


class ActionError(OrgoError, ValueError):
    """An action or its parameters are invalid (unknown action, missing coordinate,
    coordinate off the screen, unknown key name ...). Nothing was sent."""


def as_point(value: object, name: str = "coordinate") -> tuple[int, int]:
    """``[x, y]`` from a model's JSON as two ints; ``ActionError`` otherwise."""
    if (
        not isinstance(value, list | tuple)
        or len(value) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    ):
        raise ActionError(f"{name} must be [x, y] with two integers, not {value!r}")
    return int(value[0]), int(value[1])


def _parse_resolution(resolution: str | None) -> tuple[int, int] | None:
    match = _RESOLUTION.match(resolution or "")
    if match and int(match[1]) and int(match[2]):
        return int(match[1]), int(match[2])
    return None


def _keysyms(keys: Keys | None) -> tuple[int, ...]:
    """Held keys: ``"ctrl+shift"``, ``["CTRL", "SHIFT"]`` or ``None``."""
    if not keys:
        return ()
    try:
        if isinstance(keys, str):
            return keysyms.parse_combo(keys)
        return tuple(keysyms.keysym(k) for k in keys)
    except ValueError as e:
        raise ActionError(str(e)) from None


class Desktop:
    """One computer's screen, pointer and keyboard, for agent adapters.

    ::

        async with Desktop(orgo, computer_id) as desktop:
            width, height = await desktop.size()
            await desktop.click(100, 200, button="right")
            await desktop.click(100, 200, count=3, modifiers="shift")   # over RFB
            await desktop.key("ctrl+shift+t")
            shot = await desktop.screenshot()         # orgo_async.Screenshot (PNG bytes)

    Arguments:
        orgo: the :class:`~orgo_async.AsyncOrgo` client.
        computer: a computer id, or an :class:`~orgo_async.Computer` already fetched.
        input: ``"auto"`` (REST where it exists, RFB for the rest) or ``"rfb"`` (every
            pointer and key action over RFB).
        screenshots: ``"rest"`` (``GET /computers/{id}/screenshot``) or ``"rfb"`` (read
            from the VNC framebuffer and encode a PNG locally).
        horizontal_scroll: ``"shift-wheel"`` (the wheel with Shift held, which x11vnc
            delivers) or ``"buttons"`` (X buttons 6/7, for VNC servers that pass them).
        pointer_settle: seconds to let the VNC server apply RFB pointer events after it
            confirmed reading them, before the next action (x11vnc applies them in its
            main loop: measured 4-28 ms after the confirmation on Xvfb).
    """

    def __init__(
        self,
        orgo: AsyncOrgo,
        computer: str | Computer,
        *,
        input: Literal["auto", "rfb"] = "auto",
        screenshots: Literal["rest", "rfb"] = "rest",
        horizontal_scroll: Literal["shift-wheel", "buttons"] = "shift-wheel",
        pointer_settle: float = 0.05,
    ) -> None:
        if horizontal_scroll not in ("shift-wheel", "buttons"):
            raise ValueError("horizontal_scroll must be 'shift-wheel' or 'buttons'")
        if pointer_settle < 0:
            raise ValueError("pointer_settle must be >= 0")
        self._shift_wheel = horizontal_scroll == "shift-wheel"
        self._settle = pointer_settle
        if input not in ("auto", "rfb"):
            raise ValueError("input must be 'auto' or 'rfb'")
        if screenshots not in ("rest", "rfb"):
            raise ValueError("screenshots must be 'rest' or 'rfb'")
        self._orgo = orgo
        self._computer: Computer | None = None if isinstance(computer, str) else computer
        self.computer_id: str = computer if isinstance(computer, str) else computer.id
        self._all_rfb = input == "rfb"
        self._rfb_shots = screenshots == "rfb"
        self._size: tuple[int, int] | None = None
        if self._computer is not None:
            self._size = _parse_resolution(self._computer.resolution)
        self._session: RfbSession | None = None
        self._buttons = 0  # RFB buttons held down (mouse_down without mouse_up)
        self.pointer: tuple[int, int] | None = None
        """Where this desktop last put the pointer (or where the server says it is)."""

    def __repr__(self) -> str:
        return f"<Desktop computer={self.computer_id} size={self._size}>"

    # -- lifecycle -----------------------------------------------------------------------

    async def open(self) -> Desktop:
        """Fetch the computer (if only an id was given) and learn the display size."""
        await self.size()
        return self

    async def aclose(self) -> None:
        """Close the RFB session if one was opened (idempotent)."""
        session, self._session = self._session, None
        if session is not None:
            await session.aclose()

    async def __aenter__(self) -> Desktop:
        return await self.open()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def computer(self) -> Computer:
        """The computer object (fetched once)."""
        if self._computer is None:
            self._computer = await self._orgo.computers.get(self.computer_id)
        return self._computer

    async def size(self) -> tuple[int, int]:
        """``(width, height)`` of the display: from the computer's ``resolution``
        (``1280x720x24``), else from a screenshot (the API's ``GET /computers/{id}`` does
        not always carry ``resolution``)."""
        if self._size is None:
            computer = await self.computer()
            self._size = _parse_resolution(computer.resolution)
            if self._size is None:
                shot = await self.screenshot()
                assert shot.width is not None and shot.height is not None
                self._size = (shot.width, shot.height)
        return self._size

    @property
    def rfb(self) -> RfbSession | None:
        """The RFB session, once an action needed one (``None`` before)."""
        return self._session

    @property
    def known_size(self) -> tuple[int, int] | None:
        """The display size if already known (no request)."""
        return self._size

    async def _rfb(self) -> RfbSession:
        if self._session is None:
            from ._rfb import RfbSession

            self._session = RfbSession(self._orgo.connection(await self.computer()))
        return self._session

    async def _send(self, build: Callable[[RfbClient], None], *, pointer: bool = True) -> None:
        await (await self._rfb()).send(build)
        if pointer and self._settle:
            # Confirmed as read, not yet as applied: see pointer_settle.
            await asyncio.sleep(self._settle)

    # -- validation ----------------------------------------------------------------------

    async def _point(self, x: int | None, y: int | None) -> tuple[int, int]:
        """A point on the screen: the given one (checked), else the pointer's position."""
        if x is None and y is None:
            return await self.cursor_position()
        if x is None or y is None:
            raise ActionError("give both x and y, or neither")
        return await self._check(x, y)

    async def _check(self, x: object, y: object) -> tuple[int, int]:
        width, height = await self.size()
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (x, y)):
            raise ActionError(f"coordinates must be integers, not ({x!r}, {y!r})")
        assert isinstance(x, int) and isinstance(y, int)
        if not (0 <= x < width and 0 <= y < height):
            raise ActionError(
                f"coordinate ({x}, {y}) is outside the {width}x{height} display "
                f"(x 0-{width - 1}, y 0-{height - 1})"
            )
        return x, y

    # -- pointer -------------------------------------------------------------------------

    async def click(
        self,
        x: int | None = None,
        y: int | None = None,
        *,
        button: Button = "left",
        count: int = 1,
        modifiers: Keys | None = None,
    ) -> None:
        """Click ``count`` times (1-3) at ``(x, y)`` (default: where the pointer is),
        holding ``modifiers`` (``"ctrl"``, ``"ctrl+shift"``, ``["alt"]``)."""
        if button not in _MASK and button not in _NAV_KEYS:
            raise ActionError(
                f"button must be one of left, right, middle, back, forward, not {button!r}"
            )
        if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= 3:
            raise ActionError(f"count must be 1, 2 or 3, not {count!r}")
        held = _keysyms(modifiers)
        px, py = await self._point(x, y)
        rest = not (self._all_rfb or held or self._buttons) and (
            (count == 1 and button in ("left", "right", "middle"))
            or (count == 2 and button == "left")
        )
        if rest and button in ("left", "right", "middle"):
            await self._orgo.computers.click(
                self.computer_id, px, py, button=button, double=count == 2
            )
        else:

            def build(c: RfbClient) -> None:
                self._press(c, held)
                c.pointer_event(self._buttons, px, py)
                for _ in range(count):
                    if button in _NAV_KEYS:
                        c.key_event(_NAV_KEYS[button], True)
                        c.key_event(_NAV_KEYS[button], False)
                    else:
                        c.pointer_event(self._buttons | _MASK[button], px, py)
                        c.pointer_event(self._buttons, px, py)
                self._release(c, held)

            await self._send(build)
        self.pointer = (px, py)

    async def mouse_down(
        self, x: int | None = None, y: int | None = None, *, button: Button = "left"
    ) -> None:
        """Press ``button`` at ``(x, y)`` (default: where the pointer is) and keep it down."""
        await self._button(x, y, button, down=True)

    async def mouse_up(
        self, x: int | None = None, y: int | None = None, *, button: Button = "left"
    ) -> None:
        """Release ``button`` at ``(x, y)`` (default: where the pointer is)."""
        await self._button(x, y, button, down=False)

    async def _button(self, x: int | None, y: int | None, button: str, *, down: bool) -> None:
        mask = _MASK.get(button)
        if mask is None:
            raise ActionError(f"button must be one of left, right, middle, not {button!r}")
        px, py = await self._point(x, y)
        buttons = self._buttons | mask if down else self._buttons & ~mask
        await self._send(lambda c: c.pointer_event(buttons, px, py))
        self._buttons = buttons
        self.pointer = (px, py)

    async def move(self, x: int, y: int, *, modifiers: Keys | None = None) -> None:
        """Move the pointer to ``(x, y)`` (buttons held by :meth:`mouse_down` stay down)."""
        held = _keysyms(modifiers)
        px, py = await self._check(x, y)
        if self._all_rfb or held or self._buttons:

            def build(c: RfbClient) -> None:
                self._press(c, held)
                c.pointer_event(self._buttons, px, py)
                self._release(c, held)

            await self._send(build)
        else:
            await self._orgo.computers.move_mouse(self.computer_id, px, py)
        self.pointer = (px, py)

    async def drag(
        self,
        path: Sequence[Sequence[int]],
        *,
        button: Button = "left",
        modifiers: Keys | None = None,
    ) -> None:
        """Press at the first point, move through the others, release at the last."""
        if not isinstance(path, list | tuple) or len(path) < 2:
            raise ActionError(f"a drag path needs at least two points, not {path!r}")
        points = [await self._check(*as_point(p, "each path point")) for p in path]
        held = _keysyms(modifiers)
        mask = _MASK.get(button)
        if mask is None:
            raise ActionError(f"a drag button must be left, right or middle, not {button!r}")
        if (
            len(points) == 2
            and button in ("left", "right")
            and not (self._all_rfb or held or self._buttons)
        ):
            (sx, sy), (ex, ey) = points
            await self._orgo.computers.drag(self.computer_id, sx, sy, ex, ey, button=button)
        else:

            def build(c: RfbClient) -> None:
                self._press(c, held)
                (x0, y0) = points[0]
                c.pointer_event(self._buttons, x0, y0)
                c.pointer_event(self._buttons | mask, x0, y0)
                for (ax, ay), (bx, by) in itertools.pairwise(points):
                    for i in range(1, _DRAG_STEPS + 1):
                        px = ax + (bx - ax) * i // _DRAG_STEPS
                        py = ay + (by - ay) * i // _DRAG_STEPS
                        c.pointer_event(self._buttons | mask, px, py)
                c.pointer_event(self._buttons, *points[-1])
                self._release(c, held)

            await self._send(build)
        self.pointer = points[-1]

    async def scroll(
        self,
        direction: Direction,
        amount: int = 3,
        x: int | None = None,
        y: int | None = None,
        *,
        modifiers: Keys | None = None,
    ) -> None:
        """Turn the wheel ``amount`` clicks at ``(x, y)`` (default: the pointer's position,
        or the screen centre while it is unknown)."""
        if direction not in _WHEEL:
            raise ActionError(f"direction must be up, down, left or right, not {direction!r}")
        if not isinstance(amount, int) or isinstance(amount, bool) or not 1 <= amount <= 100:
            raise ActionError(f"amount must be an integer from 1 to 100, not {amount!r}")
        held = _keysyms(modifiers)
        if x is None and y is None and self.pointer is None:
            width, height = await self.size()
            px, py = width // 2, height // 2
        else:
            px, py = await self._point(x, y)
        if direction in ("up", "down") and not (self._all_rfb or held or self._buttons):
            await self._orgo.computers.scroll(
                self.computer_id,
                direction,
                amount,
                px,
                py,
            )
        else:
            wheel = _WHEEL[direction]
            if direction in ("left", "right") and self._shift_wheel:
                wheel = _WHEEL["up" if direction == "left" else "down"]
                held = held if _SHIFT in held else (*held, _SHIFT)

            def build(c: RfbClient) -> None:
                self._press(c, held)
                c.pointer_event(self._buttons, px, py)
                for _ in range(amount):
                    c.pointer_event(self._buttons | wheel, px, py)
                    c.pointer_event(self._buttons, px, py)
                self._release(c, held)

            await self._send(build)
        self.pointer = (px, py)

    async def cursor_position(self) -> tuple[int, int]:
        """Where the pointer is: where this desktop last put it, or where the RFB server
        last reported it (PointerPos). ``ActionError`` while neither is known."""
        session = self._session
        if session is not None and session.cursor is not None and self.pointer is None:
            self.pointer = session.cursor
        if self.pointer is None:
            raise ActionError(
                "the pointer position is not known yet: move the pointer or click at a "
                "coordinate first"
            )
        return self.pointer

    # -- keyboard ------------------------------------------------------------------------

    @staticmethod
    def _press(c: RfbClient, keys: tuple[int, ...]) -> None:
        for k in keys:
            c.key_event(k, True)

    @staticmethod
    def _release(c: RfbClient, keys: tuple[int, ...]) -> None:
        for k in reversed(keys):
            c.key_event(k, False)

    async def type(self, text: str) -> None:
        """Type ``text`` (Unicode), one keystroke per character."""
        if not isinstance(text, str) or not text:
            raise ActionError("text must be a non-empty string")
        if not self._all_rfb:
            await self._orgo.computers.type(self.computer_id, text)
            return
        try:
            syms = [keysyms.char_keysym(ch) for ch in text]
        except ValueError as e:
            raise ActionError(str(e)) from None

        def build(c: RfbClient) -> None:
            for sym in syms:
                c.key_event(sym, True)
                c.key_event(sym, False)

        await self._send(build, pointer=False)

    async def key(self, keys: str, *, repeat: int = 1) -> None:
        """Press a key or combo (``Return``, ``ctrl+shift+t``, ``F5``, several separated by
        spaces), ``repeat`` times."""
        if not isinstance(repeat, int) or isinstance(repeat, bool) or not 1 <= repeat <= 100:
            raise ActionError(f"repeat must be an integer from 1 to 100, not {repeat!r}")
        try:
            combos = keysyms.parse_keys(keys)
            names = [keysyms.canonical_combo(c) for c in keys.split()]
        except ValueError as e:
            raise ActionError(str(e)) from None
        if not self._all_rfb:
            for _ in range(repeat):
                for name in names:
                    await self._orgo.computers.key(self.computer_id, name)
            return

        def build(c: RfbClient) -> None:
            for _ in range(repeat):
                for combo in combos:
                    self._press(c, combo)
                    self._release(c, combo)

        await self._send(build, pointer=False)

    async def hold_key(self, keys: str, duration: float) -> None:
        """Hold a key or combo down for ``duration`` seconds (0-100), then release it
        (released also if the caller is cancelled meanwhile)."""
        if (
            isinstance(duration, bool)
            or not isinstance(duration, int | float)
            or not 0 <= duration <= 100
        ):
            raise ActionError(
                f"duration must be a number of seconds from 0 to 100, not {duration!r}"
            )
        combo = _keysyms(keys)
        if not combo:
            raise ActionError("hold_key needs a key, such as 'shift' or 'ctrl+a'")
        try:
            await self._send(lambda c: self._press(c, combo), pointer=False)
            await asyncio.sleep(duration)
        except BaseException:
            # Never leave a key stuck down: cancelled while pressing or holding, the
            # press may have reached the server. A release of a key that is not down is
            # harmless; the original error is what the caller sees.
            with contextlib.suppress(Exception):
                await asyncio.shield(self._send(lambda c: self._release(c, combo), pointer=False))
            raise
        await self._send(lambda c: self._release(c, combo), pointer=False)

    # -- screen and the rest -------------------------------------------------------------

    async def screenshot(self) -> Screenshot:
        """The screen as an image (PNG from both sources); ``width``/``height`` are set."""
        from .._models import Screenshot

        if self._rfb_shots:
            width, height, rgb = await (await self._rfb()).capture()
            return Screenshot(
                data=encode_png(width, height, rgb),
                mime_type="image/png",
                width=width,
                height=height,
            )
        shot = await self._orgo.computers.screenshot(self.computer_id)
        if shot.width is None or shot.height is None:
            try:
                shot.width, shot.height = image_size(shot.data)
            except ValueError as e:
                raise ActionError(f"the screenshot is not a readable image: {e}") from None
        return shot

    async def zoom(self, x0: int, y0: int, x1: int, y1: int) -> Screenshot:
        """The region ``[x0, x1) x [y0, y1)`` of the screen, at native resolution."""
        from .._models import Screenshot

        await self._check(x0, y0)
        width, height = await self.size()
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (x1, y1)):
            raise ActionError("a zoom region is four integers [x0, y0, x1, y1]")
        if not (x0 < x1 <= width and y0 < y1 <= height):
            raise ActionError(
                f"zoom region ({x0}, {y0}, {x1}, {y1}) must have x0 < x1 <= {width} and "
                f"y0 < y1 <= {height}"
            )
        if self._rfb_shots:
            w, h, rgb = await (await self._rfb()).capture(x0, y0, x1 - x0, y1 - y0)
            data = encode_png(w, h, rgb)
        else:
            shot = await self.screenshot()
            if shot.mime_type != "image/png":
                raise ActionError(f"zoom needs PNG screenshots; the API sent {shot.mime_type}")
            try:
                data = crop_png(shot.data, x0, y0, x1, y1)
            except ValueError as e:
                raise ActionError(f"could not crop the screenshot: {e}") from None
            w, h = image_size(data)
        return Screenshot(data=data, mime_type="image/png", width=w, height=h)

    async def wait(self, seconds: float) -> None:
        """Wait ``seconds`` on the computer (``POST /wait``, 60 s per call)."""
        if (
            isinstance(seconds, bool)
            or not isinstance(seconds, int | float)
            or not 0 <= seconds <= 600
        ):
            raise ActionError(
                f"duration must be a number of seconds from 0 to 600, not {seconds!r}"
            )
        remaining = float(seconds)
        while True:
            chunk = min(remaining, _MAX_WAIT)
            await self._orgo.computers.wait(self.computer_id, chunk)
            remaining -= chunk
            if remaining <= 0:
                return

    async def bash(self, command: str, *, timeout: int | None = None) -> BashResult:
        """Run a shell command (``POST /bash``): output (stdout and stderr) and exit code."""
        if not isinstance(command, str) or not command.strip():
            raise ActionError("command must be a non-empty string")
        return await self._orgo.computers.bash(self.computer_id, command, timeout=timeout)
