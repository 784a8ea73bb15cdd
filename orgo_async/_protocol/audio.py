"""Audio channel messages and PCM/WAV arithmetic (``orgo-api.md`` §11.5).

Binary frames carry raw PCM s16le (interleaved when stereo) in 20 ms frames; text frames
are control messages. The server's first text frame, ``started``, echoes the effective
sample rate and channel count, which is what a WAV header must use.
"""

from __future__ import annotations

import functools
import math
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
#: Largest PCM payload a RIFF header can describe (its size fields are 32-bit).
MAX_WAV_DATA: Final = 0xFFFFFFFF - 36


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
    if isinstance(channels, bool) or not isinstance(channels, int):
        raise TypeError(f"channels must be an int, not {type(channels).__name__}")
    if channels not in CHANNELS:
        raise ValueError(f"channels must be 1 (mono) or 2 (stereo), not {channels!r}")


def frame_bytes(sample_rate: int, channels: int) -> int:
    """Bytes in one 20 ms frame: 960 at the default 24 kHz mono; always whole sample
    frames (a rate that is not a multiple of 50 Hz rounds down)."""
    return sample_rate * FRAME_MS // 1000 * SAMPLE_WIDTH * channels


def bytes_for_seconds(seconds: float, sample_rate: int, channels: int) -> int:
    """Bytes of PCM for ``seconds``, rounded down to a whole sample frame."""
    if not seconds >= 0 or seconds == math.inf:  # also refuses NaN
        raise ValueError(f"seconds must be a finite number >= 0, not {seconds!r}")
    return int(seconds * sample_rate) * SAMPLE_WIDTH * channels


def wav_header(sample_rate: int, channels: int, data_bytes: int) -> bytes:
    """The canonical 44-byte PCM WAV header (what stdlib ``wave`` writes).

    ``ValueError`` (or ``TypeError``) for a format :func:`check_params` refuses or a
    data size a RIFF header cannot hold (0 to 4 GiB - 37 bytes).
    """
    check_params(sample_rate, channels)
    if isinstance(data_bytes, bool) or not isinstance(data_bytes, int):
        raise TypeError(f"data_bytes must be an int, not {type(data_bytes).__name__}")
    if not 0 <= data_bytes <= MAX_WAV_DATA:
        raise ValueError(f"data_bytes must be between 0 and {MAX_WAV_DATA}, not {data_bytes}")
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
