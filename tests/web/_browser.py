"""What the relay tests check from the browser's side of a socket (a ``websockets``
client)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import Callable

import pytest
import websockets
from websockets.asyncio.client import ClientConnection


async def read_until(ws: ClientConnection, pattern: str, timeout: float = 10) -> str:
    """Terminal output text up to and including ``pattern`` (a regex)."""
    text = ""
    async with asyncio.timeout(timeout):
        while not re.search(pattern, text):
            msg = json.loads(await ws.recv())
            if msg["type"] == "output":
                text += msg["data"]
    return text


async def shell_pid(ws: ClientConnection) -> int:
    """The pid of the shell behind a terminal relay (it is asked with ``echo``)."""
    await ws.send(json.dumps({"type": "input", "data": "echo PID=$$\r"}))
    match = re.search(r"PID=(\d+)", await read_until(ws, r"PID=\d+"))
    assert match is not None
    return int(match[1])


async def closed_with(ws: ClientConnection, timeout: float = 15) -> tuple[int, str]:
    """Read until the relay closes the socket; its close code and reason."""
    with pytest.raises(websockets.ConnectionClosed) as closed:
        async with asyncio.timeout(timeout):
            while True:
                await ws.recv()
    rcvd = closed.value.rcvd
    assert rcvd is not None, "closed without a close frame"
    return rcvd.code, rcvd.reason


async def settled(value: Callable[[], int], settle: float = 0.6, timeout: float = 20) -> int:
    """Wait until ``value()`` is above 0 and stops changing for ``settle`` seconds;
    return it."""
    async with asyncio.timeout(timeout):
        last = value()
        while True:
            await asyncio.sleep(settle)
            now = value()
            if now == last and now > 0:
                return int(now)
            last = now


async def drain(ws: ClientConnection) -> None:
    """Read and drop frames (the browser reading again) until the socket closes."""
    with contextlib.suppress(websockets.ConnectionClosed):
        async for _ in ws:
            pass
