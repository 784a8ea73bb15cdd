"""``AsyncOrgo``: configuration, session lifecycle, ``with_options`` and the resources."""

from __future__ import annotations

import os
import ssl as _ssl
import warnings
from collections.abc import Awaitable, Callable, Mapping
from functools import cached_property
from types import TracebackType
from typing import TYPE_CHECKING, Any

import aiohttp

from ._http import (
    DEFAULT_BASE_URL,
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT,
    HTTPPipeline,
    RequestOptions,
    copy_options,
)
from ._models import Computer
from ._resources.computers import Computers
from ._resources.workspaces import Workspaces
from ._secrets import REDACTED, Secret
from ._transport import SharedSession

if TYPE_CHECKING:
    from ._resources.agent import Agent
    from ._resources.chat import Chat
    from ._resources.files import Files
    from ._resources.templates import Templates
    from .connection import Connection

__all__ = ["AsyncOrgo"]

ApiKeyArg = str | Secret | Callable[[], str] | Callable[[], Awaitable[str]]


class AsyncOrgo:
    """The asyncio client for the Orgo API: one ``aiohttp.ClientSession`` for everything.

    ::

        async with AsyncOrgo() as orgo:             # key from ORGO_API_KEY
            ws = await orgo.workspaces.create(name="prod")
            c = await orgo.computers.create(workspace_id=ws.id, name="agent-1")
            await orgo.computers.click(c.id, 100, 200)

    Arguments:
        api_key: the key (``sk_live_...``), or a callable (sync or async) returning the
            current key, so keys can rotate without a new client. Falls back to
            ``ORGO_API_KEY``.
        base_url: falls back to ``ORGO_BASE_URL``, then ``https://www.orgo.ai/api``.
        timeout: default seconds per request (bash/exec/wait get their server limit plus
            slack on top of this).
        max_retries: retries of a failed request that is safe to retry (see
            :mod:`orgo_async._retry` for what is safe).
        max_connections / max_connections_per_host: the connection pool limits.
        session: a caller-owned ``aiohttp.ClientSession``; it is used as is and never
            closed by the client.
        ssl: an ``ssl.SSLContext`` (or ``False`` to disable verification, for tests only).
        default_headers: headers sent with every request.
        agent_url: the hosted agent's WebSocket (``orgo.agent``); falls back to
            ``ORGO_AGENT_URL``, then ``wss://agent.orgo.ai/ws/prompt``.

    The session is created lazily inside the running event loop, so the client can be
    built at import time or in a FastAPI lifespan. It is safe to share one client across
    thousands of tasks; it is bound to the first event loop that uses it. Use it with
    ``async with`` or call :meth:`close`; nothing is closed from ``__del__`` (an unclosed
    client warns, like aiohttp does).
    """

    def __init__(
        self,
        *,
        api_key: ApiKeyArg | None = None,
        base_url: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        max_connections: int = 100,
        max_connections_per_host: int = 0,
        session: aiohttp.ClientSession | None = None,
        ssl: _ssl.SSLContext | bool | None = None,
        default_headers: Mapping[str, str] | None = None,
        agent_url: str | None = None,
        _pipeline: HTTPPipeline | None = None,
    ) -> None:
        self._agent_url = agent_url or os.environ.get("ORGO_AGENT_URL") or None
        if self._agent_url is not None and not self._agent_url.startswith(("ws://", "wss://")):
            raise ValueError(f"agent_url must start with ws:// or wss://, not {self._agent_url!r}")
        if _pipeline is not None:  # a with_options() view sharing the parent's transport
            self._pipeline = _pipeline
            self._is_view = True
            return
        self._is_view = False
        key: Any = api_key if api_key is not None else os.environ.get("ORGO_API_KEY")
        if key is None or key == "":
            raise ValueError(
                "no API key: pass api_key=... or set ORGO_API_KEY "
                "(keys are created in the Orgo dashboard)"
            )
        if isinstance(key, str):
            key = Secret(key)
        elif not isinstance(key, Secret) and not callable(key):
            raise TypeError("api_key must be a str or a callable returning the key")
        url = base_url or os.environ.get("ORGO_BASE_URL") or DEFAULT_BASE_URL
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https://, not {url!r}")
        if timeout <= 0:
            raise ValueError("timeout must be > 0")
        if max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        options = RequestOptions(
            timeout=timeout,
            connect_timeout=connect_timeout,
            max_retries=max_retries,
            headers=dict(default_headers or {}),
        )
        transport = SharedSession(
            session=session,
            max_connections=max_connections,
            max_connections_per_host=max_connections_per_host,
            ssl=ssl,
        )
        self._pipeline = HTTPPipeline(
            base_url=url, api_key=key, options=options, transport=transport
        )

    # -- resources ------------------------------------------------------------------------

    @cached_property
    def workspaces(self) -> Workspaces:
        """Workspaces: create, list, get, delete."""
        return Workspaces(self._pipeline)

    @cached_property
    def computers(self) -> Computers:
        """Computers: lifecycle, actions, screenshots, streaming, fleets."""
        return Computers(self._pipeline)

    @cached_property
    def files(self) -> Files:
        """Files: upload, export, list, download, delete."""
        from ._resources.files import Files

        return Files(self._pipeline)

    @cached_property
    def templates(self) -> Templates:
        """Templates: validate, publish, the registry, builds, previews, legacy builds."""
        from ._resources.templates import Templates

        return Templates(self._pipeline)

    @cached_property
    def chat(self) -> Chat:
        """The hosted agent over HTTP: ``/v1/chat/completions`` and chat threads."""
        from ._resources.chat import Chat

        return Chat(self._pipeline)

    @cached_property
    def agent(self) -> Agent:
        """The hosted agent over its WebSocket (the official SDK's ``prompt()``)."""
        from ._resources.agent import DEFAULT_AGENT_URL, Agent

        return Agent(self._pipeline, self._agent_url or DEFAULT_AGENT_URL)

    # -- configuration --------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return self._pipeline.base_url

    @property
    def timeout(self) -> float:
        return self._pipeline.options.timeout

    @property
    def max_retries(self) -> int:
        return self._pipeline.options.max_retries

    @property
    def session(self) -> aiohttp.ClientSession | None:
        """The ``aiohttp.ClientSession`` requests go through, shared by every
        :meth:`with_options` view: the one passed as ``session=``, else the one this
        client creates on its first request (``None`` until then). Read-only: the client
        owns the session it created and closes it in :meth:`close`; one you passed in is
        never closed by the client.

        >>> async with AsyncOrgo() as orgo:  # doctest: +SKIP
        ...     await orgo.workspaces.list()
        ...     assert orgo.with_options(timeout=5).session is orgo.session
        """
        return self._pipeline.transport.session

    def with_options(
        self,
        *,
        timeout: float | None = None,
        max_retries: int | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> AsyncOrgo:
        """A view of this client with other request options, sharing its session.

        Cheap: no new connection pool. Closing a view closes the shared session.

        >>> await orgo.with_options(timeout=5, max_retries=0).computers.get(cid)  # doctest: +SKIP
        """
        options = copy_options(
            self._pipeline.options, timeout=timeout, max_retries=max_retries, headers=headers
        )
        return AsyncOrgo(_pipeline=self._pipeline.with_options(options), agent_url=self._agent_url)

    # -- connections (WebSockets, Desktop API proxy) --------------------------------------

    def connection(self, computer: Computer) -> Connection:
        """A :class:`~orgo_async.Connection` to the computer's channels.

        It fetches a fresh ``vnc_password`` through this client when the old one is
        rejected, sends the Desktop proxy through this client's pipeline (API key,
        retries, typed errors) and trusts what this client trusts for ``wss://``.
        """
        from .connection import Connection

        computers = self.computers
        computer_id = computer.id

        async def refresh() -> str:
            return await computers.vnc_password(computer_id)

        return Connection(computer, refresh=refresh, pipeline=self._pipeline, ssl=self._tls())

    def _tls(self) -> _ssl.SSLContext | None:
        # wss:// reuses this client's trust settings (e.g. a private CA); ssl=False
        # (tests only) is not carried over: channels keep verifying.
        context = getattr(self._pipeline.transport, "ssl", None)
        return context if isinstance(context, _ssl.SSLContext) else None

    async def connect(self, computer_id: str) -> Connection:
        """Fetch the computer and return a :class:`~orgo_async.Connection` to it."""
        return self.connection(await self.computers.get(computer_id))

    # -- lifecycle ------------------------------------------------------------------------

    @property
    def is_closed(self) -> bool:
        return self._pipeline.transport.closed

    async def close(self) -> None:
        """Close the session (unless it was passed in by the caller). Idempotent."""
        await self._pipeline.transport.close()

    async def __aenter__(self) -> AsyncOrgo:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"AsyncOrgo(base_url={self.base_url!r}, api_key={REDACTED!r})"

    def __del__(self, _warn: Any = warnings.warn) -> None:
        # Warn only; closing here would run on an arbitrary thread or after the loop
        # closed, the source of "Event loop is closed" errors in other SDKs.
        try:
            if self._is_view:
                return
            transport = self._pipeline.transport
        except AttributeError:  # __init__ failed
            return
        session = transport.session
        if transport.owns_session and session is not None and not session.closed:
            _warn(
                f"Unclosed client {self!r}: use 'async with AsyncOrgo()' or 'await client.close()'",
                ResourceWarning,
                source=self,
            )
