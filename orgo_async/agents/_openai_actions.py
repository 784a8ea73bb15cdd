"""OpenAI computer actions on a :class:`~orgo_async.agents.Desktop`: shared by the
Responses API helper (:mod:`orgo_async.agents.openai`) and the Agents SDK computer
(:mod:`orgo_async.agents._openai_agents`)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from ._desktop import ActionError, Button, Desktop

__all__ = ["OpenAIActions", "combo", "field"]

# OpenAI's button names -> the desktop's ("wheel" is the middle button).
_BUTTONS: dict[str, Button] = {
    "left": "left",
    "right": "right",
    "wheel": "middle",
    "middle": "middle",
    "back": "back",
    "forward": "forward",
}


def field(obj: Any, name: str, default: Any = None) -> Any:
    """A field of an item given as a dict or as an ``openai`` SDK object."""
    if isinstance(obj, Mapping):
        return obj.get(name, default)
    return getattr(obj, name, default)


def combo(keys: Sequence[str]) -> str:
    """``["CTRL", "C"]`` -> ``ctrl+c``: one combo, pressed together. A letter held with
    other keys is lower-cased (``CTRL+C`` would otherwise be Ctrl+Shift+C)."""
    if isinstance(keys, str) or not keys or not all(isinstance(k, str) and k for k in keys):
        raise ActionError(f"keys must be a non-empty list of key names, not {keys!r}")
    names = [k.lower() if len(k) == 1 and len(keys) > 1 and k.isalpha() else k for k in keys]
    return "+".join(names)


class OpenAIActions:
    """OpenAI computer actions (``click``, ``scroll``, ``keypress`` ...) on a
    :class:`~orgo_async.agents.Desktop`.

    ``scroll_unit`` is how many pixels of ``scroll_x``/``scroll_y`` make one wheel click
    (the model speaks pixels, a desktop scrolls in clicks; any non-zero amount is at least
    one click); ``wait_seconds`` is how long ``wait`` waits (the action has no duration).
    """

    def __init__(self, desktop: Desktop, *, scroll_unit: int = 100, wait_seconds: float = 1.0):
        if scroll_unit < 1:
            raise ValueError("scroll_unit must be >= 1")
        self.desktop = desktop
        self.scroll_unit = scroll_unit
        self.wait_seconds = wait_seconds

    async def screenshot(self) -> str:
        """The screen as base64 PNG."""
        return (await self.desktop.screenshot()).b64()

    async def click(
        self, x: int, y: int, button: str = "left", keys: Sequence[str] | None = None
    ) -> None:
        mapped = _BUTTONS.get(button)
        if mapped is None:
            raise ActionError(f"unknown button {button!r} (left, right, wheel, back, forward)")
        await self.desktop.click(x, y, button=mapped, modifiers=keys or None)

    async def double_click(self, x: int, y: int, keys: Sequence[str] | None = None) -> None:
        await self.desktop.click(x, y, count=2, modifiers=keys or None)

    async def scroll(
        self, x: int, y: int, scroll_x: int, scroll_y: int, keys: Sequence[str] | None = None
    ) -> None:
        for amount, negative, positive in ((scroll_y, "up", "down"), (scroll_x, "left", "right")):
            if not isinstance(amount, int) or isinstance(amount, bool):
                raise ActionError(f"scroll distances must be integers, not {amount!r}")
            if amount:
                clicks = min(100, math.ceil(abs(amount) / self.scroll_unit))
                direction: Any = negative if amount < 0 else positive
                await self.desktop.scroll(direction, clicks, x, y, modifiers=keys or None)
        if not scroll_x and not scroll_y:
            await self.desktop.move(x, y)

    async def type(self, text: str) -> None:
        await self.desktop.type(text)

    async def wait(self) -> None:
        await self.desktop.wait(self.wait_seconds)

    async def move(self, x: int, y: int, keys: Sequence[str] | None = None) -> None:
        await self.desktop.move(x, y, modifiers=keys or None)

    async def keypress(self, keys: Sequence[str]) -> None:
        await self.desktop.key(combo(keys))

    async def drag(self, path: Sequence[Any], keys: Sequence[str] | None = None) -> None:
        points = [
            (p[0], p[1]) if isinstance(p, list | tuple) else (field(p, "x"), field(p, "y"))
            for p in path
        ]
        await self.desktop.drag(points, modifiers=keys or None)

    async def run(self, action: Any) -> str | None:
        """Run one action (a dict or the SDK's object); a ``screenshot`` returns base64."""
        kind = field(action, "type")
        keys = field(action, "keys")
        if kind == "screenshot":
            return await self.screenshot()
        if kind == "click":
            await self.click(
                field(action, "x"), field(action, "y"), field(action, "button", "left"), keys
            )
        elif kind == "double_click":
            await self.double_click(field(action, "x"), field(action, "y"), keys)
        elif kind == "scroll":
            await self.scroll(
                field(action, "x"), field(action, "y"),
                field(action, "scroll_x", 0), field(action, "scroll_y", 0), keys,
            )  # fmt: skip
        elif kind == "type":
            await self.type(field(action, "text"))
        elif kind == "wait":
            await self.wait()
        elif kind == "move":
            await self.move(field(action, "x"), field(action, "y"), keys)
        elif kind == "keypress":
            await self.keypress(keys)
        elif kind == "drag":
            await self.drag(field(action, "path") or [], keys)
        else:
            raise ActionError(f"unknown computer action type {kind!r}")
        return None
