"""Sans-I/O protocol layer: WebSocket messages as msgspec tagged unions, URL building,
close-code policy, PCM/WAV arithmetic, and RFB (client, relay handshake, framebuffer,
keysyms, the DES of VNC authentication). Nothing here opens a socket or a file, so all
of it is tested without I/O; :mod:`orgo_async.connection` is the thin I/O around it.

Submodules load on first use: URL building and the close-code policy do not need msgspec,
so ``import orgo_async.connection`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports
from .limits import DEFAULT_MAX_SIZE

if TYPE_CHECKING:
    from . import agent, audio, chat, close_codes, events, sse, templates, terminal, urls
    from .codec import MessageDecoder, Unknown

__all__ = [
    "DEFAULT_MAX_SIZE",
    "MessageDecoder",
    "Unknown",
    "agent",
    "audio",
    "chat",
    "close_codes",
    "events",
    "sse",
    "templates",
    "terminal",
    "urls",
]

_SUBMODULES = (
    "agent",
    "audio",
    "chat",
    "close_codes",
    "codec",
    "des",
    "events",
    "framebuffer",
    "keysyms",
    "rfb",
    "rfb_relay",
    "sse",
    "templates",
    "terminal",
    "urls",
)
_LAZY = {
    **{name: f".{name}" for name in _SUBMODULES},
    "MessageDecoder": ".codec",
    "Unknown": ".codec",
}

__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
