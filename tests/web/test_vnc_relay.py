"""The VNC relay against the emulator's websockify (its built-in RFB 3.8 server, which
insists on VNC authentication with the computer's current password). The "browser" is
a ``websockets`` client running the SDK's sans-I/O RFB client with *no password*: it can
only get a session because the relay authenticated upstream."""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
import websockets
from websockets.asyncio.client import ClientConnection

from orgo_async._protocol.rfb import FramebufferUpdate, RfbClient, ServerInit
from orgo_async.testing import FakeOrgo

from ._apps import Probe, build_app
from ._browser import closed_with, drain, settled
from .conftest import TcpCounter, UvicornServer, wait_for

pytestmark = pytest.mark.slow


@dataclass
class Env:
    fake: FakeOrgo
    srv: UvicornServer
    probe: Probe
    cid: str
    counter: TcpCounter

    def connect(self, cid: str | None = None, **kw: Any) -> Any:
        kw.setdefault("subprotocols", ["binary"])
        kw.setdefault("max_size", None)
        url = f"{self.srv.ws_url}/computers/{cid or self.cid}/vnc"
        return websockets.connect(url, open_timeout=10, **kw)


@pytest.fixture
async def env(fake_orgo: FakeOrgo, tcp_counter: TcpCounter) -> AsyncIterator[Env]:
    ws = fake_orgo.add_workspace("w")
    c = fake_orgo.add_computer(ws.id, "agent", resolution="320x200x24")
    probe = Probe()
    app = build_app(fake_orgo.api_key, fake_orgo.base_url, probe=probe,
                    ws_origin=f"http://127.0.0.1:{tcp_counter.port}")  # fmt: skip
    async with UvicornServer(app) as srv:
        yield Env(fake_orgo, srv, probe, c.id, tcp_counter)


async def rfb_session(ws: ClientConnection, timeout: float = 10) -> tuple[RfbClient, ServerInit]:
    """Handshake as noVNC would, with no password at all."""
    client = RfbClient(None)
    async with asyncio.timeout(timeout):
        while not client.ready:
            data = await ws.recv()
            assert isinstance(data, bytes)
            client.receive_data(data)
            if client.error is not None:
                raise client.error
            out = client.data_to_send()
            if out:
                await ws.send(out)
    assert client.server_init is not None
    return client, client.server_init


async def next_update(
    ws: ClientConnection, client: RfbClient, timeout: float = 10
) -> FramebufferUpdate:
    async with asyncio.timeout(timeout):
        while True:
            for event in client.events_received():
                if isinstance(event, FramebufferUpdate):
                    return event
            data = await ws.recv()
            assert isinstance(data, bytes)
            client.receive_data(data)
            if client.error is not None:
                raise client.error


async def test_browser_gets_a_session_without_any_password(env: Env) -> None:
    password = env.fake.computer(env.cid).vnc_password
    received = b""
    async with env.connect() as ws:
        assert ws.subprotocol == "binary"
        client, init = await rfb_session(ws)
        assert (init.width, init.height, init.name) == (320, 200, "orgo-fake")
        assert init.version == (3, 8)
        client.request_update(incremental=False)
        await ws.send(client.data_to_send())
        update = await next_update(ws, client)
        assert update.rects == ((0, 0, 320, 200),)
        # Input reaches the desktop through the relay.
        client.key_event(0x61, True)
        client.pointer_event(1, 10, 20)
        await ws.send(client.data_to_send())
        computer = env.fake.computer(env.cid)
        await wait_for(
            lambda: [a.name for a in computer.actions][-2:] == ["vnc_key", "vnc_pointer"]
        )
        assert computer.actions[-1].body == {"buttons": 1, "x": 10, "y": 20}
        received = client.framebuffer.data if client.framebuffer else b""  # type: ignore[assignment]
    assert password.encode() not in received
    stats = env.probe.relays[0]
    await wait_for(lambda: stats.browser_code is not None)
    assert stats.to_browser >= 320 * 200 * 4 and stats.from_browser > 0
    await wait_for(lambda: env.counter.live == 0)  # the browser left: the upstream went too


@pytest.mark.parametrize("minor", [3, 7, 8])
async def test_older_rfb_versions_are_offered_no_auth_too(env: Env, minor: int) -> None:
    async with env.connect() as ws:
        assert await ws.recv() == b"RFB 003.008\n"
        await ws.send(b"RFB 003.%03d\n" % minor)
        if minor == 3:
            assert await ws.recv() == struct.pack(">I", 1)  # the server decides: None
        else:
            assert await ws.recv() == bytes([1, 1])  # one type offered: None
            await ws.send(b"\x01")
            if minor == 8:
                assert await ws.recv() == struct.pack(">I", 0)
        await ws.send(b"\x01")  # ClientInit, shared
        init = await ws.recv()
        assert isinstance(init, bytes) and struct.unpack(">HH", init[:4]) == (320, 200)


async def test_password_rotation_closes_1012_and_the_reconnect_works(env: Env) -> None:
    cid = env.cid
    fetched = len(env.fake.requests_to("GET", f"/computers/{cid}/vnc-password"))
    async with env.connect() as ws:
        await rfb_session(ws)
        env.fake.rotate_password(cid)  # the upstream closes 4401
        code, reason = await closed_with(ws)
    assert code == 1012 and "restarted" in reason
    assert len(env.fake.requests_to("GET", f"/computers/{cid}/vnc-password")) == fetched + 1
    async with env.connect() as ws:  # the page reconnects; still no password needed
        client, _ = await rfb_session(ws)
        client.request_update(incremental=False, width=8, height=8)
        await ws.send(client.data_to_send())
        assert (await next_update(ws, client)).rects == ((0, 0, 8, 8),)


async def test_restart_keeps_the_browser_until_the_desktop_is_back(env: Env) -> None:
    async with env.fake.client() as orgo, env.connect() as ws:
        await rfb_session(ws)
        env.fake.timings.restart = 0.8
        await orgo.computers.restart(env.cid)  # 1001, the password rotates, back in 0.8 s
        code, _ = await closed_with(ws)
        assert env.fake.computer(env.cid).status == "running"
    assert code == 1012


async def test_protocol_violations_by_the_browser(env: Env) -> None:
    async with env.connect() as ws:
        await ws.recv()
        await ws.send("RFB 003.008\n")  # text frame
        assert (await closed_with(ws))[0] == 1003
    async with env.connect() as ws:
        await ws.recv()
        await ws.send(b"HTTP/1.1 200\n")
        assert (await closed_with(ws))[0] == 1008
    async with env.connect() as ws:
        await ws.recv()
        await ws.send(b"RFB 003.008\n")
        await ws.recv()
        await ws.send(b"\x02")  # wants VNC authentication: not offered
        assert (await closed_with(ws))[0] == 1008
    async with env.connect() as ws:
        _client, _ = await rfb_session(ws)
        await ws.send("text after the handshake")
        assert (await closed_with(ws))[0] == 1003
    async with env.connect() as ws:
        await rfb_session(ws)
        await ws.send(bytes(5 << 20))
        assert (await closed_with(ws))[0] == 1009
    await wait_for(lambda: env.counter.live == 0)


async def test_unknown_computer_closes_4404(env: Env) -> None:
    async with env.connect(cid="00000000-0000-4000-8000-00000000dead") as ws:
        code, _reason = await closed_with(ws)
    assert code == 4404


async def test_vnc_server_ending_the_session_closes_1000(env: Env) -> None:
    async with env.connect() as ws:
        await rfb_session(ws)
        await ws.send(b"\xff")  # an unknown client message: the RFB server hangs up
        code, _ = await closed_with(ws)
    assert code == 1000


async def test_a_browser_that_stops_reading_pushes_back_to_the_desktop(env: Env) -> None:
    # 20,000 update requests of 64x64 pixels would make 320 MB of framebuffer data. A
    # browser that reads none of it must stall the relay, not fill the server's memory.
    async with env.connect(max_queue=1, compression=None) as ws:
        client, _ = await rfb_session(ws)
        stats = env.probe.relays[0]
        ws.transport.pause_reading()
        for _ in range(20_000):
            client.request_update(incremental=False, width=64, height=64)

        async def flood() -> None:
            data = client.data_to_send()
            for i in range(0, len(data), 100):  # ten requests a frame
                await ws.send(data[i : i + 100])

        sender = asyncio.create_task(flood())
        reader: asyncio.Task[None] | None = None
        try:
            plateau = await settled(lambda: stats.to_browser)
            assert plateau < 48 << 20, "the relay kept reading for a browser that reads nothing"
            await asyncio.sleep(0.5)
            assert stats.to_browser == plateau
            ws.transport.resume_reading()
            reader = asyncio.create_task(drain(ws))
            await wait_for(lambda: stats.to_browser > plateau + (1 << 20), timeout=20)
        finally:
            for task in (sender, reader):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task


async def test_upstream_dropped_during_the_handshake_is_retried_unseen(env: Env) -> None:
    # websockify drops (1011) after its first two frames: the channel reconnects by
    # itself and the relay starts the RFB handshake again; the browser never notices.
    env.fake.add_ws_fault(env.cid, "websockify", close_code=1011, after_frames=2)
    async with env.connect() as ws:
        client, _ = await rfb_session(ws)
        client.request_update(incremental=False, width=4, height=4)
        await ws.send(client.data_to_send())
        assert (await next_update(ws, client)).rects == ((0, 0, 4, 4),)
    assert env.fake.computer(env.cid).ws_faults == []  # the fault was taken
    assert env.counter.accepted == 2  # the dropped socket and its replacement
    await wait_for(lambda: env.counter.live == 0)


async def test_upstream_dropped_mid_session_tells_the_browser_to_reconnect(env: Env) -> None:
    async with env.connect() as ws:
        await rfb_session(ws)
        env.fake.add_ws_fault(env.cid, "websockify", close_code=1011, after_frames=0)
        # The drop: the emulator closes this computer's sockets when it stops ...
        env.fake.computer(env.cid).set_status("stopping")
        env.fake.computer(env.cid).set_status("running")  # ... and it is back at once
        code, _ = await closed_with(ws)
    # The first reconnect hit the fault; the next one worked: a new RFB session.
    assert code == 1012
    await wait_for(lambda: env.counter.live == 0)


async def test_browser_vanishing_without_a_close_frame_closes_the_upstream(env: Env) -> None:
    ws = await env.connect()
    await rfb_session(ws)
    await wait_for(lambda: env.counter.live == 1)
    ws.transport.abort()  # the tab crashed: no closing handshake
    await wait_for(lambda: env.counter.live == 0)
    stats = env.probe.relays[0]
    await wait_for(lambda: stats.browser_code is not None)
    assert stats.browser_code in (1005, 1006) and stats.code is None  # uvicorn says 1005
