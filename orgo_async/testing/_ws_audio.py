"""The audio channel (reference §11.5): ``started``, then s16le PCM in 20 ms frames.

The server sends ``{"type":"started","sample_rate":N,"channels":N}`` and then one 20 ms
frame (``N * 2 * channels / 50`` bytes) per binary message, paced in real time against
a monotonic schedule (frame *k* is due at ``t0 + k * 20 ms``, so pacing never drifts).
The source is a sine tone (:mod:`orgo_async.testing._audio`): 440 Hz on the left/only
channel, 660 Hz on the right; ``?tone=HZ`` (an emulator-only parameter, integer
20..``sample_rate/2``, ``/3`` in stereo so the right channel stays below Nyquist)
changes the base frequency.

Decisions where the reference is silent or leaves a choice:

* ``sample_rate`` must be an integer 8000..48000 and a multiple of 50 (so a 20 ms frame
  is a whole number of samples); ``channels`` 1 or 2. Anything else: error frame
  ``Failed to start audio capture: ...`` and close **4500**, the documented code for a
  capture that cannot start (a client must not reconnect-loop on it).
* A client that falls more than half a second behind loses the frames it missed (a
  live capture does not queue up), instead of getting a burst.
* ``{"type":"stop"}`` -> close 1000.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Final

from ._audio import FRAME_MS, TONE_HZ, ToneSource
from ._ws_core import CLOSE_NORMAL, CLOSE_START_FAILED, WsSession, query_int, receive_json_loop

if TYPE_CHECKING:
    from ._ws_core import FakeLike

__all__ = ["audio_channel"]

MIN_RATE: Final = 8000
MAX_RATE: Final = 48000
_MAX_LAG: Final = 0.5


def _config_error(rate: int | None, channels: int | None, tone: int | None) -> str:
    if rate is None or not MIN_RATE <= rate <= MAX_RATE or rate % 50:
        return f"sample_rate must be an integer {MIN_RATE}..{MAX_RATE} and a multiple of 50"
    if channels not in (1, 2):
        return "channels must be 1 or 2"
    # The right channel plays 1.5 x tone: keep it below Nyquist too.
    top = rate // 2 if channels == 1 else rate // 3
    if tone is None or not 20 <= tone <= top:
        return f"tone must be an integer 20..{top} at this sample_rate and channels"
    return ""


async def audio_channel(session: WsSession, fake: FakeLike) -> None:
    """Serve one audio socket: validate, announce, stream the tone until stopped."""
    rate = query_int(session.request, "sample_rate", 24000)
    channels = query_int(session.request, "channels", 1)
    tone = query_int(session.request, "tone", TONE_HZ)
    error = _config_error(rate, channels, tone)
    if error:
        await session.send_error("Failed to start audio capture: " + error)
        session.request_close(CLOSE_START_FAILED, "failed to start audio capture")
        return
    assert rate is not None and channels is not None and tone is not None
    source = ToneSource(rate, channels, tone)
    await session.send_json({"type": "started", "sample_rate": rate, "channels": channels})

    async def stream() -> None:
        loop = asyncio.get_running_loop()
        period = FRAME_MS / 1000
        t0 = loop.time()
        k = 0
        while True:
            due = t0 + k * period
            now = loop.time()
            if now - due > _MAX_LAG:
                missed = int((now - due) / period)
                source.skip(missed)
                k += missed
                continue
            if due > now:
                await asyncio.sleep(due - now)
            if not await session.send_bytes(source.next_frame()):
                return
            k += 1

    async def handle(msg: dict[str, Any]) -> None:
        if msg["type"] == "stop":
            session.request_close(CLOSE_NORMAL, "stopped")
        else:
            await session.send_error(f"Unknown message type: {msg['type']}")

    stream_task = asyncio.create_task(stream())
    try:
        await receive_json_loop(session, handle)
    finally:
        stream_task.cancel()
        await asyncio.gather(stream_task, return_exceptions=True)
