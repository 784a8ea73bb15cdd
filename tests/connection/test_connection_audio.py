"""The audio channel: negotiation, WAV recording, drops, reconnect and token rotation."""

from __future__ import annotations

import asyncio
import json
import struct
import wave
from pathlib import Path

import pytest
from websockets.asyncio.server import ServerConnection

from orgo_async import (
    ChannelProtocolError,
    ChannelStartError,
    ComputerGoingAwayError,
    ComputerNotRunningError,
    HeartbeatTimeoutError,
    TokenRejectedError,
)
from orgo_async._protocol.close_codes import ReconnectPolicy
from tests.conftest import eventually

from .conftest import Desktop, answer_pings


def pcm_frame(n: int, sample_rate: int, channels: int) -> bytes:
    """One 20 ms frame whose samples all carry the sequence number ``n``."""
    samples = sample_rate // 50 * channels
    return struct.pack("<h", n % 32768) * samples


def streaming(
    *, count: int | None = None, rate: int | None = None, channels: int | None = None
) -> object:
    """A handler: ``started`` (echoing the query unless overridden), then numbered frames."""

    async def handler(ws: ServerConnection, query: dict[str, str]) -> None:
        sr = rate or int(query.get("sample_rate", "24000"))
        ch = channels or int(query.get("channels", "1"))
        await ws.send(json.dumps({"type": "started", "sample_rate": sr, "channels": ch}))
        pings = asyncio.create_task(answer_pings(ws))
        try:
            n = 0
            while count is None or n < count:
                await ws.send(pcm_frame(n, sr, ch))
                n += 1
                if count is None:
                    await asyncio.sleep(0.001)
            ws.sent_all = True  # type: ignore[attr-defined]
            await pings
        finally:
            pings.cancel()

    return handler


async def test_record_writes_wav_with_negotiated_header(desktop: Desktop, tmp_path: Path) -> None:
    desktop.handlers["audio"] = streaming()  # type: ignore[assignment]
    async with desktop.connection().audio(sample_rate=48000, channels=2) as audio:
        assert (audio.sample_rate, audio.channels) == (48000, 2)
        assert audio.frame_bytes == 3840
        rec = await audio.record(tmp_path / "out.wav", seconds=0.5)
    assert rec.frames == 24000 and rec.seconds == 0.5
    with wave.open(str(tmp_path / "out.wav"), "rb") as w:
        assert w.getnchannels() == 2
        assert w.getframerate() == 48000
        assert w.getsampwidth() == 2
        assert w.getnframes() == 24000
        data = w.readframes(24000)
    # Frames in order: the first 20 ms carry sequence number 0, the next 1.
    assert struct.unpack_from("<h", data, 0)[0] == 0
    assert struct.unpack_from("<h", data, 3840)[0] == 1
    seen = desktop.of("audio")[0]
    assert seen.query["sample_rate"] == "48000" and seen.query["channels"] == "2"


async def test_server_format_wins_over_request(desktop: Desktop, tmp_path: Path) -> None:
    desktop.handlers["audio"] = streaming(rate=24000, channels=1)  # type: ignore[assignment]
    async with desktop.connection().audio(sample_rate=44100, channels=2) as audio:
        assert (audio.sample_rate, audio.channels) == (24000, 1)
        await audio.record(tmp_path / "a.wav", seconds=0.1)
    with wave.open(str(tmp_path / "a.wav"), "rb") as w:
        assert (w.getframerate(), w.getnchannels(), w.getnframes()) == (24000, 1, 2400)


async def test_iterate_pcm_and_stop(desktop: Desktop) -> None:
    desktop.handlers["audio"] = streaming()  # type: ignore[assignment]
    async with desktop.connection().audio() as audio:
        got = []
        async for frame in audio:
            got.append(frame)
            if len(got) == 3:
                break
        assert all(len(f) == 960 for f in got)
    assert {"type": "stop"} in desktop.of("audio")[0].frames


async def test_slow_consumer_drops_oldest_and_counts(desktop: Desktop) -> None:
    desktop.handlers["audio"] = streaming(count=200)  # type: ignore[assignment]
    async with desktop.connection().audio(buffer=10) as audio:
        await eventually(lambda: getattr(desktop.sockets[-1], "sent_all", False))
        await eventually(lambda: audio.dropped == 190)
        assert audio.dropped_bytes == 190 * 960
        kept = [await audio.read() for _ in range(10)]
    # The newest ten frames survived, in order.
    assert [struct.unpack_from("<h", f)[0] for f in kept] == list(range(190, 200))


@pytest.mark.parametrize(
    ("code", "exc"), [(4404, ComputerNotRunningError), (4500, ChannelStartError)]
)
async def test_close_code_at_open(desktop: Desktop, code: int, exc: type[Exception]) -> None:
    async def handler(ws: ServerConnection, query: dict[str, str]) -> None:
        await ws.close(code, "nope")

    desktop.handlers["audio"] = handler
    with pytest.raises(exc):
        async with desktop.connection().audio():
            pass


async def test_error_frame_at_start(desktop: Desktop) -> None:
    async def handler(ws: ServerConnection, query: dict[str, str]) -> None:
        await ws.send('{"type":"error","message":"Failed to start audio capture"}')
        await ws.close(4500, "capture")

    desktop.handlers["audio"] = handler
    with pytest.raises(ChannelStartError, match="Failed to start audio capture"):
        async with desktop.connection().audio():
            pass


async def test_token_rotation_mid_session(desktop: Desktop) -> None:
    desktop.handlers["audio"] = streaming()  # type: ignore[assignment]
    async with desktop.connection().audio() as audio:
        assert len(await audio.read()) == 960
        desktop.rotate()  # the computer restarted
        await desktop.sockets[-1].close(4401, "token rotated")
        await eventually(lambda: audio.reconnects == 1)
        assert len(await audio.read()) == 960
        assert not audio.closed
    assert desktop.refreshes == 1
    tokens = [s.token for s in desktop.of("audio")]
    assert tokens == ["pw-0000000001", "pw-0000000002"]


async def test_second_rejection_is_token_rejected(desktop: Desktop) -> None:
    desktop.handlers["audio"] = streaming()  # type: ignore[assignment]
    fetched: list[str] = []

    async def stale() -> str:
        fetched.append("pw-also-stale")
        return "pw-also-stale"

    conn = desktop.connection(password="pw-stale", refresh=stale)
    with pytest.raises(TokenRejectedError, match="again") as info:
        async with asyncio.timeout(5), conn.audio():  # a refresh loop fails here, fast
            pass
    assert info.value.code == 4401
    assert fetched == ["pw-also-stale"]  # one fetch per rejection streak, not a loop
    assert [s.token for s in desktop.of("audio")] == ["pw-stale", "pw-also-stale"]


async def test_without_a_client_a_rejection_is_final(desktop: Desktop) -> None:
    desktop.handlers["audio"] = streaming()  # type: ignore[assignment]
    conn = desktop.connection(password="pw-stale", refresh=None)
    assert not conn.can_refresh
    with pytest.raises(TokenRejectedError):
        async with conn.audio():
            pass
    assert desktop.refreshes == 0 and len(desktop.of("audio")) == 1


async def test_rejected_handshake_status_refreshes(desktop: Desktop) -> None:
    """A server that refuses the upgrade itself (HTTP 403) counts as a rejection too."""
    from websockets.asyncio.server import serve
    from websockets.http11 import Request, Response

    inner = desktop

    def process_request(ws: ServerConnection, request: Request) -> Response | None:
        if f"token={inner.password}" not in request.path:
            return ws.respond(403, "forbidden\n")
        return None

    inner.handlers["audio"] = streaming()  # type: ignore[assignment]
    async with serve(inner._handle, "127.0.0.1", 0, process_request=process_request) as srv:
        inner.port = srv.sockets[0].getsockname()[1]
        conn = inner.connection(password="pw-old")
        async with conn.audio() as audio:
            assert len(await audio.read()) == 960
    assert inner.refreshes == 1


@pytest.mark.parametrize("how", ["abort", 1011, 1001])
async def test_reconnects_after_a_drop(desktop: Desktop, how: object) -> None:
    desktop.handlers["audio"] = streaming()  # type: ignore[assignment]
    async with desktop.connection().audio() as audio:
        await audio.read()
        ws = desktop.sockets[-1]
        if how == "abort":
            assert ws.transport is not None
            ws.transport.abort()
        else:
            await ws.close(how, "bye")  # type: ignore[arg-type]
        await eventually(lambda: audio.reconnects == 1)
        assert len(await audio.read()) == 960
    assert len(desktop.of("audio")) == 2
    assert desktop.refreshes == 0


async def test_gives_up_after_max_attempts(desktop: Desktop) -> None:
    desktop.handlers["audio"] = streaming()  # type: ignore[assignment]
    policy = ReconnectPolicy(initial=0.01, cap=0.02, max_attempts=2, jitter=0)
    async with desktop.connection(reconnect=policy).audio() as audio:
        await audio.read()

        async def going_away(ws: ServerConnection, query: dict[str, str]) -> None:
            await ws.close(1001, "stopping")

        desktop.handlers["audio"] = going_away
        await desktop.sockets[-1].close(1001, "stopping")
        with pytest.raises(ComputerGoingAwayError):
            async with asyncio.timeout(10):
                async for _ in audio:
                    pass
    assert len(desktop.of("audio")) == 1 + 2


async def test_heartbeat_timeout(desktop: Desktop) -> None:
    async def never_pongs(ws: ServerConnection, query: dict[str, str]) -> None:
        await ws.send('{"type":"started","sample_rate":24000,"channels":1}')
        async for _ in ws:
            pass

    desktop.handlers["audio"] = never_pongs
    conn = desktop.connection(
        heartbeat_interval=0.05,
        heartbeat_timeout=0.1,
        reconnect=ReconnectPolicy(initial=0.01, cap=0.01, max_attempts=1, jitter=0),
    )
    async with conn.audio() as audio:
        with pytest.raises(HeartbeatTimeoutError):
            await audio.read()
    # The dead socket was replaced once, then the policy gave up.
    assert len(desktop.of("audio")) == 2


async def test_oversized_and_misaligned_binary(desktop: Desktop) -> None:
    async def big(ws: ServerConnection, query: dict[str, str]) -> None:
        await ws.send('{"type":"started","sample_rate":24000,"channels":1}')
        await ws.send(b"\x00" * 4096)
        await answer_pings(ws)

    desktop.handlers["audio"] = big
    async with desktop.connection(max_size=2048).audio() as audio:
        with pytest.raises(ChannelProtocolError, match="max_size"):
            await audio.read()

    async def odd(ws: ServerConnection, query: dict[str, str]) -> None:
        await ws.send('{"type":"started","sample_rate":24000,"channels":2}')
        await ws.send(b"\x00" * 6)
        await answer_pings(ws)

    desktop.handlers["audio"] = odd
    async with desktop.connection().audio(channels=2) as audio:
        with pytest.raises(ChannelProtocolError, match="sample frames"):
            await audio.read()


async def test_binary_before_started_is_a_protocol_error(desktop: Desktop) -> None:
    async def rude(ws: ServerConnection, query: dict[str, str]) -> None:
        await ws.send(b"\x00\x00")
        await answer_pings(ws)

    desktop.handlers["audio"] = rude
    with pytest.raises(ChannelProtocolError, match="before the 'started'"):
        async with desktop.connection().audio():
            pass


async def test_bad_params_are_rejected_before_connecting(desktop: Desktop) -> None:
    conn = desktop.connection()
    with pytest.raises(ValueError):
        conn.audio(channels=3)
    with pytest.raises(ValueError):
        conn.audio(sample_rate=10)
    assert desktop.seen == []


async def test_format_change_mid_stream_is_a_protocol_error(desktop: Desktop) -> None:
    async def fickle(ws: ServerConnection, query: dict[str, str]) -> None:
        await ws.send('{"type":"started","sample_rate":24000,"channels":1}')
        await ws.send('{"type":"started","sample_rate":48000,"channels":2}')
        await answer_pings(ws)

    desktop.handlers["audio"] = fickle
    async with desktop.connection().audio() as audio:
        with pytest.raises(ChannelProtocolError, match="format changed"):
            await audio.read()


async def test_channels_share_one_refresh(desktop: Desktop) -> None:
    """Two channels rejected at once fetch the fresh password once, not twice."""
    desktop.handlers["audio"] = streaming()  # type: ignore[assignment]
    conn = desktop.connection(password="pw-stale")
    a, b = conn.audio(), conn.audio(sample_rate=48000)
    await asyncio.gather(a.open(), b.open())
    try:
        assert len(await a.read()) == 960 and len(await b.read()) == 1920
    finally:
        await a.aclose()
        await b.aclose()
    assert desktop.refreshes == 1
