"""URL building, encoding, redaction and the close-code policy, without sockets."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from orgo_async import (
    ChannelProtocolError,
    ChannelStartError,
    ComputerGoingAwayError,
    ComputerNotRunningError,
    TokenRejectedError,
    WebSocketError,
)
from orgo_async._protocol import close_codes, urls
from orgo_async._protocol.close_codes import CloseKind, ReconnectPolicy


def test_connection_base_from_connection_url() -> None:
    assert (
        urls.connection_base("https://www.orgo.ai/desktops/a3881618/")
        == "https://www.orgo.ai/desktops/a3881618"
    )


def test_connection_base_fallback_from_hostname() -> None:
    assert (
        urls.connection_base(None, "www.orgo.ai", "a3881618")
        == "https://www.orgo.ai/desktops/a3881618"
    )


@pytest.mark.parametrize(
    ("url", "host", "iid"),
    [
        (None, None, None),
        (None, "www.orgo.ai", None),
        (None, None, "a3881618"),
        ("ftp://x/desktops/a", None, None),
        ("https://x/desktops/a?token=1", None, None),
        (None, "evil.com/path?", "a3881618"),
        (None, "www.orgo.ai", "../computers"),
    ],
)
def test_connection_base_errors(url: str | None, host: str | None, iid: str | None) -> None:
    with pytest.raises(ValueError):
        urls.connection_base(url, host, iid)


@pytest.mark.parametrize("channel", ["websockify", "terminal", "audio", "events"])
def test_ws_url_switches_scheme_and_appends_path(channel: str) -> None:
    url = urls.ws_url("https://www.orgo.ai/desktops/a3881618", channel, "a06db12a8683df96")
    assert url == f"wss://www.orgo.ai/desktops/a3881618/ws/{channel}?token=a06db12a8683df96"
    plain = urls.ws_url("http://127.0.0.1:8080/desktops/x1", channel, "t0k3n!")
    assert plain.startswith(f"ws://127.0.0.1:8080/desktops/x1/ws/{channel}?token=")


def test_ws_url_encodes_token_and_query() -> None:
    token = "a b&c=d/e?f#g+h%"
    url = urls.ws_url("https://h/desktops/i", "terminal", token, {"cols": 120, "rows": 40})
    parts = urlsplit(url)
    assert parts.fragment == ""
    assert "&c=" not in parts.query and " " not in parts.query and "+" not in parts.query
    assert parse_qs(parts.query) == {"token": [token], "cols": ["120"], "rows": ["40"]}


def test_ws_url_unknown_channel() -> None:
    with pytest.raises(ValueError):
        urls.ws_url("https://h/desktops/i", "shell", "t")


def test_redact_url() -> None:
    url = urls.ws_url("https://h/desktops/i", "audio", "s3cret&x", {"sample_rate": 48000})
    assert urls.redact_url(url) == "wss://h/desktops/i/ws/audio?token=***&sample_rate=48000"
    assert urls.redact_url("wss://h/x?a=1&token=zz") == "wss://h/x?a=1&token=***"
    assert urls.redact_url("wss://h/x?notatoken=zz") == "wss://h/x?notatoken=zz"


def test_proxy_path() -> None:
    assert urls.proxy_path("a3881618", "health") == "/desktops/a3881618/proxy/health"
    assert urls.proxy_path("a3881618", "/a/b c") == "/desktops/a3881618/proxy/a/b%20c"
    for bad in ["../computers", "a/../../x", "https://evil/", "health?x=1", "a#b"]:
        with pytest.raises(ValueError):
            urls.proxy_path("a3881618", bad)


def test_api_base_from() -> None:
    assert urls.api_base_from("https://www.orgo.ai/desktops/a") == "https://www.orgo.ai/api"
    assert urls.api_base_from("http://127.0.0.1:9/desktops/a") == "http://127.0.0.1:9/api"


# -- close codes ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "kind", "exc"),
    [
        (1000, CloseKind.NORMAL, WebSocketError),
        (1001, CloseKind.RETRY, ComputerGoingAwayError),
        (4401, CloseKind.TOKEN, TokenRejectedError),
        (4404, CloseKind.RETRY, ComputerNotRunningError),
        (4500, CloseKind.FATAL, ChannelStartError),
        (1009, CloseKind.FATAL, ChannelProtocolError),
        (1011, CloseKind.RETRY, WebSocketError),
        (None, CloseKind.RETRY, WebSocketError),
    ],
)
def test_close_codes(code: int | None, kind: CloseKind, exc: type[Exception]) -> None:
    assert close_codes.classify(code) is kind
    err = close_codes.error_for("audio", code, "bye")
    assert type(err) is exc
    assert err.code == code and err.channel == "audio"
    assert str(err).startswith("audio: ")


def test_close_code_messages_say_what_happened() -> None:
    assert "shell" in str(close_codes.error_for("terminal", 4500))
    assert "audio capture" in str(close_codes.error_for("audio", 4500))
    assert "not running" in str(close_codes.error_for("events", 4404))


def test_handshake_status() -> None:
    assert close_codes.classify_handshake_status(401) is CloseKind.TOKEN
    assert close_codes.classify_handshake_status(403) is CloseKind.TOKEN
    assert close_codes.classify_handshake_status(502) is CloseKind.RETRY
    assert close_codes.classify_handshake_status(400) is CloseKind.FATAL


def test_backoff_is_capped_exponential() -> None:
    policy = ReconnectPolicy(initial=2, cap=30, factor=2, max_attempts=6, jitter=0)
    assert list(policy.delays()) == [2, 4, 8, 16, 30, 30]
    jittered = ReconnectPolicy(initial=2, cap=30, jitter=0.5)
    assert all(1 <= jittered.delay(0) <= 2 for _ in range(50))
    assert jittered.delay(1000) <= 30
    with pytest.raises(ValueError):
        ReconnectPolicy(initial=5, cap=1)
