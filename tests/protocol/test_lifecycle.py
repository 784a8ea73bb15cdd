"""The channel lifecycle decisions as tables: no sockets, no tasks, no clock."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from orgo_async import (
    ChannelProtocolError,
    ChannelStartError,
    ComputerGoingAwayError,
    ComputerNotRunningError,
    HeartbeatTimeoutError,
    TokenRejectedError,
    WebSocketError,
)
from orgo_async._protocol.close_codes import CloseKind, ReconnectPolicy
from orgo_async._protocol.lifecycle import (
    Action,
    ChannelFailure,
    ChannelMachine,
    State,
    failure_from_close,
    failure_from_status,
)

POLICY = ReconnectPolicy(initial=1.0, cap=4.0, factor=2.0, max_attempts=3, jitter=0)


def machine(
    *,
    resumable: bool = True,
    received: bool = False,
    probation: bool = False,
    reconnects: int = 0,
    failures: int = 0,
    refreshed: bool = False,
) -> ChannelMachine:
    m = ChannelMachine("audio", resumable=resumable, policy=POLICY)
    m.state = State.OPEN
    m.received, m.probation, m.reconnects = received, probation, reconnects
    m.failures, m.refreshed = failures, refreshed
    return m


def closed(code: int | None, reason: str = "why") -> ChannelFailure:
    """A connection closed by the server with ``code`` (None: dropped, no close frame)."""
    return failure_from_close(
        "audio", received=None if code is None else (code, reason), sent_code=None
    )


@dataclass(frozen=True)
class Lost:
    """One row: a machine in some state loses its connection with ``code``."""

    name: str
    code: int | None
    action: Action
    error: type[WebSocketError] | None = None
    match: str = ""
    resumable: bool = True
    received: bool = True
    probation: bool = False
    reconnects: int = 0
    failures: int = 0
    closing: bool = False
    can_refresh: bool = True
    failures_after: int | None = None


LOST_TABLE = [
    Lost("we closed it", 1011, Action.END, closing=True),
    Lost("normal close", 1000, Action.END),
    Lost("normal close, terminal", 1000, Action.END, resumable=False),
    Lost("rotated token mid-stream", 4401, Action.REFRESH),
    Lost("rejected opening, terminal", 4401, Action.REFRESH, resumable=False, received=False),
    Lost("revoked token, terminal with output", 4401, Action.LOST, resumable=False),
    Lost(
        "fresh token rejected before anything arrived",
        4401,
        Action.FAIL,
        TokenRejectedError,
        "again",
        received=False,
        probation=True,
    ),
    Lost("no refresh", 4401, Action.FAIL, TokenRejectedError, "refresh=", can_refresh=False),
    Lost(
        "not running at the first open",
        4404,
        Action.FAIL,
        ComputerNotRunningError,
        "4404",
        received=False,
    ),
    Lost(
        "going away at the first open",
        1001,
        Action.FAIL,
        ComputerGoingAwayError,
        "1001",
        received=False,
    ),
    Lost("not running after a reconnect", 4404, Action.RECONNECT, reconnects=1, failures_after=1),
    Lost("going away mid-stream", 1001, Action.RECONNECT, failures_after=1),
    Lost("server error", 1011, Action.RECONNECT, failures=2, failures_after=3),
    Lost(
        "server error, out of attempts",
        1011,
        Action.FAIL,
        WebSocketError,
        "1011",
        failures=3,
        failures_after=4,
    ),
    Lost("dropped without a close frame", None, Action.RECONNECT, failures_after=1),
    Lost("dropped, terminal", None, Action.LOST, resumable=False, failures_after=0),
    Lost("start failed", 4500, Action.LOST, failures_after=0),
    Lost("message too big", 1009, Action.LOST),
    Lost("protocol error", 1002, Action.LOST),
]


@pytest.mark.parametrize("row", LOST_TABLE, ids=lambda r: r.name)
def test_connection_lost(row: Lost) -> None:
    m = machine(
        resumable=row.resumable,
        received=row.received,
        probation=row.probation,
        reconnects=row.reconnects,
        failures=row.failures,
    )
    decision = m.on_connection_lost(
        closed(row.code), closing=row.closing, can_refresh=row.can_refresh
    )
    assert decision.action is row.action
    if row.error is None:
        assert decision.error is None
    else:
        assert type(decision.error) is row.error
        assert row.match in str(decision.error)
    if row.failures_after is not None:
        assert m.failures == row.failures_after
    assert m.refreshed is (row.action is Action.REFRESH)


@dataclass(frozen=True)
class ConnectFailed:
    name: str
    failure: ChannelFailure
    action: Action
    error: type[WebSocketError] | None = None
    match: str = ""
    reconnecting: bool = True
    refreshed: bool = False
    failures: int = 0
    can_refresh: bool = True


CONNECT_TABLE = [
    ConnectFailed("rejected", failure_from_status("audio", 403), Action.REFRESH),
    ConnectFailed("rejected by close", closed(4401), Action.REFRESH, reconnecting=False),
    ConnectFailed(
        "rejected again",
        closed(4401),
        Action.FAIL,
        TokenRejectedError,
        "again",
        refreshed=True,
    ),
    ConnectFailed(
        "rejected, no refresh",
        failure_from_status("audio", 401),
        Action.FAIL,
        TokenRejectedError,
        "refresh=",
        can_refresh=False,
    ),
    ConnectFailed("5xx while reconnecting", failure_from_status("audio", 503), Action.RECONNECT),
    ConnectFailed(
        "restarting computer while reconnecting",
        failure_from_status("audio", 404),
        Action.RECONNECT,
        refreshed=True,  # the refresh streak goes on through transient failures
    ),
    ConnectFailed(
        "5xx at the first connect",
        failure_from_status("audio", 503),
        Action.FAIL,
        WebSocketError,
        "HTTP 503",
        reconnecting=False,
    ),
    ConnectFailed(
        "out of attempts",
        closed(None),
        Action.FAIL,
        WebSocketError,
        "without a close frame",
        failures=3,
    ),
    ConnectFailed(
        "fatal while reconnecting",
        closed(4500, "no capture"),
        Action.FAIL,
        ChannelStartError,
        "no capture",
    ),
]


@pytest.mark.parametrize("row", CONNECT_TABLE, ids=lambda r: r.name)
def test_connect_failure(row: ConnectFailed) -> None:
    m = machine(failures=row.failures, refreshed=row.refreshed)
    decision = m.on_connect_failure(
        row.failure, reconnecting=row.reconnecting, can_refresh=row.can_refresh
    )
    assert decision.action is row.action
    if row.error is not None:
        assert type(decision.error) is row.error and row.match in str(decision.error)
    expected_failures = row.failures + (row.action is Action.RECONNECT)
    assert m.failures == expected_failures


def test_one_fetch_per_rejection_streak() -> None:
    m = machine(received=True)
    assert m.on_connection_lost(closed(4401), closing=False, can_refresh=True).action is (
        Action.REFRESH
    )
    # The reconnect with the fresh token is rejected too: final, no second fetch.
    again = m.on_connect_failure(closed(4401), reconnecting=True, can_refresh=True)
    assert again.action is Action.FAIL and isinstance(again.error, TokenRejectedError)


def test_fresh_token_is_on_probation_until_something_arrives() -> None:
    m = machine(received=True)
    m.on_connection_lost(closed(4401), closing=False, can_refresh=True)
    m.socket_opened()
    m.handshake_done()  # nothing received during the handshake (events without types)
    assert m.probation and not m.refreshed
    decision = m.on_connection_lost(closed(4401), closing=False, can_refresh=True)
    assert decision.action is Action.FAIL and "again" in str(decision.error)

    # Once the socket has said anything, the token is proven: a later 4401 is a new
    # rotation and gets its own refresh.
    m = machine(received=True)
    m.on_connection_lost(closed(4401), closing=False, can_refresh=True)
    m.socket_opened()
    m.handshake_done()
    m.frame_received()
    assert not m.probation
    assert m.on_connection_lost(closed(4401), closing=False, can_refresh=True).action is (
        Action.REFRESH
    )


def test_a_handshake_that_received_something_is_not_on_probation() -> None:
    m = machine()
    m.refreshed = True
    m.socket_opened()
    m.frame_received()  # audio's ``started``
    m.handshake_done()
    assert not m.probation


def test_backoff_and_health() -> None:
    m = machine()
    assert m.backoff() == 0.0
    delays = []
    for _ in range(4):
        m.on_connection_lost(closed(1011), closing=False, can_refresh=True)
        delays.append(m.backoff())
    assert delays == [1.0, 2.0, 4.0, 4.0]  # capped
    m.healthy()
    assert m.failures == 0 and m.backoff() == 0.0
    m.reconnected()
    assert m.reconnects == 1


@pytest.mark.parametrize(
    ("kwargs", "kind", "error", "match"),
    [
        ({"heartbeat_killed": True}, CloseKind.RETRY, HeartbeatTimeoutError, "no pong within 2"),
        ({"sent_code": 1011}, CloseKind.RETRY, HeartbeatTimeoutError, "no pong"),
        ({"sent_code": 1009}, CloseKind.FATAL, ChannelProtocolError, "max_size=2048"),
        ({"received": (1009, "")}, CloseKind.FATAL, ChannelProtocolError, "1009"),
        ({"received": (4401, "bad")}, CloseKind.TOKEN, TokenRejectedError, "4401"),
        ({"received": (4404, "")}, CloseKind.RETRY, ComputerNotRunningError, "4404"),
        ({"received": (4500, "x")}, CloseKind.FATAL, ChannelStartError, "shell"),
        ({"received": (1000, "")}, CloseKind.NORMAL, WebSocketError, "1000"),
        ({"received": (1001, "")}, CloseKind.RETRY, ComputerGoingAwayError, "1001"),
        ({"received": (1002, "")}, CloseKind.FATAL, ChannelProtocolError, "1002"),
        ({}, CloseKind.RETRY, WebSocketError, "without a close frame"),
        ({"received": (4999, "custom")}, CloseKind.RETRY, WebSocketError, "4999): custom"),
    ],
)
def test_failure_from_close(
    kwargs: dict[str, object], kind: CloseKind, error: type[Exception], match: str
) -> None:
    args: dict[str, object] = {"received": None, "sent_code": None}
    args.update(kwargs)
    failure = failure_from_close(
        "terminal",
        heartbeat_timeout=2.0,
        max_size=2048,
        **args,  # type: ignore[arg-type]
    )
    assert failure.kind is kind
    assert type(failure.error) is error
    assert match in str(failure.error)
    assert failure.error.channel == "terminal"


@pytest.mark.parametrize(
    ("status", "kind", "error", "code"),
    [
        (401, CloseKind.TOKEN, TokenRejectedError, 4401),
        (403, CloseKind.TOKEN, TokenRejectedError, 4401),
        (404, CloseKind.RETRY, ComputerNotRunningError, 4404),
        (408, CloseKind.RETRY, WebSocketError, None),
        (429, CloseKind.RETRY, WebSocketError, None),
        (502, CloseKind.RETRY, WebSocketError, None),
        (400, CloseKind.FATAL, WebSocketError, None),
        (200, CloseKind.FATAL, WebSocketError, None),
    ],
)
def test_failure_from_status(
    status: int, kind: CloseKind, error: type[Exception], code: int | None
) -> None:
    failure = failure_from_status("events", status)
    assert (failure.kind, type(failure.error), failure.code) == (kind, error, code)
    assert f"HTTP {status}" in str(failure.error)
