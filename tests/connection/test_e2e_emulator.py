"""End to end against the emulator (``orgo_async.testing.FakeOrgo``): every channel through
a real client, a real aiohttp server, real WebSockets and a real shell."""

from __future__ import annotations

import asyncio
import struct
import wave
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from orgo_async import (
    AsyncOrgo,
    ComputerGoingAwayError,
    SessionLostError,
    WaitTimeoutError,
)
from orgo_async._protocol import events as ev
from orgo_async._protocol.close_codes import ReconnectPolicy
from orgo_async.connection import Connection
from orgo_async.testing import FakeOrgo, Timings
from tests.conftest import eventually

FAST = ReconnectPolicy(initial=0.02, cap=0.1, max_attempts=20, jitter=0)


@pytest.fixture
async def fake() -> AsyncIterator[FakeOrgo]:
    async with FakeOrgo(allow_exec=True, timings=Timings(restart=0.1)) as f:
        yield f


@pytest.fixture
async def orgo(fake: FakeOrgo) -> AsyncIterator[AsyncOrgo]:
    async with fake.client() as client:
        yield client


@pytest.fixture
async def conn(fake: FakeOrgo, orgo: AsyncOrgo) -> Connection:
    ws = fake.add_workspace("e2e")
    c = fake.add_computer(ws.id, "agent-1")
    conn = await orgo.connect(c.id)
    conn.options = conn.options.with_changes(reconnect=FAST, close_timeout=1.0)
    return conn


async def test_urls_point_at_the_emulator(fake: FakeOrgo, conn: Connection) -> None:
    assert conn.connection_url.startswith(fake.origin + "/desktops/")
    assert conn.events_url.get().startswith("ws://")
    assert conn.proxy_url("health") == f"{fake.base_url}/desktops/{conn.instance_id}/proxy/health"
    assert (
        conn.token is not None and conn.token.get() == fake.computer(conn.computer_id).vnc_password
    )


async def test_terminal_run(conn: Connection) -> None:
    async with conn.terminal(cols=120, rows=40) as term:
        result = await term.run("echo hello-$((20 + 22))", timeout=20)
        assert result.output == "hello-42\n" and result.exit_code == 0
        failed = await term.run("false", timeout=20)
        assert failed.exit_code == 1
        size = await term.run("stty size", timeout=20)
        assert size.output.strip() == "40 120"
        await term.resize(100, 30)
        size = await term.run("stty size", timeout=20)
        assert size.output.strip() == "30 100"


async def test_terminal_restart_is_a_typed_loss(
    fake: FakeOrgo, orgo: AsyncOrgo, conn: Connection
) -> None:
    async with conn.terminal() as term:
        assert (await term.run("echo up", timeout=20)).output == "up\n"
        await orgo.computers.restart(conn.computer_id)
        with pytest.raises((ComputerGoingAwayError, SessionLostError)):
            await term.run("echo again", timeout=20)


async def test_audio_record(conn: Connection, tmp_path: Path) -> None:
    async with conn.audio(sample_rate=48000, channels=2) as audio:
        assert (audio.sample_rate, audio.channels) == (48000, 2)
        rec = await audio.record(tmp_path / "out.wav", seconds=0.2)
    assert rec.frames == 9600
    with wave.open(str(tmp_path / "out.wav"), "rb") as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (48000, 2, 2)
        assert w.getnframes() == 9600
        pcm = w.readframes(9600)
    samples = struct.unpack(f"<{len(pcm) // 2}h", pcm)
    assert max(samples) > 1000  # the emulator plays a tone, not silence


async def test_audio_survives_a_restart(fake: FakeOrgo, orgo: AsyncOrgo, conn: Connection) -> None:
    async with conn.audio() as audio:
        assert len(await audio.read()) % 960 == 0
        old = conn.token
        await orgo.computers.restart(conn.computer_id)  # 1001, then the password rotates
        async with asyncio.timeout(20):
            while audio.reconnects == 0:
                await audio.read()
        assert len(await audio.read()) > 0
        assert conn.token != old
        assert conn.token is not None
        assert conn.token.get() == fake.computer(conn.computer_id).vnc_password
    path = f"/computers/{conn.computer_id}/vnc-password"
    assert len(fake.requests_to("GET", path)) == 1


async def test_rotation_mid_session_refreshes_once(fake: FakeOrgo, conn: Connection) -> None:
    async with conn.events(["window_focus"]) as events:
        fake.rotate_password(conn.computer_id)  # open sockets close with 4401
        await eventually(lambda: events.reconnects > 0, timeout=20)
        assert events.subscriptions == ["window_focus"]
    path = f"/computers/{conn.computer_id}/vnc-password"
    assert len(fake.requests_to("GET", path)) == 1


async def test_events_from_actions(orgo: AsyncOrgo, conn: Connection) -> None:
    async with conn.events(["window_focus", "process_start"]) as events:
        await orgo.computers.click(conn.computer_id, 100, 100)
        await orgo.computers.bash(conn.computer_id, "true")
        got: list[Any] = []
        async with asyncio.timeout(20):
            while not {"window_focus", "process_start"} <= {e.type for e in got}:
                got.append(await events.next())
    focus = next(e for e in got if isinstance(e, ev.WindowFocus))
    assert focus.data.window_id and focus.data.title and focus.timestamp is not None
    proc = next(e for e in got if isinstance(e, ev.ProcessStart))
    assert proc.data.name == "true" and isinstance(proc.data.pid, int)


async def test_events_resubscribe_after_restart(orgo: AsyncOrgo, conn: Connection) -> None:
    async with conn.events(["process_start"]) as events:
        await orgo.computers.restart(conn.computer_id)
        await orgo.computers.wait_until(conn.computer_id, "running", timeout=20)
        await eventually(lambda: events.reconnects > 0, timeout=20)
        await orgo.computers.bash(conn.computer_id, "true")
        event = await events.next(timeout=20)
    assert isinstance(event, ev.ProcessStart)


async def test_vnc_handshake(conn: Connection) -> None:
    async with conn.vnc() as vnc:
        assert await vnc.read() == b"RFB 003.008\n"
        await vnc.write(b"RFB 003.008\n")
        security = await vnc.read()
        count = security[0]
        assert count >= 1 and 2 in security[1 : 1 + count]  # VNC authentication offered


async def test_vnc_bridge(conn: Connection) -> None:
    async with conn.vnc_bridge() as bridge:
        reader, writer = await asyncio.open_connection(bridge.host, bridge.port)
        try:
            async with asyncio.timeout(10):
                assert await reader.readexactly(12) == b"RFB 003.008\n"
                writer.write(b"RFB 003.008\n")
                await writer.drain()
                count = (await reader.readexactly(1))[0]
                assert 2 in await reader.readexactly(count)
        finally:
            writer.close()
            await writer.wait_closed()


async def test_proxy_health_and_wait_ready(
    fake: FakeOrgo, orgo: AsyncOrgo, conn: Connection
) -> None:
    health = await conn.proxy.get("health")
    assert health.status == 200
    ready = await conn.wait_ready(timeout=10)
    assert ready.status == 200
    await orgo.computers.stop(conn.computer_id)
    await orgo.computers.wait_until(conn.computer_id, "stopped", timeout=20)
    with pytest.raises(WaitTimeoutError):
        await conn.wait_ready(timeout=0.5, interval=0.05)
