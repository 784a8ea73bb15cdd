"""Chat wire formats that are not plain JSON (``orgo-api.md`` §10). No I/O.

* ``POST /chat/threads/{id}/title`` answers ``text/plain`` in the AI SDK "data stream"
  form, one part per line: ``0:"GitHub search "`` then ``0:"session"`` ...; a ``0:``
  part is a JSON string of text. :class:`TitleStreamDecoder` yields the text parts; an
  ``3:`` part is an error; other part types (finish, metadata) are skipped, and a line
  that is not ``<type>:<json>`` at all is taken as plain text, so a server answering a
  bare title still works.
* ``/v1/chat/completions`` reports errors with a nested ``code``; inside an event stream
  there is no HTTP status, so :data:`CODE_STATUS` gives the status the same ``code``
  has on a non-streamed answer.
"""

from __future__ import annotations

import codecs
import re
from typing import Final

import msgspec

__all__ = ["CODE_STATUS", "DONE", "TitleStreamDecoder", "TitleStreamError"]

#: The data of the last event of a streamed completion.
DONE: Final = "[DONE]"

#: Documented error codes of ``/v1/chat/completions`` and their HTTP statuses.
CODE_STATUS: Final[dict[str, int]] = {
    "invalid_json": 400,
    "invalid_model": 400,
    "missing_computer_id": 400,
    "empty_messages": 400,
    "invalid_message_order": 400,
    "context_overflow": 400,
    "invalid_api_key": 401,
    "credits_exhausted": 402,
    "computer_not_found": 404,
    "internal_error": 500,
}

_PART = re.compile(r"([0-9a-z]):(.*)", re.DOTALL)
_MAX_LINE: Final = 1 << 20


class TitleStreamError(ValueError):
    """The title stream reported an error part (``3:"..."``) or broke its framing."""


class TitleStreamDecoder:
    """Incremental decoder of the title stream: ``feed(bytes)`` returns text pieces."""

    __slots__ = ("_buffer", "_decoder")

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buffer = ""

    def feed(self, chunk: bytes) -> list[str]:
        """Decode ``chunk``; returns the text of the complete lines it finished."""
        self._buffer += self._decoder.decode(chunk)
        *lines, self._buffer = self._buffer.split("\n")
        if len(self._buffer) > _MAX_LINE:
            raise TitleStreamError(f"title stream line longer than {_MAX_LINE} characters")
        return [text for line in lines if (text := self._part(line))]

    def close(self) -> list[str]:
        """The end of the stream: a last line without a newline still counts."""
        rest = self._buffer + self._decoder.decode(b"", final=True)
        self._buffer = ""
        text = self._part(rest)
        return [text] if text else []

    @staticmethod
    def _part(line: str) -> str:
        line = line.rstrip("\r")
        m = _PART.fullmatch(line)
        if m is None:
            return line
        kind, payload = m[1], m[2]
        try:
            value = msgspec.json.decode(payload)
        except msgspec.DecodeError:
            return line  # "a:b" in a bare title is text, not a part
        if kind == "0":
            return value if isinstance(value, str) else ""
        if kind == "3":
            raise TitleStreamError(f"the title stream reported an error: {value}")
        return ""
