"""Server-sent events (``text/event-stream``), decoded incrementally. No I/O.

Follows the WHATWG HTML "event stream interpretation" rules: lines end in CRLF, LF or CR
(a CR at the end of one chunk and the LF at the start of the next are one line end);
``data`` lines of one event are joined with ``\\n``; lines starting with ``:`` are
comments (keep-alives); an event is dispatched on a blank line, and one without ``data``
is not dispatched; ``id`` persists across events; an unterminated event at the end of
the stream is dropped. A UTF-8 byte order mark at the very start is skipped.

Used by template build events and streamed chat completions::

    decoder = SSEDecoder()
    for chunk in chunks:
        for event in decoder.feed(chunk):
            print(event.event, event.data)
"""

from __future__ import annotations

import codecs
from typing import Final

import msgspec

from .._errors import APIDecodeError

__all__ = ["DEFAULT_MAX_EVENT_SIZE", "SSEDecoder", "ServerSentEvent"]

#: The largest event (its data) or line accepted; a server that streams more without a
#: line end is broken or hostile, and would otherwise grow the buffer without bound.
DEFAULT_MAX_EVENT_SIZE: Final = 1 << 20


class ServerSentEvent(msgspec.Struct, frozen=True):
    """One dispatched event. ``event`` is ``"message"`` unless the server named it."""

    data: str
    event: str = "message"
    id: str | None = None
    retry: int | None = None


class SSEDecoder:
    """Turns chunks of bytes into :class:`ServerSentEvent` s.

    Raises :class:`~orgo_async.APIDecodeError` (with ``status_code``) when a line or an
    event's data grows past ``max_event_size``.
    """

    __slots__ = (
        "_buffer",
        "_data",
        "_data_size",
        "_decoder",
        "_event",
        "_last_id",
        "_pending_cr",
        "_retry",
        "_started",
        "max_event_size",
        "status_code",
    )

    def __init__(self, *, max_event_size: int = DEFAULT_MAX_EVENT_SIZE, status_code: int = 200):
        self.max_event_size = max_event_size
        self.status_code = status_code
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buffer = ""
        self._pending_cr = False
        self._started = False
        self._data: list[str] = []
        self._data_size = 0
        self._event = ""
        self._last_id: str | None = None
        self._retry: int | None = None

    @property
    def last_event_id(self) -> str | None:
        """The last ``id`` seen (what a reconnect would send as ``Last-Event-ID``)."""
        return self._last_id

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        """Decode ``chunk``; returns the events it completed (often none or one)."""
        text = self._decoder.decode(chunk)
        if not self._started and text:
            self._started = True
            text = text.removeprefix("\ufeff")
        if self._pending_cr:
            self._pending_cr = False
            text = text.removeprefix("\n")
        events: list[ServerSentEvent] = []
        buffer = self._buffer + text
        start = 0
        while True:
            cut = _line_end(buffer, start)
            if cut < 0:
                break
            line = buffer[start:cut]
            if buffer[cut] == "\r":
                if cut + 1 == len(buffer):
                    self._pending_cr = True  # maybe CRLF split across chunks
                    start = cut + 1
                elif buffer[cut + 1] == "\n":
                    start = cut + 2
                else:
                    start = cut + 1
            else:
                start = cut + 1
            event = self._line(line)
            if event is not None:
                events.append(event)
        self._buffer = buffer[start:]
        if len(self._buffer) > self.max_event_size:
            raise self._error(f"line longer than {self.max_event_size} characters")
        return events

    def _line(self, line: str) -> ServerSentEvent | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None  # a comment: keep-alive
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
            self._data_size += len(value) + 1
            if self._data_size > self.max_event_size:
                raise self._error(f"event larger than {self.max_event_size} characters")
        elif name == "event":
            self._event = value
        elif name == "id":
            if "\x00" not in value:
                self._last_id = value
        elif name == "retry" and value.isascii() and value.isdigit():
            self._retry = int(value)
        return None  # unknown fields are ignored, as the standard says

    def _dispatch(self) -> ServerSentEvent | None:
        data, event = self._data, self._event
        self._data, self._data_size, self._event = [], 0, ""
        if not data:
            return None
        return ServerSentEvent(
            data="\n".join(data), event=event or "message", id=self._last_id, retry=self._retry
        )

    def _error(self, message: str) -> APIDecodeError:
        return APIDecodeError(
            f"event stream: {message}",
            status_code=self.status_code,
            body=self._buffer[:200].encode(),
        )


def _line_end(text: str, start: int) -> int:
    """Index of the first CR or LF at or after ``start``, or -1."""
    lf = text.find("\n", start)
    cr = text.find("\r", start, lf if lf >= 0 else len(text))
    return cr if cr >= 0 else lf
