"""The terminal channel (§11.4): a real shell on a real PTY, over a real socket."""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
from collections.abc import Callable
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed

from tests.conftest import pid_exists, pid_running, serving

from .conftest import Harness, close_code, recv_json

pytestmark = pytest.mark.skipif(os.name != "posix", reason="the emulator's PTY is POSIX only")

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\r")
# A shell answers in milliseconds; 5 s leaves room for a loaded CI box and still fails
# long before the per-test timeout, with a message saying what was missing.
BOUND = 5.0


async def _send(ws: Any, obj: dict[str, Any]) -> None:
    await ws.send(json.dumps(obj))


async def _read_until(ws: Any, pattern: str, bound: float = BOUND) -> str:
    """Output frames until ``pattern`` (regex) matches the ANSI-stripped text; a shell
    that never says it fails after ``bound`` seconds with what it did say."""
    seen = ""
    try:
        async with asyncio.timeout(bound):
            while not re.search(pattern, ANSI.sub("", seen)):
                frame = await recv_json(ws, timeout=bound + 1)  # the outer bound wins
                if frame["type"] == "output":
                    seen += frame["data"]
    except TimeoutError:
        pytest.fail(f"no {pattern!r} in the terminal within {bound:g} s; got {seen!r}")
    return seen


async def _run(ws: Any, command: str) -> str:
    """Type ``command`` followed by an end marker; the ANSI-stripped output up to the
    marker. Wrong output fails at once (the marker follows it): only a silent shell makes
    a test wait, and then for ``BOUND`` seconds, not for the per-test timeout."""
    base = secrets.randbelow(10**6) + 10**6
    # The echoed input shows "END-$((base+1))"; only the shell's output shows the sum.
    await _send(ws, {"type": "input", "data": f"{command}; echo END-$(({base}+1))\r"})
    return ANSI.sub("", await _read_until(ws, f"END-{base + 1}\n"))


async def _error_then_pong(ws: Any) -> dict[str, Any]:
    """After a bad message: the error frame, which must come before the answer to a ping
    sent right behind it (frames are handled in order)."""
    await _send(ws, {"type": "ping"})
    frames: list[dict[str, Any]] = []
    while not frames or frames[-1]["type"] != "pong":
        frames.append(await recv_json(ws))
    errors = [f for f in frames if f["type"] == "error"]
    assert errors, f"no error frame before the pong: {frames}"
    return errors[0]


async def test_runs_a_real_command(harness: Harness) -> None:
    async with harness.connect("terminal", cols=80, rows=24) as ws:
        assert "\n42\n" in await _run(ws, "echo $((6*7))")


async def test_prompt_has_ansi_colours(harness: Harness) -> None:
    async with harness.connect("terminal") as ws:
        raw = await _read_until(ws, r"user@orgo-fake")
        assert "\x1b[1;32m" in raw


async def test_environment_is_clean(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORGO_API_KEY", "sk_live_must_not_leak")
    async with harness.connect("terminal") as ws:
        out = await _run(ws, 'echo "T=$TERM K=${ORGO_API_KEY:-none}"')
        assert "T=xterm-256color K=none" in out
        assert "sk_live_must_not_leak" not in out


async def test_initial_size_and_resize_visible_in_stty(harness: Harness) -> None:
    async with harness.connect("terminal", cols=100, rows=30) as ws:
        assert "\n30 100\n" in await _run(ws, "stty size")
        await _send(ws, {"type": "resize", "cols": 132, "rows": 43})
        assert "\n43 132\n" in await _run(ws, "stty size")


async def test_bad_resize_is_an_error_and_session_goes_on(harness: Harness) -> None:
    async with harness.connect("terminal") as ws:
        await _send(ws, {"type": "resize", "cols": "wide", "rows": 0})
        assert "cols" in (await _error_then_pong(ws))["message"]
        assert "still-2" in await _run(ws, "echo still-$((1+1))")


async def test_input_without_data_is_an_error(harness: Harness) -> None:
    async with harness.connect("terminal") as ws:
        await _send(ws, {"type": "input"})
        assert "data" in (await _error_then_pong(ws))["message"]


async def test_exit_frame_then_close_1000(harness: Harness) -> None:
    async with harness.connect("terminal") as ws:
        await _send(ws, {"type": "input", "data": "exit 3\r"})
        frames: list[dict[str, Any]] = []
        try:
            async with asyncio.timeout(BOUND):
                while True:
                    frames.append(await recv_json(ws, timeout=BOUND + 1))
        except ConnectionClosed:
            pass
        except TimeoutError:
            pytest.fail(f"the socket was not closed within {BOUND:g} s of exit; got {frames}")
        assert frames[-1] == {"type": "exit", "code": 3}
        assert ws.protocol.close_rcvd is not None
        assert ws.protocol.close_rcvd.code == 1000


async def test_utf8_output(harness: Harness) -> None:
    async with harness.connect("terminal") as ws:
        assert "\nété\n" in await _run(ws, "printf '\\303\\251t\\303\\251\\n'")


async def test_invalid_query_closes_4500(harness: Harness) -> None:
    async with harness.connect("terminal", cols="abc") as ws:
        frame = await recv_json(ws)
        assert frame["type"] == "error"
        assert await close_code(ws) == 4500


async def test_loopback_client_gets_a_shell_without_allow_exec(harness: Harness) -> None:
    harness.fake.allow_exec = False
    async with harness.connect("terminal") as ws:
        assert "\n42\n" in await _run(ws, "echo $((6*7))")


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
    async with serving(web.AppRunner(app), addr) as port:
        h.origin = f"ws://{addr}:{port}"
        url = h.url("terminal")
        async with connect(url, open_timeout=10) as ws:
            frame = await recv_json(ws)
            assert frame["type"] == "error"
            assert "allow_exec" in frame["message"]
            assert await close_code(ws) == 4500
        h.fake.allow_exec = True
        async with connect(url, open_timeout=10) as ws:
            assert "\n42\n" in await _run(ws, "echo $((6*7))")


async def test_spawn_failure_closes_4500(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    import orgo_async.testing._pty as pty_mod

    monkeypatch.setattr(pty_mod, "_find_shell", lambda: ["/nonexistent/shell-binary", "-i"])
    # The launcher exec's the shell; a missing binary makes the launcher exit non-zero,
    # which shows as an exit frame. A missing *interpreter* fails at spawn: force that.
    monkeypatch.setattr("sys.executable", "/nonexistent/python")
    async with harness.connect("terminal") as ws:
        frame = await recv_json(ws)
        assert frame["type"] == "error"
        assert frame["message"].startswith("Failed to spawn shell")
        assert await close_code(ws) == 4500


async def _wait_gone(pid: int, alive: Callable[[int], bool], what: str) -> None:
    """Poll until ``pid`` is gone; still there after ``BOUND`` seconds fails the test."""
    try:
        async with asyncio.timeout(BOUND):
            while alive(pid):  # noqa: ASYNC110
                await asyncio.sleep(0.02)
    except TimeoutError:
        pytest.fail(f"the {what} (pid {pid}) outlived its socket by {BOUND:g} s")


async def test_shell_killed_when_socket_closes(harness: Harness) -> None:
    async with harness.connect("terminal") as ws:
        out = await _run(ws, "echo PID=$$")
        pid = int(re.search(r"\nPID=(\d+)\n", out).group(1))  # type: ignore[union-attr]
        assert pid_exists(pid)
    await _wait_gone(pid, pid_exists, "shell")


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux /proc")
async def test_background_job_killed_too(harness: Harness) -> None:
    async with harness.connect("terminal") as ws:
        out = await _run(ws, "sleep 300 & echo BG=$!")
        pid = int(re.search(r"\nBG=(\d+)\n", out).group(1))  # type: ignore[union-attr]
        assert pid_running(pid)
    await _wait_gone(pid, pid_running, "background job")
