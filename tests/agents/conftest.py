"""Fixtures for the agent adapters: the emulator with instant timings, a client, a computer,
and helpers reading the emulator's action log (the oracle every adapter test asserts)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from orgo_async import AsyncOrgo
from orgo_async.testing import FakeComputer, FakeOrgo, Timings


def timings() -> Timings:
    """Instant transitions; /wait sleeps wait_scale x duration, and zero keeps the tests
    fast while the log still records it. A fresh object: tests may change it."""
    return Timings(create=0.0, boot=0.0, stop=0.0, restart=0.0, wait_scale=0.0)


# RFB button masks and keysyms as the emulator logs them (RFC 6143, X11 keysymdef.h).
LEFT, MIDDLE, RIGHT = 1, 2, 4
WHEEL_UP, WHEEL_DOWN, WHEEL_LEFT, WHEEL_RIGHT = 8, 16, 32, 64
CTRL, SHIFT, ALT = 0xFFE3, 0xFFE1, 0xFFE9
BACK_KEY, FORWARD_KEY = 0x1008FF26, 0x1008FF27


@dataclass
class Env:
    fake: FakeOrgo
    orgo: AsyncOrgo
    computer: FakeComputer

    @property
    def cid(self) -> str:
        return self.computer.id

    def mark(self) -> int:
        """The current length of the action log (pass to :meth:`log`)."""
        return len(self.computer.actions)

    def log(self, since: int = 0, *, screenshots: bool = False) -> list[tuple[str, Any]]:
        """``(name, body)`` of the actions since ``since``; RFB events compacted to
        ``("ptr", mask, x, y)`` and ``("key", down, keysym)``."""
        out: list[tuple[str, Any]] = []
        for a in self.computer.actions[since:]:
            if a.name == "vnc_pointer":
                out.append(("ptr", (a.body["buttons"], a.body["x"], a.body["y"])))
            elif a.name == "vnc_key":
                out.append(("key", (a.body["down"], a.body["key"])))
            elif a.name != "screenshot" or screenshots:
                out.append((a.name, a.body))
        return out


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    async with FakeOrgo(timings=timings()) as fake:
        ws = fake.add_workspace("agents")
        computer = fake.add_computer(ws.id, "agent-1")
        async with fake.client(max_retries=0) as orgo:
            yield Env(fake, orgo, computer)


def click(x: int, y: int, mask: int = LEFT) -> list[tuple[str, Any]]:
    """The RFB events of one click at (x, y): move there, press, release."""
    return [("ptr", (0, x, y)), ("ptr", (mask, x, y)), ("ptr", (0, x, y))]


def nav(x: int, y: int, key: int) -> list[tuple[str, Any]]:
    """Back/forward at (x, y): move there, then the XF86Back/XF86Forward key."""
    return [("ptr", (0, x, y)), ("key", (True, key)), ("key", (False, key))]


def wheel(
    x: int, y: int, mask: int, clicks: int, *, held: int | None = None
) -> list[tuple[str, Any]]:
    """A scroll at (x, y) over RFB: optionally a held key around move + clicks."""
    events: list[tuple[str, Any]] = [("ptr", (0, x, y))]
    for _ in range(clicks):
        events += [("ptr", (mask, x, y)), ("ptr", (0, x, y))]
    if held is not None:
        events = [("key", (True, held)), *events, ("key", (False, held))]
    return events
