"""A channel's lifecycle as plain data and decisions: no sockets, no tasks, no clock.

The asyncio layer (:mod:`orgo_async.connection`) reports what happened (a socket opened,
a frame arrived, a connect attempt failed, the connection was lost) and asks
:class:`ChannelMachine` what to do next; the machine answers with a :class:`Decision`:

* ``END``: the stream is over, stop without an error;
* ``REFRESH``: fetch a fresh token (``vnc_password``), then connect again;
* ``RECONNECT``: connect again, after :meth:`ChannelMachine.backoff` seconds;
* ``FAIL``: give up with ``decision.error``;
* ``LOST``: give up; the channel reports the loss its own way (a terminal's shell cannot
  resume, so it raises :class:`~orgo_async.SessionLostError`).

The token dance is one fetch per rejection streak: a rejection (4401, or 401/403 on the
upgrade) triggers one refresh; a rejection of a socket opened with that fresh token before
it said anything (the token is "on probation") is final. This mirrors how websockets keeps
its protocol state machine apart from asyncio, so every branch is a table test.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final

from .._errors import HeartbeatTimeoutError, TokenRejectedError, WebSocketError
from . import close_codes
from .close_codes import CloseKind, ReconnectPolicy

__all__ = [
    "Action",
    "ChannelFailure",
    "ChannelMachine",
    "Decision",
    "State",
    "failure_from_close",
    "failure_from_status",
    "token_error",
]


class State(enum.Enum):
    """Where a channel is in its life."""

    NEW = "new"  # built, not opened yet
    OPENING = "opening"  # the first connect and handshake are running
    OPEN = "open"  # the reader runs; sending is allowed
    CLOSING = "closing"  # our side is ending the channel (aclose, a terminal's exit)
    CLOSED = "closed"  # over, normally or with an error


class ChannelFailure(Exception):
    """A connect attempt or a connection failed; ``kind`` says what that means.

    Raised by the I/O layer (and by a channel's frame handlers for a broken stream) and
    handed to :class:`ChannelMachine`, which decides.
    """

    def __init__(self, kind: CloseKind, error: WebSocketError, *, code: int | None = None) -> None:
        super().__init__(str(error))
        self.kind = kind
        self.error = error
        self.code = code


class Action(enum.Enum):
    """What the I/O layer does next."""

    END = "end"
    REFRESH = "refresh"
    RECONNECT = "reconnect"
    FAIL = "fail"
    LOST = "lost"


@dataclass(frozen=True, slots=True)
class Decision:
    """An :class:`Action` and, for ``FAIL``, the error to raise."""

    action: Action
    error: WebSocketError | None = None


_END: Final = Decision(Action.END)
_REFRESH: Final = Decision(Action.REFRESH)
_RECONNECT: Final = Decision(Action.RECONNECT)
_LOST: Final = Decision(Action.LOST)

REJECTED_AGAIN: Final = "the token was rejected again after fetching a fresh vnc_password"
NO_REFRESH: Final = (
    "the token was rejected and there is no way to fetch a fresh one; use "
    "orgo.connection(computer) or pass refresh= to Connection"
)


def token_error(channel: str, message: str) -> TokenRejectedError:
    """The :class:`~orgo_async.TokenRejectedError` ending a token dance."""
    return TokenRejectedError(
        f"{channel}: {message} (close 4401)", channel=channel, code=close_codes.TOKEN_REJECTED
    )


def _fail(error: WebSocketError) -> Decision:
    return Decision(Action.FAIL, error)


class ChannelMachine:
    """The decisions of one channel, driven by events from the I/O layer.

    Attributes:
        state: the channel's :class:`State` (set by the I/O layer).
        failures: consecutive failures without a healthy period in between.
        received: anything received on the current socket.
        probation: the current socket was opened with a just-fetched token and has not
            received anything yet: a rejection now is the second one.
        refreshed: a fresh token was fetched since the last completed handshake.
        reconnects: successful reconnects so far.
    """

    __slots__ = (
        "channel",
        "failures",
        "policy",
        "probation",
        "received",
        "reconnects",
        "refreshed",
        "resumable",
        "state",
    )

    def __init__(self, channel: str, *, resumable: bool, policy: ReconnectPolicy) -> None:
        self.channel = channel
        self.resumable = resumable
        self.policy = policy
        self.state = State.NEW
        self.failures = 0
        self.received = False
        self.probation = False
        self.refreshed = False
        self.reconnects = 0

    # -- events ----------------------------------------------------------------------------

    def socket_opened(self) -> None:
        """A new socket is open (its handshake is about to run)."""
        self.received = False

    def frame_received(self) -> None:
        """Something arrived on the current socket: the token is proven."""
        self.received = True
        self.probation = False

    def handshake_done(self) -> None:
        """The channel's opening exchange completed on the current socket."""
        self.probation = self.refreshed and not self.received
        self.refreshed = False

    def healthy(self) -> None:
        """The connection proved alive (a pong, or data without a heartbeat)."""
        self.failures = 0

    def reconnected(self) -> None:
        """A replacement socket is open and ready."""
        self.reconnects += 1

    # -- decisions -------------------------------------------------------------------------

    def backoff(self) -> float:
        """Seconds to wait before the next reconnect attempt (0 after no failure)."""
        return self.policy.delay(self.failures - 1) if self.failures else 0.0

    def on_connect_failure(
        self, failure: ChannelFailure, *, reconnecting: bool, can_refresh: bool
    ) -> Decision:
        """A connect attempt (socket plus opening exchange) failed.

        A first connect reports transient failures at once; while reconnecting they are
        retried up to the policy's ``max_attempts``.
        """
        if failure.kind is CloseKind.TOKEN:
            if not can_refresh:
                return _fail(token_error(self.channel, NO_REFRESH))
            if self.refreshed:
                return _fail(token_error(self.channel, REJECTED_AGAIN))
            self.refreshed = True
            return _REFRESH
        if (
            reconnecting
            and failure.kind is CloseKind.RETRY
            and self.failures < self.policy.max_attempts
        ):
            self.failures += 1
            return _RECONNECT
        return _fail(failure.error)

    def on_connection_lost(
        self, failure: ChannelFailure, *, closing: bool, can_refresh: bool
    ) -> Decision:
        """An open connection ended (``closing``: our side ended it)."""
        if closing or failure.kind is CloseKind.NORMAL:
            return _END
        # A non-resumable channel (terminal) may only redo a rejected opening: once it
        # received output, a new socket would be a different shell.
        if failure.kind is CloseKind.TOKEN and (self.resumable or not self.received):
            if self.probation:
                return _fail(token_error(self.channel, REJECTED_AGAIN))
            if not can_refresh:
                return _fail(token_error(self.channel, NO_REFRESH))
            self.refreshed = True
            return _REFRESH
        opening = self.reconnects == 0 and not self.received
        if opening and failure.code in (close_codes.NOT_RUNNING, close_codes.GOING_AWAY):
            # Refused right at the first open: say so instead of retrying.
            return _fail(failure.error)
        if self.resumable and failure.kind is CloseKind.RETRY:
            self.failures += 1
            if self.failures > self.policy.max_attempts:
                return _fail(failure.error)
            return _RECONNECT
        return _LOST


# -- what a close or a refused upgrade means ------------------------------------------------


def _heartbeat_failure(channel: str, timeout: float) -> ChannelFailure:
    return ChannelFailure(
        CloseKind.RETRY,
        HeartbeatTimeoutError(
            f"{channel}: no pong within {timeout} s; the connection is dead", channel=channel
        ),
    )


def failure_from_close(
    channel: str,
    *,
    received: tuple[int, str | bytes] | None,
    sent_code: int | None,
    heartbeat_killed: bool = False,
    heartbeat_timeout: float = 0.0,
    max_size: int = 0,
) -> ChannelFailure:
    """What a closed connection means.

    Arguments:
        received: the peer's close frame as ``(code, reason)``; ``None`` when the
            connection dropped without one.
        sent_code: the code of the close frame our side sent, if any.
        heartbeat_killed: our JSON heartbeat aborted this socket (no pong in time).
        heartbeat_timeout, max_size: the limits, for the message.
    """
    if heartbeat_killed:
        return _heartbeat_failure(channel, heartbeat_timeout)
    if received is None and sent_code == close_codes.INTERNAL_ERROR:
        # websockets' own keepalive (vnc) gave up waiting for a pong frame.
        return _heartbeat_failure(channel, heartbeat_timeout)
    if sent_code == close_codes.MESSAGE_TOO_BIG:
        too_big = close_codes.MESSAGE_TOO_BIG
        detail = f"an incoming message exceeded max_size={max_size} bytes"
        return ChannelFailure(
            CloseKind.FATAL, close_codes.error_for(channel, too_big, detail), code=too_big
        )
    code, reason = received if received is not None else (None, "")
    return ChannelFailure(
        close_codes.classify(code), close_codes.error_for(channel, code, reason), code=code
    )


def failure_from_status(channel: str, status: int) -> ChannelFailure:
    """What an HTTP ``status`` answering the WebSocket upgrade means."""
    kind = close_codes.classify_handshake_status(status)
    code: int | None = close_codes.TOKEN_REJECTED if kind is CloseKind.TOKEN else None
    if status == 404:
        code = close_codes.NOT_RUNNING
    shown = str(status) if 0 <= status <= 999 else "(invalid status)"
    if code is not None:
        error = close_codes.error_for(channel, code, f"HTTP {shown} on upgrade")
    else:
        error = WebSocketError(
            f"{channel}: the server refused the WebSocket upgrade with HTTP {shown}",
            channel=channel,
        )
    return ChannelFailure(kind, error, code=code)
