"""``orgo.agent``: Orgo's hosted agent over its WebSocket (``orgo-api.md`` §10.3).

The official SDK's default ``Computer.prompt()`` provider: connect to
``wss://agent.orgo.ai/ws/prompt?token=<API key>``, send one ``start`` message, receive
typed events until ``result``. The URL is the client's ``agent_url`` (default
:data:`DEFAULT_AGENT_URL`, overridable per client and by ``ORGO_AGENT_URL``). The socket
is opened on the client's own ``aiohttp`` session (its TLS settings apply).

The token is the API key: it is put into the URL only at connect time, never into a
``repr``, a log line or an exception message (those show ``token=***``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Any, Final

import aiohttp
from yarl import URL

from .._errors import AgentError, TokenRejectedError
from .._http import HTTPPipeline
from .._protocol import agent as proto
from .._protocol.urls import redact_url
from .._routes import check_id
from .._secrets import get_logger, redact

__all__ = ["DEFAULT_AGENT_URL", "Agent", "AgentRun"]

DEFAULT_AGENT_URL: Final = "wss://agent.orgo.ai/ws/prompt"
#: Seconds between WebSocket pings; a pong missing for half of it ends the run.
HEARTBEAT: Final = 30.0

log = get_logger()

_CLOSED = (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED)


def check_agent_url(url: str) -> str:
    """Validate a hosted-agent URL (``ws://`` or ``wss://``, no ``token`` of its own)."""
    if not isinstance(url, str) or not url.startswith(("ws://", "wss://")):
        raise ValueError(f"agent_url must start with ws:// or wss://, not {url!r}")
    if "token" in URL(url).query:
        raise ValueError("agent_url must not carry a token: the API key is added when connecting")
    return url


class AgentRun:
    """One hosted-agent run: an async iterator of typed events, and an async context manager.

    Iteration yields every event (:mod:`orgo_async._protocol.agent`: status, thinking,
    text, tool_use, tool_result, screenshot, iteration, error, result; an unknown type as
    :class:`~orgo_async._protocol.codec.Unknown`) and ends after ``result``, whose data
    is then :attr:`result`. A socket closed before ``result`` raises
    :class:`~orgo_async.AgentError` (4401: :class:`~orgo_async.TokenRejectedError`).
    Nothing connects before the first event is asked for; leaving the ``async with`` or
    cancelling the iterating task closes the socket.
    """

    __slots__ = ("_agen", "_url", "result")

    def __init__(self, agent: Agent, config: proto.AgentConfig, heartbeat: float) -> None:
        self._url = agent.url
        self.result: proto.AgentResult | None = None
        self._agen = agent._session(config, heartbeat, self)

    def __aiter__(self) -> AgentRun:
        return self

    async def __anext__(self) -> proto.AgentEvent | proto.Unknown:
        return await self._agen.__anext__()

    async def aclose(self) -> None:
        """Close the socket now (idempotent)."""
        await self._agen.aclose()

    async def __aenter__(self) -> AgentRun:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        done = "done" if self.result is not None else "running"
        return f"AgentRun(url={self._url!r}, {done})"


class Agent:
    """Prompt Orgo's hosted agent to act on a computer::

    async with orgo.agent.prompt(c.id, "Open Firefox and search for AI news") as run:
        async for event in run:
            print(type(event).__name__, getattr(event, "data", None))
    print(run.result.iterations)

    result = await orgo.agent.run(c.id, "Open the terminal")   # just the result
    """

    def __init__(self, pipeline: HTTPPipeline, url: str = DEFAULT_AGENT_URL) -> None:
        self._pipeline = pipeline
        self.url = check_agent_url(url)

    def prompt(
        self,
        computer_id: str,
        instruction: str,
        *,
        model: str | None = None,
        display_width: int | None = None,
        display_height: int | None = None,
        thinking_enabled: bool | None = None,
        thinking_budget: int | None = None,
        max_tokens: int | None = None,
        max_iterations: int | None = None,
        system_prompt: str | None = None,
        heartbeat: float = HEARTBEAT,
    ) -> AgentRun:
        """Start a run; iterate the returned :class:`AgentRun` for its events.

        Options left ``None`` are not sent, so the server's defaults apply (model
        ``claude-sonnet-4-5-20250929``, 1024x768, thinking on with a 1024 budget,
        ``max_tokens`` 4096, 100 iterations, per agent.orgo.ai).
        """
        check_id(computer_id, "computer_id")
        if not isinstance(instruction, str) or not instruction.strip():
            raise ValueError("instruction must be a non-empty str")
        for name, value in (
            ("display_width", display_width),
            ("display_height", display_height),
            ("thinking_budget", thinking_budget),
            ("max_tokens", max_tokens),
            ("max_iterations", max_iterations),
        ):
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 1
            ):
                raise ValueError(f"{name} must be an int >= 1, not {value!r}")
        config = proto.AgentConfig(
            computer_id=computer_id,
            instruction=instruction,
            model=model,
            display_width=display_width,
            display_height=display_height,
            thinking_enabled=thinking_enabled,
            thinking_budget=thinking_budget,
            max_tokens=max_tokens,
            max_iterations=max_iterations,
            system_prompt=system_prompt,
        )
        return AgentRun(self, config, heartbeat)

    async def run(self, computer_id: str, instruction: str, **options: Any) -> proto.AgentResult:
        """Run to the end and return the result (``messages``, ``iterations``).

        Raises :class:`~orgo_async.AgentError` (with ``.result``) when the run ends with
        ``success: false``, as the official SDK raises.
        """
        async with self.prompt(computer_id, instruction, **options) as run:
            async for _ in run:
                pass
        result = run.result
        assert result is not None  # the iteration raises when no result came
        if not result.success:
            raise AgentError(
                f"the hosted agent run failed: {result.error or 'no reason given'}",
                result=result,
            )
        return result

    async def _session(
        self, config: proto.AgentConfig, heartbeat: float, run: AgentRun
    ) -> AsyncGenerator[proto.AgentEvent | proto.Unknown, None]:
        ws = await self._connect(heartbeat)
        decoder = proto.decoder()
        close_code: int | None = None
        close_reason = ""
        last_error = ""
        try:
            await ws.send_str(proto.encode_start(config).decode())
            while True:
                msg = await ws.receive()
                if msg.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                    event = decoder.decode(msg.data)
                    if isinstance(event, proto.ErrorEvent):
                        last_error = event.message
                    if isinstance(event, proto.ResultEvent):
                        run.result = event.data
                        yield event
                        return
                    yield event
                elif msg.type in _CLOSED:
                    close_code = ws.close_code if msg.type != aiohttp.WSMsgType.CLOSE else msg.data
                    close_reason = msg.extra if isinstance(msg.extra, str) else ""
                    break
                elif msg.type == aiohttp.WSMsgType.ERROR:
                    close_reason = type(ws.exception()).__name__
                    break
        finally:
            await ws.close()
        if close_code is None:
            close_code = ws.close_code
        if close_code == 4401:
            raise TokenRejectedError(
                "the hosted agent rejected the API key (close 4401)",
                channel="agent",
                code=close_code,
                reason=redact(close_reason),
            )
        detail = f": {last_error}" if last_error else (f": {close_reason}" if close_reason else "")
        raise AgentError(
            f"the hosted agent closed the connection before the result (code {close_code}){detail}",
            code=close_code,
            reason=redact(close_reason),
        )

    async def _connect(self, heartbeat: float) -> aiohttp.ClientWebSocketResponse:
        token = await self._pipeline.api_key()
        url = URL(self.url).update_query(token=token)
        session = self._pipeline.transport.get_session()
        shown = redact_url(str(url))
        log.debug("connecting to the hosted agent at %s", shown)
        try:
            # The handshake is bounded by the client's timeout (aiohttp's is unbounded).
            async with asyncio.timeout(self._pipeline.options.timeout):
                return await session.ws_connect(
                    url,
                    heartbeat=heartbeat,
                    max_msg_size=proto.MAX_FRAME,
                    timeout=aiohttp.ClientWSTimeout(ws_close=5.0),
                )
        except aiohttp.WSServerHandshakeError as e:
            if e.status in (401, 403):
                raise TokenRejectedError(
                    f"the hosted agent refused the API key (HTTP {e.status})",
                    channel="agent",
                ) from None
            raise AgentError(
                f"the hosted agent refused the connection to {shown} (HTTP {e.status})"
            ) from None
        except (aiohttp.ClientError, TimeoutError, OSError) as e:
            # The exception's own text may carry the URL, token included: not chained.
            raise AgentError(
                f"could not connect to the hosted agent at {shown}: {type(e).__name__}"
            ) from None
