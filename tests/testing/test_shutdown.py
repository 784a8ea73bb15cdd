"""``FakeOrgo.close()`` with WebSockets still open: prompt, every socket told 1001
(going away), every shell gone.

aiohttp's shutdown stops reading from connections before its ``on_shutdown`` hooks run,
so a WebSocket close started there never saw the client's answer and waited out the
whole close timeout: 10 s per close() of an emulator with any open socket. Each test
here fails within 2 s with a message saying so, not through the per-test timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from orgo_async.testing import FakeOrgo
from tests.conftest import listen, pid_exists

pytestmark = pytest.mark.skipif(os.name != "posix", reason="the emulator's PTY is POSIX only")

CHANNELS = ("terminal", "audio", "events", "websockify")
BOUND = 2.0  # far above a prompt close (milliseconds), far below the 10 s stall


async def _close_promptly(fake: FakeOrgo, bound: float = BOUND) -> None:
    try:
        async with asyncio.timeout(bound):
            await fake.close()
    except TimeoutError:
        pytest.fail(
            f"FakeOrgo.close() took over {bound:g} s with WebSockets open: "
            "their close handshakes or handlers waited out a timeout"
        )


async def _server_close_code(ws: ClientConnection) -> int | None:
    """Read until the server closed; the code it sent (``None``: dropped without one)."""
    with contextlib.suppress(ConnectionClosed):
        async with asyncio.timeout(BOUND):
            while True:
                await ws.recv()
    return ws.close_code if ws.protocol.close_rcvd is not None else None


async def _shell_pid(ws: ClientConnection) -> int:
    """The PID of the shell behind a raw terminal socket."""
    await ws.send(json.dumps({"type": "input", "data": "echo PID=$((1000000+$$))\r"}))
    seen = ""
    async with asyncio.timeout(BOUND * 2):  # a shell start on a loaded box
        while not (m := re.search(r"PID=1(\d{6})", seen)):
            frame = json.loads(await ws.recv())
            seen += frame.get("data", "")
    return int(m.group(1))


@pytest.fixture
async def fake() -> AsyncIterator[FakeOrgo]:
    fake = FakeOrgo()  # the default timings: what a user gets
    await fake.start()
    try:
        yield fake
    finally:
        await fake.close()  # a no-op after the test's own close


async def test_close_with_raw_and_sdk_sockets_open_is_prompt(fake: FakeOrgo) -> None:
    ws = fake.add_workspace("w")
    raw_target = fake.add_computer(ws.id, "raw")
    sdk_target = fake.add_computer(ws.id, "sdk")
    base = f"ws://{fake.hostname}/desktops/{raw_target.instance_id}/ws/"
    async with contextlib.AsyncExitStack() as stack:
        # Two of each channel over a raw client, all reading except one audio socket,
        # which stalls (its buffers fill up and it can no longer take a close frame).
        # close_timeout: the stalled client only notices the dropped connection when
        # it reads again, so its own close at the end would wait for an answer.
        raw = {
            (ch, i): await stack.enter_async_context(
                connect(
                    f"{base}{ch}?token={raw_target.vnc_password}", max_size=None, close_timeout=0.1
                )
            )
            for ch in CHANNELS
            for i in range(2)
        }
        pids = [await _shell_pid(raw[("terminal", i)]) for i in range(2)]
        readers = {
            key: asyncio.ensure_future(_server_close_code(sock))
            for key, sock in raw.items()
            if key != ("audio", 1)
        }
        # And every channel through orgo_async's own Connection.
        orgo = await stack.enter_async_context(fake.client())
        conn = await orgo.connect(sdk_target.id)
        term = await stack.enter_async_context(conn.terminal())
        sdk_pid = int((await term.run("echo $$", timeout=BOUND * 2)).output)
        audio = await stack.enter_async_context(conn.audio())
        assert await audio.read()
        await stack.enter_async_context(conn.events(["window_focus"]))
        vnc = await stack.enter_async_context(conn.vnc())
        assert await vnc.read() == b"RFB 003.008\n"
        await asyncio.sleep(0.2)  # let the stalled audio socket fill its buffers

        await _close_promptly(fake)

        codes = {key: await reader for key, reader in readers.items()}
        assert codes == dict.fromkeys(readers, 1001), codes
        # close() returned after the channels were cleaned up: no shell outlives it.
        assert [pid for pid in [*pids, sdk_pid] if pid_exists(pid)] == []


async def test_close_with_a_websocket_only_app_is_prompt() -> None:
    """The same through a bare ``AppRunner.cleanup()`` (apps built without FakeOrgo):
    the ``on_shutdown`` hook sends 1001 without waiting for answers it cannot read."""
    from orgo_async.testing._ws_routes import add_websocket_routes

    fake = FakeOrgo()  # used only for its world; never started
    ws = fake.add_workspace("w")
    c = fake.add_computer(ws.id, "c")
    app = web.Application()
    add_websocket_routes(app, fake)
    runner = web.AppRunner(app)
    port = await listen(runner)
    base = f"ws://127.0.0.1:{port}/desktops/{c.instance_id}/ws/"
    async with contextlib.AsyncExitStack() as stack:
        socks = [
            await stack.enter_async_context(connect(f"{base}{ch}?token={c.vnc_password}"))
            for ch in CHANNELS
        ]
        pid = await _shell_pid(socks[0])
        readers = [asyncio.ensure_future(_server_close_code(s)) for s in socks]
        try:
            async with asyncio.timeout(BOUND):
                await runner.cleanup()
        except TimeoutError:
            pytest.fail(f"AppRunner.cleanup() took over {BOUND:g} s with WebSockets open")
        assert [await r for r in readers] == [1001] * len(CHANNELS)
        assert not pid_exists(pid)


async def test_close_with_hosted_agent_sessions_open_is_prompt(fake: FakeOrgo) -> None:
    """``/ws/prompt`` sessions, one idle (no start message yet) and one mid-run (a
    10 s step), get 1001 at once and the run stops (instead of the server waiting out
    its 1 s shutdown grace for the handler)."""
    ws = fake.add_workspace("w")
    c = fake.add_computer(ws.id, "c")
    fake.agent.step_delay = 10.0
    url = f"{fake.agent_url}?token={fake.api_key}"
    async with connect(url) as idle, connect(url) as busy:
        start = {"computer_id": c.id, "instruction": "click 10, 10"}
        await busy.send(json.dumps({"type": "start", "config": start}))
        assert json.loads(await busy.recv())["type"] == "status"  # the run has begun
        readers = [asyncio.ensure_future(_server_close_code(s)) for s in (idle, busy)]

        await _close_promptly(fake, bound=0.5)

        assert [await r for r in readers] == [1001, 1001]
        assert fake.agent.open_sockets == 0
        assert fake.agent.runs == []  # the run was stopped, not finished
        assert c.actions == []  # ... before its first step acted
