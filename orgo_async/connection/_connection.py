"""``Connection``: a computer's live channels (terminal, audio, events, vnc) and its proxy."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from .._errors import (
    APIConnectionError,
    APIStatusError,
    AuthenticationError,
    PermissionDeniedError,
    WaitTimeoutError,
)
from .._protocol import urls
from .._protocol.close_codes import ReconnectPolicy
from .._protocol.limits import DEFAULT_MAX_SIZE
from .._secrets import REDACTED, Secret, get_logger
from ._channel import ChannelOptions
from ._proxy import DesktopProxy

if TYPE_CHECKING:
    import ssl as _ssl

    from .._client import AsyncOrgo
    from .._http import RawResponse
    from ._audio import Audio
    from ._events import Events
    from ._terminal import Terminal
    from ._vnc import Vnc, VncBridge

__all__ = ["ComputerLike", "Connection", "SecretURL"]

log = get_logger("orgo_async.connection")

RefreshCallable = Callable[[], Awaitable[str]]


class ComputerLike(Protocol):
    """What a :class:`Connection` reads from a computer (``orgo_async.Computer`` fits)."""

    @property
    def id(self) -> str: ...
    @property
    def instance_id(self) -> str | None: ...
    @property
    def fly_instance_id(self) -> str | None: ...
    @property
    def hostname(self) -> str | None: ...
    @property
    def connection_url(self) -> str | None: ...
    @property
    def vnc_password(self) -> str | None: ...


class SecretURL(Secret):
    """A URL carrying the token: prints with ``token=***``; :meth:`get` gives the real one.

    >>> url = conn.websockify_url          # doctest: +SKIP
    >>> print(url)                         # doctest: +SKIP
    wss://www.orgo.ai/desktops/a3881618/ws/websockify?token=***
    >>> novnc_url = url.get()              # doctest: +SKIP
    """

    __slots__ = ("_shown",)

    def __init__(self, value: str) -> None:
        super().__init__(value)
        self._shown = urls.redact_url(value)

    def __repr__(self) -> str:
        return f"SecretURL({self._shown!r})"

    def __str__(self) -> str:
        return self._shown


class Connection:
    """A computer's live channels: terminal, audio, events, VNC, and the Desktop API proxy.

    ::

        conn = orgo.connection(computer)       # or: await orgo.connect(computer_id)
        async with conn.terminal() as term:
            result = await term.run("uname -a")

    Arguments:
        computer: an :class:`orgo_async.Computer` (anything with ``id``,
            ``instance_id``, ``hostname``, ``connection_url`` and ``vnc_password``).
        client: the :class:`orgo_async.AsyncOrgo` that fetched it. With a client, a
            rejected token (the password rotates on every restart) is replaced once by a
            fresh one from ``GET /computers/{id}/vnc-password``, and :attr:`proxy` works.
            Without one, only URLs and channels with the current token are available.
        refresh: an async callable returning a fresh ``vnc_password``, instead of the
            client's (for tests or custom credential stores).
        ssl: an ``ssl.SSLContext`` for ``wss://`` (verification is on by default; the
            client's context is used when it has one).
        heartbeat_interval, heartbeat_timeout, max_size, open_timeout, close_timeout,
        reconnect: see :class:`ChannelOptions`; each channel method can override them.

    WebSocket URLs come from ``connection_url`` (scheme switched to ``wss``) or, when a
    computer only has ``hostname`` and ``instance_id``, from
    ``https://{hostname}/desktops/{instance_id}``. ``repr(conn)`` and every log line
    hide the token.
    """

    def __init__(
        self,
        computer: ComputerLike,
        *,
        client: AsyncOrgo | None = None,
        refresh: RefreshCallable | None = None,
        ssl: _ssl.SSLContext | None = None,
        heartbeat_interval: float | None = 30.0,
        heartbeat_timeout: float = 10.0,
        max_size: int = DEFAULT_MAX_SIZE,
        open_timeout: float = 10.0,
        close_timeout: float = 5.0,
        reconnect: ReconnectPolicy | None = None,
    ) -> None:
        if ssl is not None or client is not None:
            import ssl as _ssl  # here: the module costs milliseconds at import time

            if ssl is not None and not isinstance(ssl, _ssl.SSLContext):
                raise TypeError("ssl must be an ssl.SSLContext (verification stays on by default)")
            if ssl is None and client is not None:
                # Reuse the client's trust settings (e.g. a private CA) for wss://.
                inherited = getattr(client._pipeline.transport, "ssl", None)
                if isinstance(inherited, _ssl.SSLContext):
                    ssl = inherited
        self.computer_id: str = computer.id
        self.instance_id: str | None = computer.instance_id or computer.fly_instance_id
        self._base = urls.connection_base(
            computer.connection_url, computer.hostname, self.instance_id
        )
        password = computer.vnc_password
        self._token: Secret | None = Secret(password) if password else None
        self._client = client
        self._refresh = refresh
        self._refresh_lock = asyncio.Lock()
        self._ssl_context = ssl
        self.options = ChannelOptions(
            heartbeat_interval=heartbeat_interval,
            heartbeat_timeout=heartbeat_timeout,
            max_size=max_size,
            open_timeout=open_timeout,
            close_timeout=close_timeout,
            reconnect=reconnect or ReconnectPolicy(),
        )
        self.proxy = DesktopProxy(self)
        """The Desktop API proxy: ``await conn.proxy.get("health")``."""

    # -- identity and token ----------------------------------------------------------------

    @property
    def connection_url(self) -> str:
        """The per-computer base URL (``https://www.orgo.ai/desktops/{instance_id}``)."""
        return self._base

    @property
    def can_refresh(self) -> bool:
        """Whether a rejected token can be replaced (a client or ``refresh`` was given)."""
        return self._refresh is not None or self._client is not None

    @property
    def token(self) -> Secret | None:
        """The current ``vnc_password`` as a :class:`~orgo_async._secrets.Secret`."""
        return self._token

    async def refresh_token(self) -> None:
        """Fetch the current ``vnc_password`` (it rotates on every restart)."""
        await self._refresh_token(stale=self._token, force=True)

    async def _refresh_token(self, *, stale: Secret | None, force: bool = False) -> None:
        async with self._refresh_lock:
            # Another channel may have refreshed while this one waited for the lock.
            if not force and self._token is not None and self._token != stale:
                return
            if self._refresh is not None:
                value = await self._refresh()
            elif self._client is not None:
                value = await self._client.computers.vnc_password(self.computer_id)
            else:
                raise RuntimeError("no client or refresh callable to fetch a fresh token")
            if not isinstance(value, str) or not value:
                raise TypeError("the refresh callable must return a non-empty str")
            self._token = Secret(value)
            log.info("fetched a fresh vnc_password for computer %s", self.computer_id)

    def _ws_url(
        self, channel: str, query: Mapping[str, object] | None = None, *, redacted: bool = False
    ) -> str:
        if redacted:
            return urls.redact_url(urls.ws_url(self._base, channel, "-", query))
        if self._token is None:
            raise ValueError(
                "the computer has no vnc_password; fetch one with "
                "await conn.refresh_token() (needs a client) or pass a fresh Computer"
            )
        return urls.ws_url(self._base, channel, self._token.get(), query)

    async def _ensure_token(self) -> None:
        if self._token is None and self.can_refresh:
            await self._refresh_token(stale=None)

    # -- URLs ------------------------------------------------------------------------------

    @property
    def websockify_url(self) -> SecretURL:
        """``wss://.../ws/websockify?token=...`` for noVNC (``str()`` hides the token)."""
        return SecretURL(self._ws_url("websockify"))

    def terminal_url(self, cols: int = 80, rows: int = 24) -> SecretURL:
        """``wss://.../ws/terminal?token=...&cols=..&rows=..``."""
        from .._protocol.terminal import check_size

        check_size(cols, rows)
        return SecretURL(self._ws_url("terminal", {"cols": cols, "rows": rows}))

    def audio_url(self, sample_rate: int = 24000, channels: int = 1) -> SecretURL:
        """``wss://.../ws/audio?token=...&sample_rate=..&channels=..``."""
        from .._protocol.audio import check_params

        check_params(sample_rate, channels)
        return SecretURL(self._ws_url("audio", {"sample_rate": sample_rate, "channels": channels}))

    @property
    def events_url(self) -> SecretURL:
        """``wss://.../ws/events?token=...``."""
        return SecretURL(self._ws_url("events"))

    @property
    def api_base(self) -> str:
        """The REST base used by the proxy: the client's, else ``{origin}/api``."""
        if self._client is not None:
            return self._client.base_url.rstrip("/")
        return urls.api_base_from(self._base)

    def proxy_url(self, endpoint: str = "health") -> str:
        """``{api_base}/desktops/{instance_id}/proxy/{endpoint}`` (no secret in it)."""
        return self.api_base + urls.proxy_path(self._require_instance_id(), endpoint)

    def _require_instance_id(self) -> str:
        if not self.instance_id:
            raise ValueError("the computer has no instance_id; the Desktop proxy needs it")
        return self.instance_id

    def _require_client(self) -> AsyncOrgo:
        if self._client is None:
            raise RuntimeError(
                "the Desktop API proxy authenticates with the API key: create the "
                "connection with a client (orgo.connection(computer))"
            )
        return self._client

    # -- channels --------------------------------------------------------------------------

    def _options(self, **overrides: Any) -> ChannelOptions:
        return self.options.with_changes(**overrides)

    def terminal(
        self,
        cols: int = 80,
        rows: int = 24,
        *,
        buffer: int = 4096,
        heartbeat_interval: float | None = None,
        heartbeat_timeout: float | None = None,
    ) -> Terminal:
        """The terminal channel (a PTY on the computer's shell), as an async context manager.

        The shell session cannot resume: a lost connection raises
        :class:`~orgo_async.SessionLostError` instead of handing back a fresh shell.
        """
        from ._terminal import Terminal

        return Terminal(
            self,
            self._options(
                heartbeat_interval=heartbeat_interval, heartbeat_timeout=heartbeat_timeout
            ),
            cols=cols,
            rows=rows,
            buffer=buffer,
        )

    def audio(
        self,
        sample_rate: int = 24000,
        channels: int = 1,
        *,
        buffer: int = 500,
        reconnect: ReconnectPolicy | None = None,
        heartbeat_interval: float | None = None,
        heartbeat_timeout: float | None = None,
    ) -> Audio:
        """The audio channel: PCM s16le frames. ``buffer`` is the number of messages kept
        for a slow consumer (default 500, about 10 s); older ones are dropped and counted.
        """
        from ._audio import Audio

        return Audio(
            self,
            self._options(
                reconnect=reconnect,
                heartbeat_interval=heartbeat_interval,
                heartbeat_timeout=heartbeat_timeout,
            ),
            sample_rate=sample_rate,
            channels=channels,
            buffer=buffer,
        )

    def events(
        self,
        event_types: Iterable[str] = (),
        *,
        buffer: int = 1024,
        reconnect: ReconnectPolicy | None = None,
        heartbeat_interval: float | None = None,
        heartbeat_timeout: float | None = None,
    ) -> Events:
        """The events channel, subscribed to ``event_types`` (re-subscribed after every
        reconnect). ``buffer`` events are kept for a slow consumer; older ones are dropped
        and counted."""
        from ._events import Events

        return Events(
            self,
            self._options(
                reconnect=reconnect,
                heartbeat_interval=heartbeat_interval,
                heartbeat_timeout=heartbeat_timeout,
            ),
            event_types=event_types,
            buffer=buffer,
        )

    def vnc(
        self,
        *,
        buffer: int = 256,
        reconnect: ReconnectPolicy | None = None,
    ) -> Vnc:
        """The raw RFB byte stream over websockify (binary frames both ways)."""
        from ._vnc import Vnc

        return Vnc(self, self._options(reconnect=reconnect), buffer=buffer)

    def vnc_bridge(self, port: int = 0, host: str = "127.0.0.1") -> VncBridge:
        """A local TCP port a native VNC viewer can connect to, tunnelled through
        websockify (one WebSocket per viewer). Use ``async with`` or ``await .start()``."""
        from ._vnc import VncBridge

        return VncBridge(self, host=host, port=port)

    # -- readiness -------------------------------------------------------------------------

    async def wait_ready(
        self,
        timeout: float = 30.0,
        *,
        interval: float = 0.25,
        max_interval: float = 5.0,
    ) -> RawResponse:
        """Poll ``proxy/health`` with backoff until it answers 2xx; return that answer.

        Non-2xx answers and connection errors mean "not yet"; 401/403 are raised at once
        (a wrong key does not fix itself). :class:`~orgo_async.WaitTimeoutError` after
        ``timeout`` seconds.
        """
        if timeout <= 0:
            raise ValueError("timeout must be > 0")
        deadline = time.monotonic() + timeout
        delay = interval
        last: str = "no answer yet"
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise WaitTimeoutError(
                    f"the desktop was not ready within {timeout} s (last: {last})",
                    last_status=last,
                )
            try:
                return await self.proxy.request(
                    "GET", "health", timeout=max(0.05, min(remaining, 10.0)), max_retries=0
                )
            except (AuthenticationError, PermissionDeniedError):
                raise
            except APIStatusError as e:
                last = f"HTTP {e.status_code}"
            except APIConnectionError as e:
                last = type(e).__name__
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                continue
            await asyncio.sleep(min(delay, remaining))
            delay = min(max_interval, delay * 2)

    def __repr__(self) -> str:
        return (
            f"<Connection computer={self.computer_id} instance={self.instance_id} "
            f"url={self._base} token={REDACTED if self._token else None}>"
        )
