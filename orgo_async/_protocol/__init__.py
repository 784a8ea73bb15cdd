"""Sans-I/O protocol layer: WebSocket messages as msgspec tagged unions, URL building,
close-code policy, PCM/WAV arithmetic, and RFB (client, relay handshake, framebuffer,
keysyms, the DES of VNC authentication). Nothing here opens a socket or a file, so all
of it is tested without I/O; :mod:`orgo_async.connection` is the thin I/O around it.

Submodules load on first use: URL building and the close-code policy do not need msgspec,
so ``import orgo_async.connection`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .limits import DEFAULT_MAX_SIZE

if TYPE_CHECKING:
    from . import audio, close_codes, events, terminal, urls
    from .codec import MessageDecoder, Unknown

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

_SUBMODULES = frozenset(
    {
        "audio", "close_codes", "events", "terminal", "urls", "codec",
        "des", "framebuffer", "keysyms", "rfb", "rfb_relay",
    }
)  # fmt: skip


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    if name in ("MessageDecoder", "Unknown"):
        return getattr(importlib.import_module(".codec", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
