"""The emulator's audio source: a sine tone as s16le PCM in 20 ms frames (stdlib only).

The left (or only) channel plays :data:`TONE_HZ`; in stereo the right channel plays
``TONE_HZ * RIGHT_RATIO`` (660 Hz by default), so a client that swaps or mis-strides
interleaved samples sees the wrong frequency on a channel. With an integer frequency both
tones repeat exactly every two seconds, so two seconds of PCM are rendered once and sliced.
"""

from __future__ import annotations

import math
import struct
from typing import Final

__all__ = [
    "AMPLITUDE",
    "FRAME_MS",
    "RIGHT_RATIO",
    "TONE_HZ",
    "ToneSource",
    "frame_bytes",
]

TONE_HZ: Final = 440
RIGHT_RATIO: Final = 1.5
AMPLITUDE: Final = 8000  # about -12 dBFS: loud enough to measure, far from clipping
FRAME_MS: Final = 20


def frame_bytes(sample_rate: int, channels: int) -> int:
    """Bytes in one 20 ms frame: ``sample_rate / 50`` samples x 2 bytes x ``channels``."""
    return sample_rate * FRAME_MS // 1000 * 2 * channels


class ToneSource:
    """Endless 20 ms frames of a sine tone; ``sample_rate`` must be a multiple of 50."""

    def __init__(self, sample_rate: int, channels: int, tone_hz: int = TONE_HZ) -> None:
        if sample_rate % 50 or not 1 <= channels <= 2:
            raise ValueError("sample_rate must be a multiple of 50 and channels 1 or 2")
        self.sample_rate = sample_rate
        self.channels = channels
        self.frame_size = frame_bytes(sample_rate, channels)
        freqs = [float(tone_hz), tone_hz * RIGHT_RATIO][:channels]
        step = [2 * math.pi * f / sample_rate for f in freqs]
        samples = [
            round(AMPLITUDE * math.sin(step[ch] * n))
            for n in range(2 * sample_rate)
            for ch in range(channels)
        ]
        # Two seconds hold a whole number of periods of both tones (integer x 1.5 Hz).
        self._loop_pcm = struct.pack(f"<{len(samples)}h", *samples)
        self._pos = 0

    def next_frame(self) -> bytes:
        """The next 20 ms frame (two seconds of PCM are exactly 100 frames)."""
        frame = self._loop_pcm[self._pos : self._pos + self.frame_size]
        self._pos = (self._pos + self.frame_size) % len(self._loop_pcm)
        return frame

    def skip(self, frames: int) -> None:
        """Advance ``frames`` frames without producing them (a capture that lost time)."""
        self._pos = (self._pos + frames * self.frame_size) % len(self._loop_pcm)
