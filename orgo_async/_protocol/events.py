"""Events channel messages (``orgo-api.md`` §11.6).

Events arrive wrapped as ``{"type": "event", "event": {"type": ..., "timestamp": ...,
"data": {...}}}``. :func:`EventsDecoder.decode` unwraps them: the result is either a typed
event (every one has ``.type``, ``.timestamp`` and a typed ``.data``), an
:class:`UnknownEvent` for an event type this SDK does not know, a control message
(``subscribed``, ``unsubscribed``, ``pong``, ``error``) or :class:`Unknown`.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import datetime
from typing import Any, Final

import msgspec

from .._errors import ChannelProtocolError
from .codec import DEFAULT_MAX_SIZE, MessageDecoder, Unknown, encode, tags_of

__all__ = [
    "EVENT_TYPES",
    "PING",
    "Active",
    "AudioStreamStart",
    "AudioStreamStop",
    "Clipboard",
    "ClipboardData",
    "ControlMessage",
    "EmptyData",
    "Error",
    "Event",
    "EventsDecoder",
    "FileChange",
    "FileChangeData",
    "Idle",
    "IdleData",
    "Ping",
    "Pong",
    "ProcessData",
    "ProcessStart",
    "ProcessStop",
    "ScreenChange",
    "ScreenData",
    "Subscribe",
    "Subscribed",
    "Unknown",
    "UnknownEvent",
    "Unsubscribe",
    "Unsubscribed",
    "WindowClose",
    "WindowData",
    "WindowFocus",
    "WindowOpen",
    "decoder",
    "encode_subscribe",
    "encode_unsubscribe",
]


# -- event payloads: fields optional so a server that omits one cannot break the client --


class _Data(msgspec.Struct, kw_only=True, omit_defaults=True):
    pass


class WindowData(_Data):
    """``window_focus`` / ``window_open`` / ``window_close``."""

    window_id: str | None = None
    title: str | None = None


class ClipboardData(_Data):
    """``clipboard``."""

    content: str | None = None


class FileChangeData(_Data):
    """``file_change``: ``action`` is ``created``, ``modified`` or ``deleted``."""

    path: str | None = None
    action: str | None = None


class ScreenData(_Data):
    """``screen_change``."""

    width: int | None = None
    height: int | None = None


class ProcessData(_Data):
    """``process_start`` / ``process_stop``."""

    pid: int | None = None
    name: str | None = None


class IdleData(_Data):
    """``idle``."""

    idle_seconds: float | None = None


class EmptyData(_Data):
    """Events without payload (``active``, ``audio_stream_start``/``stop``)."""


class _Event(msgspec.Struct, tag_field="type", kw_only=True):
    timestamp: datetime | None = None

    @property
    def type(self) -> str:
        """The event type, e.g. ``window_focus``."""
        return str(self.__struct_config__.tag)


class WindowFocus(_Event, tag="window_focus"):
    """A window got focus."""

    data: WindowData = msgspec.field(default_factory=WindowData)


class WindowOpen(_Event, tag="window_open"):
    """A window opened."""

    data: WindowData = msgspec.field(default_factory=WindowData)


class WindowClose(_Event, tag="window_close"):
    """A window closed."""

    data: WindowData = msgspec.field(default_factory=WindowData)


class Clipboard(_Event, tag="clipboard"):
    """The clipboard changed."""

    data: ClipboardData = msgspec.field(default_factory=ClipboardData)


class FileChange(_Event, tag="file_change"):
    """A file in ~/Desktop or ~/Downloads was created, modified or deleted."""

    data: FileChangeData = msgspec.field(default_factory=FileChangeData)


class ScreenChange(_Event, tag="screen_change"):
    """The screen size changed."""

    data: ScreenData = msgspec.field(default_factory=ScreenData)


class AudioStreamStart(_Event, tag="audio_stream_start"):
    """Something started playing audio."""

    data: EmptyData = msgspec.field(default_factory=EmptyData)


class AudioStreamStop(_Event, tag="audio_stream_stop"):
    """Audio playback stopped."""

    data: EmptyData = msgspec.field(default_factory=EmptyData)


class ProcessStart(_Event, tag="process_start"):
    """A process started."""

    data: ProcessData = msgspec.field(default_factory=ProcessData)


class ProcessStop(_Event, tag="process_stop"):
    """A process stopped."""

    data: ProcessData = msgspec.field(default_factory=ProcessData)


class Idle(_Event, tag="idle"):
    """No input for 30 s."""

    data: IdleData = msgspec.field(default_factory=IdleData)


class Active(_Event, tag="active"):
    """Input resumed after idle."""

    data: EmptyData = msgspec.field(default_factory=EmptyData)


Event = (
    WindowFocus
    | WindowOpen
    | WindowClose
    | Clipboard
    | FileChange
    | ScreenChange
    | AudioStreamStart
    | AudioStreamStop
    | ProcessStart
    | ProcessStop
    | Idle
    | Active
)

#: Every documented event type.
EVENT_TYPES: Final = tags_of(Event)


class UnknownEvent(msgspec.Struct, kw_only=True):
    """An event type this SDK does not know; ``data`` is the raw payload."""

    type: str
    data: dict[str, Any]
    timestamp: datetime | None = None


# -- control messages --------------------------------------------------------------------


class _Message(msgspec.Struct, tag_field="type"):
    @property
    def type(self) -> str:
        """The message's ``type`` tag."""
        return str(self.__struct_config__.tag)


class Subscribe(_Message, tag="subscribe"):
    """Add event types to this connection's subscriptions."""

    event_types: list[str]


class Unsubscribe(_Message, tag="unsubscribe"):
    """Remove event types."""

    event_types: list[str]


class Ping(_Message, tag="ping"):
    """Heartbeat."""


class Subscribed(_Message, tag="subscribed"):
    """Subscription acknowledged."""

    message: str = ""


class Unsubscribed(_Message, tag="unsubscribed"):
    """Unsubscription acknowledged."""

    message: str = ""


class Pong(_Message, tag="pong"):
    """Heartbeat reply."""


class Error(_Message, tag="error"):
    """E.g. ``Unknown event type: invalid_type``."""

    message: str


class _EventFrame(_Message, tag="event"):
    event: Event


ControlMessage = Subscribed | Unsubscribed | Pong | Error
_ServerFrame = _EventFrame | Subscribed | Unsubscribed | Pong | Error
_datetime = msgspec.json.Decoder(datetime)

PING: Final = encode(Ping())


def _types(event_types: Iterable[str]) -> list[str]:
    if isinstance(event_types, str):
        # A bare string would be iterated character by character.
        raise TypeError("event_types must be a list of str, not a str")
    types = list(dict.fromkeys(event_types))
    for t in types:
        if not isinstance(t, str) or not t:
            raise TypeError(f"event types must be non-empty strings, not {t!r}")
    return types


def encode_subscribe(event_types: Iterable[str]) -> bytes:
    """Frame subscribing to ``event_types`` (deduplicated, order kept)."""
    return encode(Subscribe(event_types=_types(event_types)))


def encode_unsubscribe(event_types: Iterable[str]) -> bytes:
    """Frame unsubscribing from ``event_types``."""
    return encode(Unsubscribe(event_types=_types(event_types)))


class EventsDecoder:
    """Decode server frames of the events channel (use :func:`decoder` to share one)."""

    __slots__ = ("_decoder", "_inner")

    def __init__(self, max_size: int = DEFAULT_MAX_SIZE) -> None:
        # The shared machinery (size check, errors, Unknown fallback) plus a typed decoder
        # of our own: events are unwrapped from their frame on the way out.
        self._inner: MessageDecoder[_ServerFrame] = MessageDecoder(
            "events", _ServerFrame, max_size=max_size
        )
        self._decoder = msgspec.json.Decoder(_ServerFrame)

    @property
    def max_size(self) -> int:
        """The largest frame accepted."""
        return self._inner.max_size

    def error(self, message: str) -> ChannelProtocolError:
        """A protocol error attributed to the events channel."""
        return self._inner.error(message)

    def decode(self, frame: str | bytes) -> Event | UnknownEvent | ControlMessage | Unknown:
        """Decode one text frame; events come back unwrapped."""
        self._inner.check_size(frame)
        try:
            msg = self._decoder.decode(frame)
        except msgspec.ValidationError as e:
            return self._fallback(frame, e)
        except msgspec.DecodeError:
            raise self._inner.error("malformed JSON") from None
        except UnicodeEncodeError:
            raise self._inner.not_utf8() from None
        if isinstance(msg, _EventFrame):
            return msg.event
        return msg

    def _fallback(
        self, frame: str | bytes, cause: msgspec.ValidationError
    ) -> UnknownEvent | Unknown:
        inner = self._inner
        obj = inner.raw(frame, cause)
        if obj["type"] != "event":
            return inner.fallback(frame, cause)
        event = obj.get("event")
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            raise inner.error("event frame without an 'event' object with a string 'type'")
        kind = event["type"]
        if kind in EVENT_TYPES:
            raise inner.error(f"invalid {kind!r} event: {cause}")
        data = event.get("data", {})
        if not isinstance(data, dict):
            raise inner.error(f"event {kind!r} has non-object data")
        timestamp = None
        raw_ts = event.get("timestamp")
        if isinstance(raw_ts, str):
            try:
                timestamp = _datetime.decode(msgspec.json.encode(raw_ts))
            except msgspec.DecodeError:
                timestamp = None
        return UnknownEvent(type=kind, data=data, timestamp=timestamp)


@functools.lru_cache(maxsize=8)
def decoder(max_size: int = DEFAULT_MAX_SIZE) -> EventsDecoder:
    """The events decoder for ``max_size``; built once and shared."""
    return EventsDecoder(max_size)
