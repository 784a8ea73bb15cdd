"""What channels get instead of the client: ``ChannelCredentials`` on its own, and
channels driven by a hand-written stub (no ``Connection``, no ``AsyncOrgo``) against a
real loopback WebSocket server."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import TYPE_CHECKING

import pytest
from websockets.asyncio.server import ServerConnection

from orgo_async import TokenRejectedError
from orgo_async._protocol import urls
from orgo_async._protocol.close_codes import ReconnectPolicy
from orgo_async._secrets import Secret
from orgo_async.connection import Audio, ChannelCredentials, ChannelOptions, Terminal
from tests.conftest import eventually

from .conftest import Desktop, answer_pings

if TYPE_CHECKING:
    import ssl

    from orgo_async.connection._credentials import CredentialsLike

BASE = "https://www.orgo.ai/desktops/a3881618"
FAST = ReconnectPolicy(initial=0.01, cap=0.05, max_attempts=3, jitter=0)
OPTIONS = ChannelOptions(open_timeout=5.0, close_timeout=1.0, reconnect=FAST)


class Fetcher:
    """A refresh callable handing out ``pw-1``, ``pw-2``, ... and counting its calls."""

    def __init__(self, delay: float = 0.0) -> None:
        self.calls = 0
        self.delay = delay

    async def __call__(self) -> str:
        self.calls += 1
        await asyncio.sleep(self.delay)
        return f"pw-fresh-{self.calls}"


# -- ChannelCredentials ------------------------------------------------------------------


def test_urls_and_redaction() -> None:
    creds = ChannelCredentials(BASE, "s3cret-token-1", label="c1")
    assert creds.url("audio", {"channels": 2}) == (
        "wss://www.orgo.ai/desktops/a3881618/ws/audio?token=s3cret-token-1&channels=2"
    )
    assert creds.redacted_url("audio", {"channels": 2}).endswith("?token=***&channels=2")
    assert "s3cret-token-1" not in repr(creds) and "s3cret-token-1" not in str(creds.token)
    assert not creds.can_refresh and creds.ssl is None and creds.base == BASE
    with pytest.raises(ValueError, match="vnc_password"):
        ChannelCredentials(BASE, None).url("events")
    assert ChannelCredentials(BASE, "").token is None  # an empty password is no password


async def test_refresh_fetches_once_for_every_holder_of_the_stale_token() -> None:
    fetch = Fetcher(delay=0.01)
    creds = ChannelCredentials(BASE, "pw-old-0001", refresh=fetch)
    stale = creds.token
    # Three channels saw the same rejection at once: one fetch, one new token.
    await asyncio.gather(*(creds.refresh(stale=stale) for _ in range(3)))
    assert fetch.calls == 1
    assert creds.token == Secret("pw-fresh-1")
    # A late report about the old token does not fetch again...
    await creds.refresh(stale=stale)
    assert fetch.calls == 1
    # ...a rejection of the new one does, and force always does.
    await creds.refresh(stale=creds.token)
    await creds.refresh(stale=stale, force=True)
    assert fetch.calls == 3 and creds.token == Secret("pw-fresh-3")


async def test_ensure_token_and_refresh_errors() -> None:
    fetch = Fetcher()
    creds = ChannelCredentials(BASE, None, refresh=fetch)
    await creds.ensure_token()
    await creds.ensure_token()
    assert fetch.calls == 1 and creds.token == Secret("pw-fresh-1")

    with pytest.raises(RuntimeError, match="refresh"):
        await ChannelCredentials(BASE, "pw-x-123").refresh(stale=None, force=True)

    async def broken() -> str:
        return ""

    with pytest.raises(TypeError, match="non-empty str"):
        await ChannelCredentials(BASE, None, refresh=broken).ensure_token()


# -- channels with a stub ----------------------------------------------------------------


class StubCredentials:
    """Just what the channel protocol asks for: a loopback URL, a token, a refresh that
    asks the test desktop for its current password and records what it was told."""

    def __init__(self, desktop: Desktop, token: str) -> None:
        self.desktop = desktop
        self._token: Secret | None = Secret(token)
        self.stale_reports: list[str | None] = []
        self.ensured = 0

    @property
    def token(self) -> Secret | None:
        return self._token

    @property
    def can_refresh(self) -> bool:
        return True

    @property
    def ssl(self) -> ssl.SSLContext | None:
        return None

    def url(self, channel: str, query: Mapping[str, object] | None = None) -> str:
        assert self._token is not None
        return urls.ws_url(
            self.desktop.computer().connection_url or "", channel, self._token.get(), query
        )

    def redacted_url(self, channel: str, query: Mapping[str, object] | None = None) -> str:
        return urls.redact_url(self.url(channel, query))

    async def ensure_token(self) -> None:
        self.ensured += 1

    async def refresh(self, *, stale: Secret | None) -> None:
        self.stale_reports.append(stale.get() if stale is not None else None)
        self._token = Secret(self.desktop.password)


def test_the_stub_fits_the_protocol() -> None:
    stub: CredentialsLike = StubCredentials(Desktop(), "pw-0000000001")  # mypy checks this
    assert stub.can_refresh


async def test_audio_on_a_stub_refreshes_through_it(desktop: Desktop) -> None:
    async def handler(ws: ServerConnection, query: dict[str, str]) -> None:
        await ws.send('{"type":"started","sample_rate":24000,"channels":1}')
        await ws.send(b"\x01\x00" * 480)
        await answer_pings(ws)

    desktop.handlers["audio"] = handler
    stub = StubCredentials(desktop, desktop.password)
    async with Audio(stub, OPTIONS, sample_rate=24000, channels=1, buffer=10) as audio:
        assert stub.ensured == 1
        assert "token=***" in audio.url and desktop.password not in audio.url
        assert await audio.read() == b"\x01\x00" * 480
        old = desktop.password
        desktop.rotate()
        await desktop.sockets[-1].close(4401, "rotated")
        assert await asyncio.wait_for(audio.read(), 5) == b"\x01\x00" * 480
        assert audio.reconnects == 1
    # The channel told its credentials which token was rejected, exactly once.
    assert stub.stale_reports == [old]
    assert [s.token for s in desktop.of("audio")] == [old, desktop.password]


async def test_terminal_on_a_stub_rejected_twice(desktop: Desktop) -> None:
    async def reject(ws: ServerConnection, query: dict[str, str]) -> None:
        await ws.close(4401, "invalid token")

    desktop.handlers["terminal"] = reject
    stub = StubCredentials(desktop, desktop.password)
    async with Terminal(stub, OPTIONS, cols=80, rows=24, buffer=16) as terminal:
        # The upgrade succeeds and the close comes right after: the reader handles it.
        with pytest.raises(TokenRejectedError, match="again"):
            await asyncio.wait_for(terminal.read(), 5)
        assert terminal.closed and isinstance(terminal.error, TokenRejectedError)
    assert stub.stale_reports == [desktop.password]  # one refresh, then final
    assert len(desktop.of("terminal")) == 2


async def test_channels_sharing_credentials_fetch_once(desktop: Desktop) -> None:
    """Two channels of one connection see the token rotate at once: one fetch."""

    async def audio(ws: ServerConnection, query: dict[str, str]) -> None:
        await ws.send('{"type":"started","sample_rate":24000,"channels":1}')
        await answer_pings(ws)

    desktop.handlers["audio"] = audio
    fetch_gate = asyncio.Event()

    async def slow_refresh() -> str:
        desktop.refreshes += 1
        await fetch_gate.wait()
        return desktop.password

    conn = desktop.connection(refresh=slow_refresh)
    async with conn.audio() as a1, conn.audio() as a2:
        old = desktop.password
        desktop.rotate()
        for ws in list(desktop.sockets):
            await ws.close(4401, "rotated")
        # Both channels are now waiting on the one fetch in progress.
        await eventually(lambda: desktop.refreshes == 1)
        await asyncio.sleep(0.05)
        fetch_gate.set()
        await eventually(lambda: a1.reconnects == 1 and a2.reconnects == 1)
    assert desktop.refreshes == 1
    tokens = [s.token for s in desktop.of("audio")]
    assert tokens.count(old) == 2 and tokens.count(desktop.password) == 2
