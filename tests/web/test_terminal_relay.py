"""The terminal relay: a browser (a ``websockets`` client) <-> uvicorn + FastAPI <-> the
emulator's terminal, a real shell on a PTY. The browser never holds the password."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
import websockets
from websockets.asyncio.client import ClientConnection

from orgo_async.testing import FakeOrgo
from tests.conftest import pid_running

from ._apps import Probe, build_app
from ._browser import closed_with, drain, read_until, settled, shell_pid
from .conftest import UvicornServer, wait_for

pytestmark = pytest.mark.slow


@dataclass
class Env:
    fake: FakeOrgo
    srv: UvicornServer
    probe: Probe
    cid: str

    def connect(self, cid: str | None = None, query: str = "", **kw: Any) -> Any:
        url = f"{self.srv.ws_url}/computers/{cid or self.cid}/terminal{query}"
        return websockets.connect(url, open_timeout=10, **kw)


@pytest.fixture
async def env(fake_orgo: FakeOrgo) -> AsyncIterator[Env]:
    ws = fake_orgo.add_workspace("w")
    c = fake_orgo.add_computer(ws.id, "agent")
    probe = Probe()
    app = build_app(fake_orgo.api_key, fake_orgo.base_url, probe=probe)
    async with UvicornServer(app) as srv:
        yield Env(fake_orgo, srv, probe, c.id)


async def next_message(ws: ClientConnection, kind: str, timeout: float = 10) -> dict[str, Any]:
    async with asyncio.timeout(timeout):
        while True:
            msg: dict[str, Any] = json.loads(await ws.recv())
            if msg["type"] == kind:
                return msg


def typed(text: str) -> str:
    return json.dumps({"type": "input", "data": text})


async def test_command_output_reaches_the_browser(env: Env) -> None:
    async with env.connect() as ws:
        await ws.send(typed("echo relay-$((6*7))\r"))
        assert "relay-42" in await read_until(ws, r"relay-42")
    # The browser's URL carried no token; the relay used the computer's password.
    await wait_for(
        lambda: env.probe.relays[0].code is not None or env.probe.relays[0].browser_code is not None
    )
    assert env.probe.relays[0].to_browser > 0 and env.probe.relays[0].from_browser > 0


async def test_upstream_compression_is_off_by_default_and_can_be_turned_on(
    fake_orgo: FakeOrgo,
) -> None:
    # What the emulator saw in the relay's handshake towards it, for each setting.
    c = fake_orgo.add_computer(fake_orgo.add_workspace("w").id, "agent")
    offered: list[bool] = []
    for options in ({}, {"upstream_compression": True}, {"upstream_compression": False}):
        app = build_app(fake_orgo.api_key, fake_orgo.base_url, terminal_options=options)
        async with (
            UvicornServer(app) as srv,
            websockets.connect(f"{srv.ws_url}/computers/{c.id}/terminal") as ws,
        ):
            await ws.send(typed("echo z-$((2*3))\r"))
            await read_until(ws, r"z-6")  # the shell works through either
        handshake = [r for r in fake_orgo.requests if r.path.endswith("/ws/terminal")][-1]
        headers = {k.lower(): v for k, v in handshake.headers.items()}
        offered.append("permessage-deflate" in headers.get("sec-websocket-extensions", ""))
    assert offered == [False, True, False]


async def test_size_from_the_query_and_resize(env: Env) -> None:
    async with env.connect(query="?cols=91&rows=33") as ws:
        await ws.send(typed("stty size\r"))
        assert "33 91" in await read_until(ws, r"33 91")
        await ws.send(json.dumps({"type": "resize", "cols": 120, "rows": 40}))
        await ws.send(typed("stty size\r"))
        assert "40 120" in await read_until(ws, r"40 120")


async def test_ping_pong_and_bad_messages_keep_the_session(env: Env) -> None:
    async with env.connect() as ws:
        await ws.send('{"type":"ping"}')
        assert await next_message(ws, "pong") == {"type": "pong"}
        for bad in ("not json", '{"type":"launch"}', '{"type":"input"}', "[1]"):
            await ws.send(bad)
            assert (await next_message(ws, "error"))["message"].startswith("Invalid message")
        await ws.send(b"\x00binary")
        assert "JSON text" in (await next_message(ws, "error"))["message"]
        await ws.send(json.dumps({"type": "resize", "cols": 0, "rows": 40}))
        assert "Invalid resize" in (await next_message(ws, "error"))["message"]
        await ws.send(typed("echo still-$((1+1))\r"))
        await read_until(ws, r"still-2")


async def test_oversized_message_closes_1009(env: Env) -> None:
    async with env.connect(max_size=None) as ws:
        await ws.send(typed("x" * (1 << 20)))
        code, _ = await closed_with(ws)
    assert code == 1009


async def test_shell_exit_is_forwarded_then_close_1000(env: Env) -> None:
    async with env.connect() as ws:
        await ws.send(typed("exit 3\r"))
        assert await next_message(ws, "exit") == {"type": "exit", "code": 3}
        code, reason = await closed_with(ws)
    assert (code, reason) == (1000, "the shell exited")


async def test_unknown_and_stopped_computers_close_4404(env: Env) -> None:
    async with env.connect(cid="00000000-0000-4000-8000-00000000dead") as ws:
        code, _ = await closed_with(ws)
    assert code == 4404
    stopped = env.fake.add_computer(
        env.fake.computer(env.cid).workspace_id, "off", status="stopped"
    )
    async with env.connect(cid=stopped.id) as ws:
        code, _ = await closed_with(ws)
    assert code == 4404


async def test_password_rotation_closes_1012_and_the_reconnect_needs_no_password(
    env: Env,
) -> None:
    fetched_before = len(env.fake.requests_to("GET", f"/computers/{env.cid}/vnc-password"))
    async with env.connect() as ws:
        await ws.send(typed("echo one\r"))
        await read_until(ws, r"one\r?\n")
        env.fake.rotate_password(env.cid)  # as a restart does: the upstream closes 4401
        code, reason = await closed_with(ws)
    assert code == 1012 and "restarted" in reason
    # The relay fetched the new password itself, once.
    fetched = env.fake.requests_to("GET", f"/computers/{env.cid}/vnc-password")
    assert len(fetched) == fetched_before + 1
    async with env.connect() as ws:  # what the page does on 1012
        await ws.send(typed("echo two-$((2*2))\r"))
        await read_until(ws, r"two-4")


async def test_browser_leaving_ends_the_shell(env: Env) -> None:
    async with env.connect() as ws:
        pid = await shell_pid(ws)
        assert pid_running(pid)
    await wait_for(lambda: not pid_running(pid), timeout=5)
    await wait_for(lambda: env.probe.relays[0].browser_code == 1000)
    assert env.probe.relays[0].code is None  # nobody left to tell


async def test_a_browser_that_stops_reading_stops_the_shell_not_the_server(env: Env) -> None:
    # `yes` writes as fast as the PTY takes it. A browser that reads nothing must push
    # back through the relay to the shell: the relayed total stops growing, far below
    # what `yes` would produce, and resumes when the browser reads again. No
    # permessage-deflate here, so that characters relayed ~ bytes held in buffers (`yes`
    # compresses ~1000:1, and compressed the same plateau is ~200 MB of text).
    async with env.connect(max_size=None, max_queue=1, compression=None) as ws:
        stats = env.probe.relays[0]
        await ws.send(typed("yes 0123456789abcdef0123456789abcdef0123456789abcdef\r"))
        await wait_for(lambda: stats.to_browser > 0)
        ws.transport.pause_reading()  # the browser stops reading
        plateau = await settled(lambda: stats.to_browser)
        assert plateau < 32 << 20, "the relay kept buffering for a browser that reads nothing"
        await asyncio.sleep(0.5)
        assert stats.to_browser == plateau
        ws.transport.resume_reading()
        reader = asyncio.create_task(drain(ws))
        await wait_for(lambda: stats.to_browser > plateau + (1 << 20))
        await ws.send(typed("\x03"))
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader


async def test_shell_failing_to_start_closes_4500(env: Env) -> None:
    env.fake.add_ws_fault(env.cid, "terminal", close_code=4500, reason="failed to spawn shell")
    async with env.connect() as ws:
        code, _ = await closed_with(ws)
    assert code == 4500


async def test_upstream_dropping_mid_session_is_reported_not_hidden(env: Env) -> None:
    # The shell session cannot resume: a dropped upstream ends the browser's session
    # with "try again later" (the page may open a fresh shell).
    # The fault counts the server's frames, and how the shell's output is cut into frames
    # is up to the PTY's timing: drop right after the first one (the echo of the typed
    # line), which always comes, so the session is live when the upstream goes.
    env.fake.add_ws_fault(env.cid, "terminal", close_code=1011, after_frames=1)
    async with env.connect() as ws:
        await ws.send(typed("echo a; echo b\r"))
        seen: list[dict[str, Any]] = []
        with pytest.raises(websockets.ConnectionClosed) as closed:
            async with asyncio.timeout(15):
                while True:
                    seen.append(json.loads(await ws.recv()))
    # What the computer sent before the drop reached the browser, then the close says why.
    assert [m["type"] for m in seen] == ["output"]
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1013
