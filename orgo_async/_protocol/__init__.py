"""Sans-I/O protocol layer: WebSocket messages as msgspec tagged unions, URL building,
close-code policy and PCM/WAV arithmetic. Nothing here opens a socket or a file, so all
of it is tested without I/O; :mod:`orgo_async.connection` is the thin I/O around it.
"""

from __future__ import annotations

from . import audio, close_codes, events, terminal, urls
from .codec import DEFAULT_MAX_SIZE, MessageDecoder, Unknown

__all__ = [
    "DEFAULT_MAX_SIZE",
    "MessageDecoder",
    "Unknown",
    "audio",
    "close_codes",
    "events",
    "terminal",
    "urls",
]
