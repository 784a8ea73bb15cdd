"""Relay sessions leave nothing behind in the server process: after many sessions of
each kind (normal ends, browsers vanishing, rotations) no channel, WebSocket or task
of theirs is alive."""

from __future__ import annotations

import asyncio
import gc

import pytest
import websockets
from websockets.typing import Subprotocol

from orgo_async.connection import Terminal, Vnc
from orgo_async.testing import FakeOrgo

from ._apps import Probe, build_app
from .conftest import UvicornServer, wait_for
from .test_app import _task_names
from .test_vnc_relay import rfb_session

pytestmark = pytest.mark.slow


def _alive(kind: type) -> int:
    gc.collect()
    return sum(1 for o in gc.get_objects() if isinstance(o, kind))


async def test_many_sessions_leave_no_channel_socket_or_task(fake_orgo: FakeOrgo) -> None:
    from websockets.asyncio.client import ClientConnection

    ws = fake_orgo.add_workspace("w")
    c = fake_orgo.add_computer(ws.id, "agent", resolution="64x48x24")
    probe = Probe()
    app = build_app(fake_orgo.api_key, fake_orgo.base_url, probe=probe)
    async with UvicornServer(app) as srv:
        base = f"{srv.ws_url}/computers/{c.id}"
        tasks_before = _task_names()
        for i in range(12):
            browser = await websockets.connect(f"{base}/terminal")
            await browser.send('{"type":"input","data":"echo hi\\r"}')
            await browser.recv()
            if i % 3 == 0:
                browser.transport.abort()  # vanished
            else:
                await browser.close()
            browser = await websockets.connect(f"{base}/vnc", subprotocols=[Subprotocol("binary")])
            await rfb_session(browser)
            if i % 4 == 0:
                fake_orgo.rotate_password(c.id)  # the relay closes 1012
                with pytest.raises(websockets.ConnectionClosed):
                    async with asyncio.timeout(10):
                        await browser.recv()
            await browser.close()
        await wait_for(lambda: sum(r.browser_code is not None or r.code is not None
                                   for r in probe.relays) == 24)  # fmt: skip
        # (The emulator's handler of the app's pooled REST connection stays: not ours.)
        await wait_for(lambda: _task_names() <= tasks_before)
        assert _alive(Terminal) == 0
        assert _alive(Vnc) == 0
        # Only the test's own browser sockets may remain (closed, not yet collected).
        relay_side = [
            o for o in gc.get_objects()
            if isinstance(o, ClientConnection) and "desktops" in str(getattr(o.request, "path", ""))
        ]  # fmt: skip
        assert relay_side == []
