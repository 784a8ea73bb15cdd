"""Terminal channel messages (``orgo-api.md`` §11.4): JSON text frames both ways."""

from __future__ import annotations

import functools
from typing import Final

import msgspec

from .codec import DEFAULT_MAX_SIZE, MessageDecoder, Unknown, encode

__all__ = [
    "PING",
    "ClientMessage",
    "Error",
    "Exit",
    "Input",
    "Output",
    "Ping",
    "Pong",
    "Resize",
    "ServerMessage",
    "Unknown",
    "check_size",
    "decoder",
    "encode_input",
    "encode_resize",
]

MAX_DIMENSION: Final = 10_000


class _Message(msgspec.Struct, tag_field="type"):
    @property
    def type(self) -> str:
        """The message's ``type`` tag."""
        return str(self.__struct_config__.tag)


# -- client -> server -------------------------------------------------------------------


class Input(_Message, tag="input"):
    """Keystrokes; ``\\r`` is Enter."""

    data: str


class Resize(_Message, tag="resize"):
    """Resize the PTY."""

    cols: int
    rows: int


class Ping(_Message, tag="ping"):
    """Heartbeat."""


# -- server -> client -------------------------------------------------------------------


class Output(_Message, tag="output"):
    """Terminal output; may contain ANSI escape sequences."""

    data: str


class Error(_Message, tag="error"):
    """A server-side error, e.g. ``Connection failed``."""

    message: str


class Exit(_Message, tag="exit"):
    """The shell exited with ``code``."""

    code: int


class Pong(_Message, tag="pong"):
    """Heartbeat reply."""


ClientMessage = Input | Resize | Ping
ServerMessage = Output | Error | Exit | Pong

PING: Final = encode(Ping())


@functools.lru_cache(maxsize=8)
def decoder(max_size: int = DEFAULT_MAX_SIZE) -> MessageDecoder[ServerMessage]:
    """The decoder for server frames; built once per ``max_size`` and shared."""
    return MessageDecoder("terminal", ServerMessage, max_size=max_size)


def check_size(cols: int, rows: int) -> None:
    """Validate a terminal size; ``ValueError`` says what is wrong."""
    for name, value in (("cols", cols), ("rows", rows)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name} must be an int, not {type(value).__name__}")
        if not 1 <= value <= MAX_DIMENSION:
            raise ValueError(f"{name} must be between 1 and {MAX_DIMENSION}, not {value}")


def encode_input(data: str) -> bytes:
    """Frame for typed input."""
    if not isinstance(data, str):
        raise TypeError(f"terminal input must be a str, not {type(data).__name__}")
    return encode(Input(data=data))


def encode_resize(cols: int, rows: int) -> bytes:
    """Frame for a resize, validated."""
    check_size(cols, rows)
    return encode(Resize(cols=cols, rows=rows))
