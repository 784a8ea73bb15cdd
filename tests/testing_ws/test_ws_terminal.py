"""The terminal channel (§11.4): a real shell on a real PTY, over a real socket."""

from __future__ import annotations

import asyncio
import json
import os
import re
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed

from .conftest import Harness, close_code, recv_json

pytestmark = pytest.mark.skipif(os.name != "posix", reason="the emulator's PTY is POSIX only")

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\r")


async def _send(ws: Any, obj: dict[str, Any]) -> None:
    await ws.send(json.dumps(obj))


async def _read_until(ws: Any, pattern: str, timeout: float = 15) -> str:
    """Accumulate output frames until ``pattern`` (regex) matches the ANSI-stripped text."""
    seen = ""
    async with asyncio.timeout(timeout):
        while True:
            frame = await recv_json(ws)
            if frame["type"] == "output":
                seen += frame["data"]
                if re.search(pattern, ANSI.sub("", seen)):
                    return seen


async def test_runs_a_real_command(harness: Harness) -> None:
    async with harness.connect("terminal", cols=80, rows=24) as ws:
        await _send(ws, {"type": "input", "data": "echo $((6*7))\r"})
        out = await _read_until(ws, r"\n42\n")
        assert "42" in out


async def test_prompt_has_ansi_colours(harness: Harness) -> None:
    async with harness.connect("terminal") as ws:
        out = await _read_until(ws, r"user@orgo-fake")
        assert "\x1b[1;32m" in out


async def test_environment_is_clean(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORGO_API_KEY", "sk_live_must_not_leak")
    async with harness.connect("terminal") as ws:
        await _send(ws, {"type": "input", "data": 'echo "T=$TERM K=${ORGO_API_KEY:-none}"\r'})
        out = await _read_until(ws, r"T=xterm-256color K=none")
        assert "sk_live_must_not_leak" not in out


async def test_initial_size_and_resize_visible_in_stty(harness: Harness) -> None:
    async with harness.connect("terminal", cols=100, rows=30) as ws:
        await _send(ws, {"type": "input", "data": "stty size\r"})
        await _read_until(ws, r"\n30 100\n")
        await _send(ws, {"type": "resize", "cols": 132, "rows": 43})
        await _send(ws, {"type": "input", "data": "stty size\r"})
        await _read_until(ws, r"\n43 132\n")


async def test_bad_resize_is_an_error_and_session_goes_on(harness: Harness) -> None:
    async with harness.connect("terminal") as ws:
        await _send(ws, {"type": "resize", "cols": "wide", "rows": 0})
        async with asyncio.timeout(10):
            while (frame := await recv_json(ws))["type"] != "error":
                pass
        assert "cols" in frame["message"]
        await _send(ws, {"type": "input", "data": "echo still-$((1+1))\r"})
        await _read_until(ws, r"still-2")


async def test_input_without_data_is_an_error(harness: Harness) -> None:
    async with harness.connect("terminal") as ws:
        await _send(ws, {"type": "input"})
        async with asyncio.timeout(10):
            while (frame := await recv_json(ws))["type"] != "error":
                pass
        assert "data" in frame["message"]


async def test_exit_frame_then_close_1000(harness: Harness) -> None:
    async with harness.connect("terminal") as ws:
        await _send(ws, {"type": "input", "data": "exit 3\r"})
        frames: list[dict[str, Any]] = []
        try:
            async with asyncio.timeout(15):
                while True:
                    frames.append(await recv_json(ws))
        except ConnectionClosed:
            pass
        assert frames[-1] == {"type": "exit", "code": 3}
        assert ws.protocol.close_rcvd is not None
        assert ws.protocol.close_rcvd.code == 1000


async def test_utf8_output(harness: Harness) -> None:
    async with harness.connect("terminal") as ws:
        await _send(ws, {"type": "input", "data": "printf '\\303\\251t\\303\\251\\n'\r"})
        await _read_until(ws, "\nété\n")


async def test_invalid_query_closes_4500(harness: Harness) -> None:
    async with harness.connect("terminal", cols="abc") as ws:
        frame = await recv_json(ws)
        assert frame["type"] == "error"
        assert await close_code(ws) == 4500


async def test_loopback_client_gets_a_shell_without_allow_exec(harness: Harness) -> None:
    harness.fake.allow_exec = False
    async with harness.connect("terminal") as ws:
        await _send(ws, {"type": "input", "data": "echo $((6*7))\r"})
        await _read_until(ws, r"\n42\n")


def test_shell_policy() -> None:
    from orgo_async.testing._ws_terminal import shell_allowed

    assert shell_allowed(False, "127.0.0.1")
    assert shell_allowed(False, "::1")
    assert shell_allowed(False, "::ffff:127.0.0.1")
    assert not shell_allowed(False, "192.0.2.10")
    assert not shell_allowed(False, None)
    assert not shell_allowed(False, "not-an-ip")
    assert shell_allowed(True, "192.0.2.10")


def _non_loopback_ipv4() -> str | None:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("10.254.254.254", 1))  # UDP: picks a route, sends nothing
        except OSError:
            return None
        addr: str = s.getsockname()[0]
    return None if addr.startswith("127.") else addr


async def test_remote_client_needs_allow_exec() -> None:
    from aiohttp import web
    from websockets.asyncio.client import connect

    from orgo_async.testing._ws_routes import add_websocket_routes

    addr = _non_loopback_ipv4()
    if addr is None:
        pytest.skip("no non-loopback IPv4 address to connect from")
    h = Harness()
    h.fake.allow_exec = False
    app = web.Application()
    add_websocket_routes(app, h.fake)
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        site = web.TCPSite(runner, addr, 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        h.origin = f"ws://{addr}:{port}"
        url = h.url("terminal")
        async with connect(url, open_timeout=10) as ws:
            frame = await recv_json(ws)
            assert frame["type"] == "error"
            assert "allow_exec" in frame["message"]
            assert await close_code(ws) == 4500
        h.fake.allow_exec = True
        async with connect(url, open_timeout=10) as ws:
            await _send(ws, {"type": "input", "data": "echo $((6*7))\r"})
            await _read_until(ws, r"\n42\n")
    finally:
        await runner.cleanup()


async def test_spawn_failure_closes_4500(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    import orgo_async.testing._pty as pty_mod

    monkeypatch.setattr(pty_mod, "_find_shell", lambda: ["/nonexistent/shell-binary", "-i"])
    # The launcher exec's the shell; a missing binary makes the launcher exit non-zero,
    # which shows as an exit frame. A missing *interpreter* fails at spawn: force that.
    monkeypatch.setattr(pty_mod.sys, "executable", "/nonexistent/python")
    async with harness.connect("terminal") as ws:
        frame = await recv_json(ws)
        assert frame["type"] == "error"
        assert frame["message"].startswith("Failed to spawn shell")
        assert await close_code(ws) == 4500


async def test_shell_killed_when_socket_closes(harness: Harness) -> None:
    async with harness.connect("terminal") as ws:
        await _send(ws, {"type": "input", "data": "echo PID=$$\r"})
        out = ANSI.sub("", await _read_until(ws, r"PID=\d+\n"))
        pid = int(re.search(r"PID=(\d+)\n", out).group(1))  # type: ignore[union-attr]
        os.kill(pid, 0)  # alive now
    async with asyncio.timeout(10):
        while True:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break  # gone, and reaped (a zombie would still answer kill 0)
            await asyncio.sleep(0.05)


def _alive(pid: int) -> bool:
    """Running (a zombie reparented to init is dead; reaping it is init's job)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except FileNotFoundError:
        return False
    return stat[stat.rfind(b")") + 2 :].split()[0] != b"Z"


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux /proc")
async def test_background_job_killed_too(harness: Harness) -> None:
    async with harness.connect("terminal") as ws:
        await _send(ws, {"type": "input", "data": "sleep 300 & echo BG=$!\r"})
        out = ANSI.sub("", await _read_until(ws, r"BG=\d+\n"))
        pid = int(re.search(r"BG=(\d+)\n", out).group(1))  # type: ignore[union-attr]
        assert _alive(pid)
    async with asyncio.timeout(10):
        while _alive(pid):  # noqa: ASYNC110
            await asyncio.sleep(0.05)
