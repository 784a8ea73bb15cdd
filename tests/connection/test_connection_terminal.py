"""The terminal channel against a real PTY (bash with a coloured prompt) on loopback."""

from __future__ import annotations

import asyncio

import pytest
from websockets.asyncio.server import ServerConnection

from orgo_async import (
    ChannelProtocolError,
    ChannelStartError,
    ComputerGoingAwayError,
    ComputerNotRunningError,
    HeartbeatTimeoutError,
    SessionLostError,
    TokenRejectedError,
)
from tests.conftest import eventually

from ._pty_server import pty_terminal
from .conftest import Desktop, answer_pings, recv_json


@pytest.fixture
def pty_desktop(desktop: Desktop) -> Desktop:
    desktop.handlers["terminal"] = pty_terminal
    return desktop


async def test_run_returns_output_and_exit_code(pty_desktop: Desktop) -> None:
    async with pty_desktop.connection().terminal(cols=120, rows=40) as term:
        result = await term.run("echo hello; echo world", timeout=20)
        assert result.output == "hello\nworld\n"
        assert result.exit_code == 0
        failed = await term.run("ls /definitely/not/here", timeout=20)
        assert failed.exit_code == 2
        assert "No such file" in failed.output
        code = await term.run("(exit 7)", timeout=20)
        assert code.exit_code == 7
        assert code.output == ""
    seen = pty_desktop.of("terminal")[0]
    assert seen.query["cols"] == "120" and seen.query["rows"] == "40"


async def test_run_with_colours_quotes_and_long_output(pty_desktop: Desktop) -> None:
    async with pty_desktop.connection().terminal() as term:
        colour = await term.run("printf '\\033[31mred\\033[0m plain\\n'", timeout=20)
        assert colour.output == "red plain\n"
        assert "\x1b[31m" in colour.raw_output
        quoted = await term.run('echo "it\'s" \'a "test"\' # trailing comment', timeout=20)
        assert quoted.output == 'it\'s a "test"\n'
        assert quoted.exit_code == 0
        long = await term.run("seq 1 20000", timeout=30)
        lines = long.output.splitlines()
        assert lines[0] == "1" and lines[-1] == "20000" and len(lines) == 20000
        # The shell is still usable after long output.
        after = await term.run("echo $((6 * 7))", timeout=20)
        assert after.output == "42\n"


async def test_run_multiline_command(pty_desktop: Desktop) -> None:
    async with pty_desktop.connection().terminal() as term:
        result = await term.run("for i in 1 2 3\ndo echo n$i\ndone", timeout=20)
        assert result.output == "n1\nn2\nn3\n"


async def test_run_timeout_interrupts(pty_desktop: Desktop) -> None:
    async with pty_desktop.connection().terminal() as term:
        with pytest.raises(TimeoutError):
            await term.run("sleep 30", timeout=0.5)
        # Ctrl-C was sent: the shell answers again.
        result = await term.run("echo back", timeout=20)
        assert result.output == "back\n"


async def test_send_resize_and_iterate(pty_desktop: Desktop) -> None:
    async with pty_desktop.connection().terminal(cols=80, rows=24) as term:
        await term.resize(100, 30)
        size = await term.run("stty size", timeout=20)
        assert size.output.strip() == "30 100"
        assert term.cols == 100
        await term.send("echo streamed-$((1+1))\r")
        seen = ""
        async with asyncio.timeout(10):
            async for chunk in term:
                seen += chunk
                if "streamed-2" in seen.replace("streamed-$((1+1))", ""):
                    break
        await term.send("exit 3\r")
        async with asyncio.timeout(10):
            async for _ in term:
                pass
        assert term.exit_code == 3
    frames = pty_desktop.of("terminal")[0].frames
    assert {"type": "resize", "cols": 100, "rows": 30} in frames


async def test_shell_exit_during_run_is_session_lost(pty_desktop: Desktop) -> None:
    async with pty_desktop.connection().terminal() as term:
        with pytest.raises(SessionLostError):
            await term.run("exit 5", timeout=20)
        assert term.exit_code == 5


# -- failures ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "exc"),
    [(4404, ComputerNotRunningError), (4500, ChannelStartError), (1001, ComputerGoingAwayError)],
)
async def test_close_code_at_open(desktop: Desktop, code: int, exc: type[Exception]) -> None:
    async def handler(ws: ServerConnection, query: dict[str, str]) -> None:
        await ws.close(code, "nope")

    desktop.handlers["terminal"] = handler
    term = desktop.connection().terminal()
    await term.open()
    try:
        with pytest.raises(exc) as info:
            await term.read()
        assert info.value.code == code  # type: ignore[attr-defined]
    finally:
        await term.aclose()


@pytest.mark.parametrize(
    ("code", "exc"),
    [
        (1001, ComputerGoingAwayError),
        (4404, ComputerNotRunningError),
        (4401, SessionLostError),
        (1011, SessionLostError),
        (None, SessionLostError),
    ],
)
async def test_loss_mid_session_never_gives_a_fresh_shell(
    pty_desktop: Desktop, code: int | None, exc: type[Exception]
) -> None:
    conn = pty_desktop.connection()
    async with conn.terminal() as term:
        assert (await term.run("echo ready", timeout=20)).output == "ready\n"
        server_ws = pty_desktop.sockets[-1]
        if code is None:
            assert server_ws.transport is not None
            server_ws.transport.abort()
        else:
            if code == 4401:
                pty_desktop.rotate()
            await server_ws.close(code, "going")
        with pytest.raises(exc):
            await term.run("echo again", timeout=20)
        with pytest.raises(exc):
            await term.send("x")
    # Exactly one terminal connection: no silent reconnect to a new shell.
    assert len(pty_desktop.of("terminal")) == 1


async def test_rejected_token_at_open_refreshes_and_replays_input(pty_desktop: Desktop) -> None:
    conn = pty_desktop.connection(password="pw-stale-0000")
    async with conn.terminal() as term:
        result = await term.run("echo fresh", timeout=20)
        assert result.output == "fresh\n"
    assert pty_desktop.refreshes == 1
    assert [s.token for s in pty_desktop.of("terminal")] == ["pw-stale-0000", pty_desktop.password]


async def test_rejected_twice_is_token_rejected(desktop: Desktop) -> None:
    async def stale() -> str:
        return "pw-still-wrong"

    desktop.handlers["terminal"] = pty_terminal
    conn = desktop.connection(password="pw-stale-0000", refresh=stale)
    async with conn.terminal() as term:
        with pytest.raises(TokenRejectedError):
            await term.read()
    assert len(desktop.of("terminal")) == 2


async def test_heartbeat_timeout(desktop: Desktop) -> None:
    async def never_pongs(ws: ServerConnection, query: dict[str, str]) -> None:
        await ws.send('{"type":"output","data":"$ "}')
        async for _ in ws:
            pass

    desktop.handlers["terminal"] = never_pongs
    conn = desktop.connection(heartbeat_interval=0.1, heartbeat_timeout=0.2)
    async with conn.terminal() as term:
        assert await term.read() == "$ "
        with pytest.raises(HeartbeatTimeoutError):
            await term.read()


async def test_heartbeat_keeps_a_healthy_session(desktop: Desktop) -> None:
    async def handler(ws: ServerConnection, query: dict[str, str]) -> None:
        await answer_pings(ws)

    desktop.handlers["terminal"] = handler
    conn = desktop.connection(heartbeat_interval=0.05, heartbeat_timeout=1.0)
    async with conn.terminal() as term:
        await eventually(
            lambda: sum(f == {"type": "ping"} for f in desktop.of("terminal")[0].frames) >= 3
        )
        assert not term.closed and term.error is None


async def test_malformed_and_unknown_frames(desktop: Desktop) -> None:
    async def handler(ws: ServerConnection, query: dict[str, str]) -> None:
        await ws.send('{"type":"bell","volume":1}')
        await ws.send('{"type":"output","data":"ok"}')
        await ws.send("{this is not json")
        await recv_json(ws)

    desktop.handlers["terminal"] = handler
    async with desktop.connection().terminal() as term:
        assert await term.read() == "ok"
        with pytest.raises(ChannelProtocolError):
            await term.read()
        assert [u.type for u in term.unknown_messages] == ["bell"]


async def test_oversized_message(desktop: Desktop) -> None:
    async def handler(ws: ServerConnection, query: dict[str, str]) -> None:
        await ws.send('{"type":"output","data":"' + "x" * 5000 + '"}')
        await answer_pings(ws)

    desktop.handlers["terminal"] = handler
    async with desktop.connection(max_size=2048).terminal() as term:
        with pytest.raises(ChannelProtocolError, match="max_size"):
            await term.read()


async def test_run_with_echo_and_markers_split_across_frames(desktop: Desktop) -> None:
    """A scripted shell: echoes the typed line, then sends everything 3 characters per
    frame with colour codes, so every marker is split across frames."""
    import json
    import re

    async def shell(ws: ServerConnection, query: dict[str, str]) -> None:
        await ws.send(json.dumps({"type": "output", "data": "\x1b[32m$ \x1b[0m"}))
        while True:
            msg = await recv_json(ws)
            if msg["type"] == "ping":
                await ws.send('{"type":"pong"}')
                continue
            line = msg["data"]
            marker = re.search(r"(ORGO[0-9a-f]+)", line)
            assert marker is not None
            m = marker.group(1)
            text = (
                line.replace("\r", "\r\n")  # the echo of the typed line
                + f"{m}_B\r\n"
                + "\x1b[1mline one\x1b[0m\r\nline two\r\n"
                + f"{m}_E3\r\n"
                + "\x1b[32m$ \x1b[0m"
            )
            for i in range(0, len(text), 3):
                await ws.send(json.dumps({"type": "output", "data": text[i : i + 3]}))

    desktop.handlers["terminal"] = shell
    async with desktop.connection().terminal() as term:
        result = await term.run("make it so", timeout=10)
        assert result.output == "line one\nline two\n"
        assert result.exit_code == 3
        # What followed the end marker (the next prompt) is still there for the reader.
        rest = ""
        while "$ " not in rest:
            rest += await term.read()
        assert rest.startswith("\x1b[32m$")


async def test_slow_reader_is_lossless_and_not_a_dead_connection(desktop: Desktop) -> None:
    async def flood(ws: ServerConnection, query: dict[str, str]) -> None:
        pings = asyncio.create_task(answer_pings(ws))
        for n in range(2000):
            await ws.send(f'{{"type":"output","data":"{n},"}}')
        await pings

    desktop.handlers["terminal"] = flood
    conn = desktop.connection(heartbeat_interval=0.05, heartbeat_timeout=0.1)
    async with conn.terminal(buffer=8) as term:
        # Not reading: the buffer fills and the reader stops, with pongs stuck behind
        # unread output. Several heartbeat periods pass before the consumer catches up.
        await eventually(lambda: term._buffer.paused)
        await eventually(lambda: {"type": "ping"} in desktop.of("terminal")[0].frames)
        await asyncio.sleep(0.5)  # five heartbeat timeouts with the pong stuck in line
        assert term.error is None and not term.closed
        text = ""
        async with asyncio.timeout(20):
            while not text.endswith("1999,"):
                text += await term.read()
        assert text.split(",")[:-1] == [str(n) for n in range(2000)]
        assert term.error is None and not term.closed


async def test_closing_a_terminal_nobody_reads_is_prompt(desktop: Desktop) -> None:
    # The consumer stopped reading: the buffer is full and the reader waits for room,
    # so websockets' own queue fills and the server's close frame sits unread behind
    # output. aclose() must not wait out close_timeout (20 s here) for it.
    async def flood(ws: ServerConnection, query: dict[str, str]) -> None:
        for n in range(100_000):
            await ws.send(f'{{"type":"output","data":"{n},"}}')

    desktop.handlers["terminal"] = flood
    conn = desktop.connection(close_timeout=20.0)
    term = conn.terminal(buffer=8)
    await term.open()
    await eventually(lambda: term._buffer.paused)
    async with asyncio.timeout(5):  # a hang detector: the old behaviour took 20 s
        await term.aclose()
    assert term.closed and term.error is None
    # What was buffered before the close is still read, then the stream ends.
    chunks = [c async for c in term]
    assert chunks and "".join(chunks).startswith("0,1,2,")
