"""Live connections to a computer: terminal, audio, events and VNC WebSockets, and the
Desktop API proxy. ``websockets`` is imported only when a channel is opened.

::

    conn = orgo.connection(computer)
    async with conn.terminal() as term:
        print((await term.run("uname -a")).output)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._errors import EventSubscriptionError
from .._lazy import lazy_exports
from .._protocol.close_codes import ReconnectPolicy
from ._connection import ComputerLike, Connection, SecretURL
from ._credentials import ChannelCredentials
from ._options import ChannelOptions
from ._proxy import DesktopProxy

if TYPE_CHECKING:
    from ._audio import Audio, Recording
    from ._events import AnyEvent, Events
    from ._terminal import RunResult, Terminal
    from ._vnc import Vnc, VncBridge

__all__ = [
    "AnyEvent",
    "Audio",
    "ChannelCredentials",
    "ChannelOptions",
    "ComputerLike",
    "Connection",
    "DesktopProxy",
    "EventSubscriptionError",
    "Events",
    "ReconnectPolicy",
    "Recording",
    "RunResult",
    "SecretURL",
    "Terminal",
    "Vnc",
    "VncBridge",
]

_LAZY = {
    "Audio": "._audio",
    "Recording": "._audio",
    "AnyEvent": "._events",
    "Events": "._events",
    "RunResult": "._terminal",
    "Terminal": "._terminal",
    "Vnc": "._vnc",
    "VncBridge": "._vnc",
}


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
