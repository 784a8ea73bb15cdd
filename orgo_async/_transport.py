"""The aiohttp side of the pipeline: the shared session, and one send attempt.

:func:`send_once` sends a built :class:`Request` once and returns what happened as data,
a :class:`Response` or a :class:`TransportFailure` whose :class:`~orgo_async._retry.Failure`
says whether the request can have reached the server. It never raises for network
trouble and never retries: deciding that is :mod:`orgo_async._retry`'s job, and mapping
outcomes to exceptions is the pipeline's (:mod:`orgo_async._http`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import aiohttp
import msgspec
from yarl import URL

from ._retry import Failure
from ._version import __version__

__all__ = ["Request", "Response", "SharedSession", "TransportFailure", "send_once"]


class Request(msgspec.Struct, frozen=True, gc=False):
    """One request, built and ready to send: nothing in it changes between attempts.

    ``path`` is what logs and errors show (no query, no host); ``full_url`` is the URL
    without the query, for :class:`~orgo_async.RawResponse`. ``gc=False``: it holds no
    cycles, and a fleet poll builds one per request, so the garbage collector need not
    track it.
    """

    method: str
    url: URL
    headers: Mapping[str, str]
    body: bytes | None
    timeout: aiohttp.ClientTimeout
    total_timeout: float
    path: str
    full_url: str

    def __repr__(self) -> str:
        # Never the headers (the key) nor the body (what the caller typed, a password).
        return f"Request({self.method} {self.path})"


class Response(msgspec.Struct, frozen=True, gc=False):
    """An HTTP answer, whatever its status, with the whole body read."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    def __repr__(self) -> str:
        # Never the body: a computer's JSON holds its vnc_password.
        return f"Response(status={self.status}, size={len(self.body)})"


class TransportFailure(msgspec.Struct, frozen=True):
    """No HTTP answer: ``kind`` says how far the request got, ``error`` is aiohttp's."""

    kind: Failure
    error: BaseException


async def send_once(
    session: aiohttp.ClientSession, request: Request
) -> Response | TransportFailure:
    """Send ``request`` once; redirects are not followed (they could carry the key away)."""
    try:
        # Awaited and released by hand rather than `async with`: the context managers
        # cost five coroutine objects per request, which a fleet poll feels as GC
        # pressure. release() does what their exit does (the connection goes back to
        # the pool, or is closed if the body was not read to the end), except waiting
        # for the request-body writer, which release() cancels if still running.
        resp = await session.request(
            request.method,
            request.url,
            data=request.body,
            headers=request.headers,
            timeout=request.timeout,
            allow_redirects=False,
        )
        try:
            return Response(resp.status, resp.headers, await resp.read())
        finally:
            resp.release()
    # The order matters: ClientConnectorSSLError is also a ClientConnectorError, and
    # ConnectionTimeoutError (the sock_connect timeout) is also a ServerTimeoutError.
    except aiohttp.ClientSSLError as e:
        return TransportFailure(Failure.TLS, e)
    except aiohttp.ConnectionTimeoutError as e:
        return TransportFailure(Failure.CONNECT_TIMEOUT, e)
    except aiohttp.ClientConnectorError as e:
        return TransportFailure(Failure.CONNECT, e)
    except (TimeoutError, aiohttp.ServerTimeoutError) as e:
        return TransportFailure(Failure.TIMEOUT, e)
    except aiohttp.ClientError as e:
        # Reset, dropped mid-body, bad framing: the request may have been processed.
        return TransportFailure(Failure.DROPPED, e)


class SharedSession:
    """What every view of one client shares: the aiohttp session (created lazily), the
    event loop it is bound to, and the client-wide rate-limit governor.

    The governor: when any request sees a 429, :meth:`hold` makes every request sharing
    this session wait (:attr:`blocked_until`, in loop time) before it is sent.
    """

    def __init__(
        self,
        *,
        session: aiohttp.ClientSession | None,
        max_connections: int,
        max_connections_per_host: int,
        ssl: Any,
    ) -> None:
        self.session = session
        self.owns_session = session is None
        self.max_connections = max_connections
        self.max_connections_per_host = max_connections_per_host
        self.ssl = ssl
        self.loop: asyncio.AbstractEventLoop | None = None
        self.closed = False
        self.blocked_until = 0.0

    def get_session(self) -> aiohttp.ClientSession:
        """The session, created on first use inside the running loop, which it binds to."""
        loop = asyncio.get_running_loop()
        if self.loop is not loop:
            if self.loop is not None:
                raise RuntimeError(
                    "this AsyncOrgo client is bound to another event loop; "
                    "create one client per event loop"
                )
            self.loop = loop
        if self.closed:
            raise RuntimeError("this AsyncOrgo client is closed")
        session = self.session
        if session is None:
            connector = aiohttp.TCPConnector(
                limit=self.max_connections,
                limit_per_host=self.max_connections_per_host,
                ttl_dns_cache=300,
                ssl=self.ssl if self.ssl is not None else True,
            )
            session = self.session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=None),
                headers={"User-Agent": f"orgo-async/{__version__}"},
            )
        return session

    def hold(self, delay: float) -> None:
        """Hold every request of this client back for ``delay`` seconds from now."""
        assert self.loop is not None
        self.blocked_until = max(self.blocked_until, self.loop.time() + delay)

    def held_for(self) -> float:
        """Seconds left before requests may be sent again (0 when not held)."""
        if not self.blocked_until:
            return 0.0
        assert self.loop is not None
        return max(0.0, self.blocked_until - self.loop.time())

    async def close(self) -> None:
        """Close the session if this client created it. Idempotent."""
        self.closed = True
        if self.owns_session and self.session is not None and not self.session.closed:
            await self.session.close()
