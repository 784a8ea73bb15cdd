"""Audio channel messages and PCM/WAV arithmetic (``orgo-api.md`` §11.5).

Binary frames carry raw PCM s16le (interleaved when stereo) in 20 ms frames; text frames
are control messages. The server's first text frame, ``started``, echoes the effective
sample rate and channel count, which is what a WAV header must use.
"""

from __future__ import annotations

import functools
import struct
from typing import Final

import msgspec

from .codec import DEFAULT_MAX_SIZE, MessageDecoder, Unknown, encode

__all__ = [
    "PING",
    "SAMPLE_WIDTH",
    "STOP",
    "ClientMessage",
    "Error",
    "Ping",
    "Pong",
    "ServerMessage",
    "Started",
    "Stop",
    "Unknown",
    "bytes_for_seconds",
    "check_params",
    "decoder",
    "frame_bytes",
    "wav_header",
]

#: Bytes per sample: s16le.
SAMPLE_WIDTH: Final = 2
#: Documented frame length.
FRAME_MS: Final = 20
SAMPLE_RATES: Final = range(8_000, 192_001)
CHANNELS: Final = (1, 2)


class _Message(msgspec.Struct, tag_field="type"):
    @property
    def type(self) -> str:
        """The message's ``type`` tag."""
        return str(self.__struct_config__.tag)


class Stop(_Message, tag="stop"):
    """Stop capture; the server closes with 1000."""


class Ping(_Message, tag="ping"):
    """Heartbeat."""


class Started(_Message, tag="started"):
    """First server message: the effective configuration."""

    sample_rate: int
    channels: int


class Pong(_Message, tag="pong"):
    """Heartbeat reply."""


class Error(_Message, tag="error"):
    """Start or stream failure, e.g. ``Failed to start audio capture``."""

    message: str


ClientMessage = Stop | Ping
ServerMessage = Started | Pong | Error

PING: Final = encode(Ping())
STOP: Final = encode(Stop())


@functools.lru_cache(maxsize=8)
def decoder(max_size: int = DEFAULT_MAX_SIZE) -> MessageDecoder[ServerMessage]:
    """The decoder for the server's text frames; built once per ``max_size`` and shared."""
    return MessageDecoder("audio", ServerMessage, max_size=max_size)


def check_params(sample_rate: int, channels: int) -> None:
    """Validate a requested (or negotiated) format."""
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, int):
        raise TypeError(f"sample_rate must be an int, not {type(sample_rate).__name__}")
    if sample_rate not in SAMPLE_RATES:
        raise ValueError(f"sample_rate must be between 8000 and 192000 Hz, not {sample_rate}")
    if isinstance(channels, bool) or channels not in CHANNELS:
        raise ValueError(f"channels must be 1 (mono) or 2 (stereo), not {channels!r}")


def frame_bytes(sample_rate: int, channels: int) -> int:
    """Bytes in one 20 ms frame: 960 at the default 24 kHz mono."""
    return SAMPLE_WIDTH * channels * sample_rate * FRAME_MS // 1000


def bytes_for_seconds(seconds: float, sample_rate: int, channels: int) -> int:
    """Bytes of PCM for ``seconds``, rounded down to a whole sample frame."""
    if seconds < 0:
        raise ValueError("seconds must be >= 0")
    return int(seconds * sample_rate) * SAMPLE_WIDTH * channels


def wav_header(sample_rate: int, channels: int, data_bytes: int) -> bytes:
    """The canonical 44-byte PCM WAV header (what stdlib ``wave`` writes)."""
    block_align = channels * SAMPLE_WIDTH
    return struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF",
        36 + data_bytes,
        b"WAVE",
        b"fmt ",
        16,
        1,  # PCM
        channels,
        sample_rate,
        sample_rate * block_align,
        block_align,
        SAMPLE_WIDTH * 8,
        b"data",
        data_bytes,
    )
