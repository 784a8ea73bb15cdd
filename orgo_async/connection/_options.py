"""Settings shared by the channels of a connection."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from .._protocol.close_codes import ReconnectPolicy
from .._protocol.limits import DEFAULT_MAX_SIZE

__all__ = ["ChannelOptions"]


@dataclass(frozen=True, slots=True)
class ChannelOptions:
    """Settings shared by the channels of a :class:`~orgo_async.Connection`.

    Attributes:
        heartbeat_interval: seconds between JSON pings (documented: about 30 s); ``None``
            turns the heartbeat off. VNC uses WebSocket ping frames on the same interval.
        heartbeat_timeout: seconds to wait for the pong before the connection is declared
            dead (:class:`~orgo_async.HeartbeatTimeoutError`).
        max_size: largest incoming message in bytes (JSON channels and audio).
        vnc_max_size: largest incoming VNC message (framebuffer updates are large).
        open_timeout: seconds for the WebSocket handshake plus the channel's own opening
            exchange (``started``, ``subscribed``).
        close_timeout: seconds to wait for the closing handshake.
        reconnect: backoff for audio, events and vnc.
    """

    heartbeat_interval: float | None = 30.0
    heartbeat_timeout: float = 10.0
    max_size: int = DEFAULT_MAX_SIZE
    vnc_max_size: int = 16 << 20
    open_timeout: float = 10.0
    close_timeout: float = 5.0
    reconnect: ReconnectPolicy = field(default_factory=ReconnectPolicy)

    def __post_init__(self) -> None:
        if self.heartbeat_interval is not None and self.heartbeat_interval <= 0:
            raise ValueError("heartbeat_interval must be > 0 or None")
        if self.heartbeat_timeout <= 0 or self.open_timeout <= 0 or self.close_timeout <= 0:
            raise ValueError("timeouts must be > 0")
        if self.max_size < 1024 or self.vnc_max_size < 1024:
            raise ValueError("max_size must be at least 1024 bytes")

    def with_changes(self, **changes: Any) -> ChannelOptions:
        """A copy with ``changes`` (``None`` values are ignored)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})
