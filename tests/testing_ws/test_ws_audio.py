"""The audio channel (§11.5): started frame, 20 ms s16le frames, a tone we can measure."""

from __future__ import annotations

import array
import asyncio
import itertools
import json
import math
import sys
from typing import Any

import pytest

from orgo_async.testing._audio import AMPLITUDE, ToneSource, frame_bytes

from .conftest import Harness, close_code, recv_json


async def _collect(ws: Any, frames: int) -> list[bytes]:
    out: list[bytes] = []
    async with asyncio.timeout(20):
        while len(out) < frames:
            msg = await ws.recv()
            assert isinstance(msg, bytes), f"unexpected text frame {msg!r}"
            out.append(msg)
    return out


def _samples(pcm: bytes) -> array.array[int]:
    a = array.array("h")
    a.frombytes(pcm)
    if sys.byteorder == "big":  # s16le on the wire
        a.byteswap()
    return a


def _rising_crossings(samples: list[int]) -> int:
    return sum(1 for a, b in itertools.pairwise(samples) if a < 0 <= b)


def _power(samples: list[int], rate: int, freq: float) -> float:
    """Goertzel: the signal's power at ``freq`` (normalised by length)."""
    coeff = 2 * math.cos(2 * math.pi * freq / rate)
    s1 = s2 = 0.0
    for x in samples:
        s1, s2 = x + coeff * s1 - s2, s1
    return (s1 * s1 + s2 * s2 - coeff * s1 * s2) / len(samples) ** 2


@pytest.mark.parametrize(("rate", "channels", "tones"), [(24000, 1, [440]), (48000, 2, [440, 660])])
async def test_one_second_of_tone(
    harness: Harness, rate: int, channels: int, tones: list[int]
) -> None:
    query = {} if rate == 24000 else {"sample_rate": rate, "channels": channels}
    async with harness.connect("audio", **query) as ws:
        assert await recv_json(ws) == {"type": "started", "sample_rate": rate, "channels": channels}
        frames = await _collect(ws, 50)  # one second
        await ws.send(json.dumps({"type": "stop"}))
        assert await close_code(ws) == 1000
    size = rate * 2 * channels // 50
    assert size == (960 if rate == 24000 else 3840)
    assert all(len(f) == size for f in frames)
    samples = _samples(b"".join(frames))
    assert len(samples) == rate * channels
    for ch, tone in enumerate(tones):
        chan = list(samples[ch::channels])
        # A pure tone crosses zero upwards once per period: one second -> ``tone`` times.
        assert abs(_rising_crossings(chan) - tone) <= 1
        assert max(chan) <= AMPLITUDE and max(chan) > AMPLITUDE * 0.99
        others = [t for t in (440, 660, 880) if t != tone]
        assert all(_power(chan, rate, tone) > 100 * _power(chan, rate, o) for o in others)


async def test_tone_query_parameter(harness: Harness) -> None:
    async with harness.connect("audio", sample_rate=8000, tone=1000) as ws:
        await recv_json(ws)
        frames = await _collect(ws, 25)
    chan = list(_samples(b"".join(frames)))
    assert abs(_rising_crossings(chan) - 500) <= 1  # half a second of 1 kHz


async def test_stop_closes_1000(harness: Harness) -> None:
    async with harness.connect("audio") as ws:
        assert (await recv_json(ws))["type"] == "started"
        await ws.send(json.dumps({"type": "stop"}))
        assert await close_code(ws) == 1000


async def test_ping_pong_among_pcm(harness: Harness) -> None:
    async with harness.connect("audio") as ws:
        await recv_json(ws)
        await ws.send(json.dumps({"type": "ping"}))
        async with asyncio.timeout(10):
            while isinstance(msg := await ws.recv(), bytes):
                assert len(msg) == 960
        assert json.loads(msg) == {"type": "pong"}


@pytest.mark.parametrize(
    "query",
    [
        {"sample_rate": 7999},
        {"sample_rate": 96000},
        {"sample_rate": 44110},
        {"sample_rate": "fast"},
        {"channels": 3},
        {"channels": 0},
        {"tone": 5},
        {"sample_rate": 8000, "channels": 2, "tone": 3000},
    ],
)
async def test_invalid_config_error_then_4500(harness: Harness, query: dict[str, Any]) -> None:
    async with harness.connect("audio", **query) as ws:
        frame = await recv_json(ws)
        assert frame["type"] == "error"
        assert frame["message"].startswith("Failed to start audio capture")
        assert await close_code(ws) == 4500


async def test_44100_is_accepted(harness: Harness) -> None:
    async with harness.connect("audio", sample_rate=44100, channels=2) as ws:
        assert (await recv_json(ws))["sample_rate"] == 44100
        (frame,) = await _collect(ws, 1)
        assert len(frame) == frame_bytes(44100, 2) == 3528


def test_tone_source_is_continuous_across_the_loop() -> None:
    src = ToneSource(8000, 2, 441)  # 441 x 1.5 = 661.5 Hz: whole periods only in 2 s
    pcm = b"".join(src.next_frame() for _ in range(200))  # two full loops
    s = _samples(pcm)
    right = list(s[1::2])
    # A seam would add or lose a crossing; 4 s of 661.5 Hz has exactly 2646.
    assert abs(_rising_crossings(right) - 2646) <= 1
