"""``Connection``: a computer's live channels (terminal, audio, events, vnc) and its proxy."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
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
from .._secrets import REDACTED, Secret
from ._credentials import ChannelCredentials, RefreshCallable
from ._options import ChannelOptions
from ._proxy import DesktopProxy, ProxyPipeline

if TYPE_CHECKING:
    import ssl as _ssl

    from .._response import RawResponse
    from ._audio import Audio
    from ._events import Events
    from ._terminal import Terminal
    from ._vnc import Vnc, VncBridge

__all__ = ["ComputerLike", "Connection", "SecretURL"]


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

    :meth:`orgo_async.AsyncOrgo.connection` builds one with everything below filled in
    from the client. Built by hand, only what is passed is available:

    Arguments:
        computer: an :class:`orgo_async.Computer` (anything with ``id``,
            ``instance_id``, ``hostname``, ``connection_url`` and ``vnc_password``).
        refresh: an async callable returning a fresh ``vnc_password``. With it, a
            rejected token (the password rotates on every restart) is replaced once;
            without it a rejection raises :class:`~orgo_async.TokenRejectedError` at once.
        pipeline: the request pipeline :attr:`proxy` sends through (the client's, which
            carries the API key); without it the proxy raises ``RuntimeError``.
        ssl: an ``ssl.SSLContext`` for ``wss://`` (verification is on by default).
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
        refresh: RefreshCallable | None = None,
        pipeline: ProxyPipeline | None = None,
        ssl: _ssl.SSLContext | None = None,
        heartbeat_interval: float | None = 30.0,
        heartbeat_timeout: float = 10.0,
        max_size: int = DEFAULT_MAX_SIZE,
        open_timeout: float = 10.0,
        close_timeout: float = 5.0,
        reconnect: ReconnectPolicy | None = None,
    ) -> None:
        if ssl is not None:
            import ssl as _ssl  # here: the module costs milliseconds at import time

            if not isinstance(ssl, _ssl.SSLContext):
                raise TypeError("ssl must be an ssl.SSLContext (verification stays on by default)")
        if refresh is not None and not callable(refresh):
            raise TypeError("refresh must be an async callable returning the vnc_password")
        self.computer_id: str = computer.id
        self.instance_id: str | None = computer.instance_id or computer.fly_instance_id
        self._base = urls.connection_base(
            computer.connection_url, computer.hostname, self.instance_id
        )
        self.credentials = ChannelCredentials(
            self._base, computer.vnc_password, refresh=refresh, ssl=ssl, label=self.computer_id
        )
        """What the channels open their sockets with: URLs, the token and its refresh."""
        api_base = (
            pipeline.base_url.rstrip("/")
            if pipeline is not None
            else urls.api_base_from(self._base)
        )
        self.options = ChannelOptions(
            heartbeat_interval=heartbeat_interval,
            heartbeat_timeout=heartbeat_timeout,
            max_size=max_size,
            open_timeout=open_timeout,
            close_timeout=close_timeout,
            reconnect=reconnect or ReconnectPolicy(),
        )
        self.proxy = DesktopProxy(pipeline, self.instance_id, api_base=api_base)
        """The Desktop API proxy: ``await conn.proxy.get("health")``."""

    # -- identity and token ----------------------------------------------------------------

    @property
    def connection_url(self) -> str:
        """The per-computer base URL (``https://www.orgo.ai/desktops/{instance_id}``)."""
        return self._base

    @property
    def can_refresh(self) -> bool:
        """Whether a rejected token can be replaced (a ``refresh`` callable was given)."""
        return self.credentials.can_refresh

    @property
    def token(self) -> Secret | None:
        """The current ``vnc_password`` as a :class:`~orgo_async._secrets.Secret`."""
        return self.credentials.token

    async def refresh_token(self) -> None:
        """Fetch the current ``vnc_password`` (it rotates on every restart)."""
        await self.credentials.refresh(stale=self.credentials.token, force=True)

    # -- URLs ------------------------------------------------------------------------------

    @property
    def websockify_url(self) -> SecretURL:
        """``wss://.../ws/websockify?token=...`` for noVNC (``str()`` hides the token)."""
        return SecretURL(self.credentials.url("websockify"))

    def terminal_url(self, cols: int = 80, rows: int = 24) -> SecretURL:
        """``wss://.../ws/terminal?token=...&cols=..&rows=..``."""
        from .._protocol.terminal import check_size

        check_size(cols, rows)
        return SecretURL(self.credentials.url("terminal", {"cols": cols, "rows": rows}))

    def audio_url(self, sample_rate: int = 24000, channels: int = 1) -> SecretURL:
        """``wss://.../ws/audio?token=...&sample_rate=..&channels=..``."""
        from .._protocol.audio import check_params

        check_params(sample_rate, channels)
        query = {"sample_rate": sample_rate, "channels": channels}
        return SecretURL(self.credentials.url("audio", query))

    @property
    def events_url(self) -> SecretURL:
        """``wss://.../ws/events?token=...``."""
        return SecretURL(self.credentials.url("events"))

    @property
    def api_base(self) -> str:
        """The REST base used by the proxy: the client's, else ``{origin}/api``."""
        return self.proxy.api_base

    def proxy_url(self, endpoint: str = "health") -> str:
        """``{api_base}/desktops/{instance_id}/proxy/{endpoint}`` (no secret in it)."""
        return self.proxy.url(endpoint)

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
        compression: bool | None = None,
    ) -> Terminal:
        """The terminal channel (a PTY on the computer's shell), as an async context manager.

        The shell session cannot resume: a lost connection raises
        :class:`~orgo_async.SessionLostError` instead of handing back a fresh shell.

        ``compression`` says whether to offer permessage-deflate to Orgo. The default
        (``None``) offers it: terminal output shrinks to about a fifth on the wire, which
        pays off over the internet. ``False`` saves zlib's CPU on both ends where bytes
        are cheap, close to Orgo (same region; a relay next to it, see
        :func:`~orgo_async.web.relay_terminal`). The server may still decline it.
        """
        from ._terminal import Terminal

        return Terminal(
            self.credentials,
            self._options(
                heartbeat_interval=heartbeat_interval, heartbeat_timeout=heartbeat_timeout
            ),
            cols=cols,
            rows=rows,
            buffer=buffer,
            compression=compression,
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
            self.credentials,
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
        compression: bool | None = None,
    ) -> Events:
        """The events channel, subscribed to ``event_types`` (re-subscribed after every
        reconnect). ``buffer`` events are kept for a slow consumer; older ones are dropped
        and counted. ``compression``: as for :meth:`terminal` (offered by default; event
        JSON shrinks to about a tenth)."""
        from ._events import Events

        return Events(
            self.credentials,
            self._options(
                reconnect=reconnect,
                heartbeat_interval=heartbeat_interval,
                heartbeat_timeout=heartbeat_timeout,
            ),
            event_types=event_types,
            buffer=buffer,
            compression=compression,
        )

    def vnc(
        self,
        *,
        buffer: int = 256,
        reconnect: ReconnectPolicy | None = None,
    ) -> Vnc:
        """The raw RFB byte stream over websockify (binary frames both ways)."""
        from ._vnc import Vnc

        return Vnc(self.credentials, self._options(reconnect=reconnect), buffer=buffer)

    def vnc_bridge(self, port: int = 0, host: str = "127.0.0.1") -> VncBridge:
        """A local TCP port a native VNC viewer can connect to, tunnelled through
        websockify (one WebSocket per viewer). Use ``async with`` or ``await .start()``."""
        from ._vnc import VncBridge

        return VncBridge(self.credentials, self.options, host=host, port=port)

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
            f"url={self._base} token={REDACTED if self.credentials.token else None}>"
        )
