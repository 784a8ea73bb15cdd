"""What a close code (or a rejected handshake) means, and the reconnect backoff.

Pure policy: the channel machinery asks :func:`classify` what to do and
:func:`error_for` which typed exception tells the caller what happened.
"""

from __future__ import annotations

import enum
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

from .._errors import (
    ChannelProtocolError,
    ChannelStartError,
    ComputerGoingAwayError,
    ComputerNotRunningError,
    TokenRejectedError,
    WebSocketError,
)

__all__ = [
    "GOING_AWAY",
    "MAX_REASON",
    "MESSAGE_TOO_BIG",
    "NORMAL",
    "NOT_RUNNING",
    "START_FAILED",
    "TOKEN_REJECTED",
    "CloseKind",
    "ReconnectPolicy",
    "classify",
    "classify_handshake_status",
    "close_reason",
    "error_for",
]

NORMAL: Final = 1000
GOING_AWAY: Final = 1001
PROTOCOL_ERROR: Final = 1002
UNSUPPORTED_DATA: Final = 1003
ABNORMAL: Final = 1006
INVALID_DATA: Final = 1007
MESSAGE_TOO_BIG: Final = 1009
INTERNAL_ERROR: Final = 1011
TOKEN_REJECTED: Final = 4401
NOT_RUNNING: Final = 4404
START_FAILED: Final = 4500


class CloseKind(enum.Enum):
    """What to do about a close."""

    NORMAL = "normal"  # the stream ended: stop iterating
    TOKEN = "token"  # fetch a fresh vnc_password once and reconnect
    RETRY = "retry"  # transient: a resumable channel reconnects with backoff
    FATAL = "fatal"  # raise the typed error


def classify(code: int | None) -> CloseKind:
    """Decide from a close code (``None``: the connection dropped without a close frame)."""
    if code == NORMAL:
        return CloseKind.NORMAL
    if code == TOKEN_REJECTED:
        return CloseKind.TOKEN
    # 4404 is retryable while reconnecting (a restarting computer is briefly "not
    # running"); the channel decides whether a first connect may retry it.
    if code in (START_FAILED, PROTOCOL_ERROR, UNSUPPORTED_DATA, INVALID_DATA, MESSAGE_TOO_BIG):
        return CloseKind.FATAL
    return CloseKind.RETRY


def classify_handshake_status(status: int) -> CloseKind:
    """Decide from the HTTP status of a rejected WebSocket upgrade."""
    if status in (401, 403):
        return CloseKind.TOKEN
    if status in (404, 408, 429) or status >= 500:
        return CloseKind.RETRY
    return CloseKind.FATAL


_MESSAGES: Final = {
    GOING_AWAY: "the server is shutting down or the computer is stopping (close 1001)",
    TOKEN_REJECTED: "the token (vnc_password) was rejected (close 4401)",
    NOT_RUNNING: "the computer was not found or is not running (close 4404)",
    START_FAILED: "the server failed to start the {what} (close 4500)",
    MESSAGE_TOO_BIG: "a message was larger than max_size (close 1009)",
}


#: Longest close reason kept (RFC 6455 allows 123 bytes in a close frame): a longer one
#: given by a caller or a broken peer is cut, so an error message stays bounded.
MAX_REASON: Final = 123
# C0/C1 controls and line/paragraph separators (a reason ends up in log lines) and lone
# surrogates (a str that cannot be encoded would break whatever logs it).
_CONTROLS: Final = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


def close_reason(reason: str | bytes) -> str:
    """A close reason made safe to show: decoded (invalid UTF-8, e.g. a multi-byte
    character cut by the 123-byte limit, becomes U+FFFD), control characters and lone
    surrogates replaced by U+FFFD, at most :data:`MAX_REASON` characters."""
    text = reason.decode("utf-8", "replace") if isinstance(reason, bytes) else reason
    text = _CONTROLS.sub("\ufffd", text)
    return text if len(text) <= MAX_REASON else text[: MAX_REASON - 1] + "\u2026"


def _shown_code(code: int) -> str:
    # Close codes are 16-bit on the wire; anything else is shown as such, never as a
    # (possibly huge) number.
    return str(code) if 0 <= code <= 0xFFFF else "out of range"


def error_for(channel: str, code: int | None, reason: str | bytes = "") -> WebSocketError:
    """The typed exception for a close with ``code`` on ``channel``.

    Any ``code`` and any ``reason`` give a :class:`~orgo_async.WebSocketError` subclass
    with a bounded message (see :func:`close_reason`).
    """
    shown = close_reason(reason)
    detail = f": {shown}" if shown else ""
    what = {"terminal": "shell", "audio": "audio capture"}.get(channel, "channel")
    template = _MESSAGES.get(code) if code is not None else None
    text = template.format(what=what) if template else None
    cls: type[WebSocketError] = WebSocketError
    if code == TOKEN_REJECTED:
        cls = TokenRejectedError
    elif code == NOT_RUNNING:
        cls = ComputerNotRunningError
    elif code == START_FAILED:
        cls = ChannelStartError
    elif code == GOING_AWAY:
        cls = ComputerGoingAwayError
    elif code in (PROTOCOL_ERROR, UNSUPPORTED_DATA, INVALID_DATA, MESSAGE_TOO_BIG):
        cls = ChannelProtocolError
        text = f"{text or 'protocol error'} (close {code})" if not template else text
    elif code is None or code == ABNORMAL:
        text = "the connection dropped without a close frame"
    if text is None:
        assert code is not None
        text = f"the server closed the connection (close {_shown_code(code)})"
    return cls(f"{channel}: {text}{detail}", channel=channel, code=code, reason=shown or None)


@dataclass(frozen=True, slots=True)
class ReconnectPolicy:
    """Capped exponential backoff for the channels that can resume (audio, events, vnc).

    The documented schedule starts at 2 s and caps at 30 s. ``max_attempts`` consecutive
    failed reconnects (or drops without a healthy period in between) give up and raise
    the last error; ``jitter`` spreads reconnects of many clients apart (0 = none).
    """

    initial: float = 2.0
    cap: float = 30.0
    factor: float = 2.0
    max_attempts: int = 10
    jitter: float = 0.2

    def __post_init__(self) -> None:
        if self.initial < 0 or self.cap < self.initial or self.factor < 1:
            raise ValueError("need 0 <= initial <= cap and factor >= 1")
        if self.max_attempts < 0 or not 0 <= self.jitter <= 1:
            raise ValueError("need max_attempts >= 0 and 0 <= jitter <= 1")

    def delay(self, attempt: int) -> float:
        """Seconds to wait before reconnect number ``attempt`` (0-based)."""
        base = min(self.cap, self.initial * self.factor ** min(attempt, 64))
        if self.jitter:
            base *= 1 - self.jitter * random.random()
        return base

    def delays(self) -> Iterator[float]:
        """The whole schedule, ``max_attempts`` long."""
        for n in range(self.max_attempts):
            yield self.delay(n)


#: No reconnects at all.
NO_RECONNECT: Final = ReconnectPolicy(initial=0.0, cap=0.0, max_attempts=0)
