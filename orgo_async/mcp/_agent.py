"""The agent-surface tools: what :class:`orgo_async.agents.Desktop` adds to the REST
actions (mouse down/up, triple and modifier clicks, held keys, horizontal scrolling, the
cursor position, zoomed regions), mostly as RFB input over the websockify channel.

A pressed button or the pointer position outlives one tool call, so each computer keeps
one :class:`~orgo_async.agents.Desktop` (and its RFB session) for as long as the server
runs; :meth:`AgentTools.aclose` closes them all.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Literal

from mcp.server.mcpserver.utilities.types import Image

from ._tools import call

if TYPE_CHECKING:
    from .. import AsyncOrgo
    from ..agents import Desktop

__all__ = ["AGENT_TOOLS", "AgentTools"]

_Button = Literal["left", "right", "middle", "back", "forward"]


class AgentTools:
    """Tools over one :class:`~orgo_async.agents.Desktop` per computer."""

    def __init__(self, orgo: AsyncOrgo) -> None:
        self.orgo = orgo
        self._desktops: dict[str, Desktop] = {}
        self._lock = asyncio.Lock()

    async def _desktop(self, computer_id: str) -> Desktop:
        async with self._lock:
            desktop = self._desktops.get(computer_id)
            if desktop is None:
                from ..agents import Desktop

                desktop = await call(Desktop(self.orgo, computer_id).open())
                self._desktops[computer_id] = desktop
            return desktop

    async def aclose(self) -> None:
        """Close every RFB session opened by these tools."""
        desktops, self._desktops = list(self._desktops.values()), {}
        await asyncio.gather(*(d.aclose() for d in desktops), return_exceptions=True)

    async def mouse_down(
        self, computer_id: str, x: int | None = None, y: int | None = None, button: _Button = "left"
    ) -> dict[str, Any]:
        """Press `button` at (x, y) (default: where the pointer is) and keep it down until
        mouse_up."""
        desktop = await self._desktop(computer_id)
        await call(desktop.mouse_down(x, y, button=button))
        return _pointer(desktop)

    async def mouse_up(
        self, computer_id: str, x: int | None = None, y: int | None = None, button: _Button = "left"
    ) -> dict[str, Any]:
        """Release `button` at (x, y) (default: where the pointer is)."""
        desktop = await self._desktop(computer_id)
        await call(desktop.mouse_up(x, y, button=button))
        return _pointer(desktop)

    async def triple_click(self, computer_id: str, x: int, y: int) -> dict[str, Any]:
        """Click three times at (x, y) with the left button (selects a line or paragraph)."""
        desktop = await self._desktop(computer_id)
        await call(desktop.click(x, y, count=3))
        return _pointer(desktop)

    async def modifier_click(
        self,
        computer_id: str,
        x: int,
        y: int,
        modifiers: str,
        button: _Button = "left",
        count: Literal[1, 2, 3] = 1,
    ) -> dict[str, Any]:
        """Click `count` times at (x, y) while holding `modifiers` ("ctrl", "shift",
        "ctrl+shift", "alt", "super")."""
        desktop = await self._desktop(computer_id)
        await call(desktop.click(x, y, button=button, count=count, modifiers=modifiers))
        return _pointer(desktop)

    async def hold_key(self, computer_id: str, keys: str, duration: float) -> dict[str, Any]:
        """Hold a key or combination ("shift", "ctrl+a") down for `duration` seconds
        (0-100), then release it."""
        desktop = await self._desktop(computer_id)
        await call(desktop.hold_key(keys, duration))
        return {"keys": keys, "held_seconds": duration}

    async def scroll_horizontal(
        self,
        computer_id: str,
        direction: Literal["left", "right"],
        amount: int = 3,
        x: int | None = None,
        y: int | None = None,
    ) -> dict[str, Any]:
        """Scroll sideways `amount` wheel clicks at (x, y) (default: where the pointer is)."""
        desktop = await self._desktop(computer_id)
        await call(desktop.scroll(direction, amount, x, y))
        return _pointer(desktop)

    async def cursor_position(self, computer_id: str) -> dict[str, Any]:
        """Where the pointer is (after a click, move or drag made through these tools)."""
        desktop = await self._desktop(computer_id)
        x, y = await call(desktop.cursor_position())
        return {"x": x, "y": y}

    async def zoom(self, computer_id: str, x0: int, y0: int, x1: int, y1: int) -> list[Any]:
        """The screen region [x0, x1) x [y0, y1) at native resolution, as an image."""
        desktop = await self._desktop(computer_id)
        shot = await call(desktop.zoom(x0, y0, x1, y1))
        return [
            Image(data=shot.data, format="png"),
            f"zoom {shot.width}x{shot.height} at {x0},{y0}",
        ]


def _pointer(desktop: Desktop) -> dict[str, Any]:
    x, y = desktop.pointer if desktop.pointer is not None else (None, None)
    return {"success": True, "x": x, "y": y}


# (tool name, method), in the order tools are listed; every one changes the desktop
# except the two that only look.
AGENT_TOOLS: tuple[tuple[str, str], ...] = (
    ("mouse_down", "mouse_down"),
    ("mouse_up", "mouse_up"),
    ("triple_click", "triple_click"),
    ("modifier_click", "modifier_click"),
    ("hold_key", "hold_key"),
    ("scroll_horizontal", "scroll_horizontal"),
    ("cursor_position", "cursor_position"),
    ("zoom", "zoom"),
)
