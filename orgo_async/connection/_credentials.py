"""What a channel needs to open its socket, and nothing more: the URL builder, the token
and its refresh, and the TLS context.

Every channel of a :class:`~orgo_async.Connection` shares one :class:`ChannelCredentials`,
so a token rejected on several channels at once (the password rotates on every restart)
is fetched once: refreshes are serialised by a lock, and a channel whose stale token was
already replaced while it waited does not fetch again. Channels only see the
:class:`CredentialsLike` protocol, so they can be driven by a stub in tests.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Protocol

from .._protocol import urls
from .._secrets import Secret, get_logger

if TYPE_CHECKING:
    import ssl as _ssl

__all__ = ["ChannelCredentials", "CredentialsLike", "RefreshCallable"]

log = get_logger("orgo_async.connection")

#: An async callable returning the computer's current ``vnc_password``.
RefreshCallable = Callable[[], Awaitable[str]]


class CredentialsLike(Protocol):
    """What a channel asks of its credentials (:class:`ChannelCredentials` fits)."""

    @property
    def token(self) -> Secret | None:
        """The current token."""

    @property
    def can_refresh(self) -> bool:
        """Whether :meth:`refresh` can fetch a fresh token."""

    @property
    def ssl(self) -> _ssl.SSLContext | None:
        """The TLS context for ``wss://`` (``None``: the default, verifying one)."""

    def url(self, channel: str, query: Mapping[str, object] | None = None) -> str:
        """The channel's WebSocket URL with the current token (never log it)."""

    def redacted_url(self, channel: str, query: Mapping[str, object] | None = None) -> str:
        """The channel's WebSocket URL with ``token=***``."""

    async def ensure_token(self) -> None:
        """Fetch a token if there is none yet and a refresh is possible."""

    async def refresh(self, *, stale: Secret | None) -> None:
        """Replace ``stale`` with a fresh token, unless it was replaced meanwhile."""


class ChannelCredentials:
    """A computer's channel endpoint: base URL, rotating token, refresh and TLS context.

    ::

        creds = ChannelCredentials(
            "https://www.orgo.ai/desktops/a3881618", "a06db12a8683df96",
            refresh=fetch_password,           # async () -> str
        )
        creds.redacted_url("terminal", {"cols": 80})
        # 'wss://www.orgo.ai/desktops/a3881618/ws/terminal?token=***&cols=80'

    Arguments:
        base: the per-computer base URL (``https://host/desktops/{instance_id}``).
        token: the current ``vnc_password`` (``None``: fetch one before connecting).
        refresh: an async callable returning a fresh ``vnc_password``.
        ssl: an ``ssl.SSLContext`` for ``wss://``.
        label: what log lines call the computer (its id).
    """

    __slots__ = ("_base", "_label", "_lock", "_refresh", "_ssl", "_token")

    def __init__(
        self,
        base: str,
        token: str | Secret | None = None,
        *,
        refresh: RefreshCallable | None = None,
        ssl: _ssl.SSLContext | None = None,
        label: str = "",
    ) -> None:
        self._base = base
        if isinstance(token, str):
            token = Secret(token) if token else None
        self._token: Secret | None = token
        self._refresh = refresh
        self._ssl = ssl
        self._label = label
        self._lock = asyncio.Lock()

    @property
    def base(self) -> str:
        """The per-computer base URL."""
        return self._base

    @property
    def token(self) -> Secret | None:
        """The current ``vnc_password``."""
        return self._token

    @property
    def can_refresh(self) -> bool:
        """Whether a rejected token can be replaced (a ``refresh`` callable was given)."""
        return self._refresh is not None

    @property
    def ssl(self) -> _ssl.SSLContext | None:
        """The TLS context for ``wss://`` (``None``: the default, verifying one)."""
        return self._ssl

    def url(self, channel: str, query: Mapping[str, object] | None = None) -> str:
        """The WebSocket URL of ``channel`` carrying the current token."""
        if self._token is None:
            raise ValueError(
                "the computer has no vnc_password; fetch one with "
                "await conn.refresh_token() (a connection from orgo.connection() can) or "
                "pass a fresh Computer"
            )
        return urls.ws_url(self._base, channel, self._token.get(), query)

    def redacted_url(self, channel: str, query: Mapping[str, object] | None = None) -> str:
        """The WebSocket URL of ``channel`` with ``token=***`` (safe to print)."""
        return urls.redact_url(urls.ws_url(self._base, channel, "-", query))

    async def ensure_token(self) -> None:
        """Fetch a token if there is none yet and a refresh is possible."""
        if self._token is None and self._refresh is not None:
            await self.refresh(stale=None)

    async def refresh(self, *, stale: Secret | None, force: bool = False) -> None:
        """Fetch a fresh token in place of ``stale`` (the one that was rejected).

        Serialised: when another channel already replaced ``stale`` while this one waited,
        nothing is fetched (one fetch per rejection, however many channels saw it).
        ``force`` fetches anyway.
        """
        async with self._lock:
            if not force and self._token is not None and self._token != stale:
                return
            if self._refresh is None:
                raise RuntimeError("no refresh callable to fetch a fresh token")
            value = await self._refresh()
            if not isinstance(value, str) or not value:
                raise TypeError("the refresh callable must return a non-empty str")
            self._token = Secret(value)
            log.info("fetched a fresh vnc_password for computer %s", self._label or "?")

    def __repr__(self) -> str:
        return f"<ChannelCredentials {self._base} token={'***' if self._token else None}>"
