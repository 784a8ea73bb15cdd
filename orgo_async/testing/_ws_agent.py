"""The emulator's hosted agent WebSocket: ``/ws/prompt?token=<API key>`` (§10.3).

Point a client at ``fake.agent_url`` (``ws://host:port/ws/prompt``; the official SDK
takes the origin, ``ws://host:port``, as its ``agent_url``). The session:

1. the socket is accepted; a ``token`` that is not an accepted API key closes it 4401;
2. the client sends ``{"type": "start", "config": {computer_id, instruction, ...}}``
   (within 30 s); ``{"type": "ping"}`` is answered ``pong`` at any time;
3. the scripted agent (:mod:`._agent_script`) runs on the computer, one frame each for
   ``status``, ``iteration``, ``thinking``, ``tool_use``, ``tool_result`` and, for
   screenshots, ``screenshot`` ``{size}``; then ``text`` (its answer) and ``result``
   ``{success: true, iterations, messages}``;
4. a problem (unknown computer, not running, no credits, a malformed start) is an
   ``error`` frame followed by ``result`` ``{success: false, error}``;
5. after ``result`` the server waits a little for the client to close, then closes 1000.

``fake.agent.drop_after_frames = N`` closes the next session with 1011 after N frames,
without a result (a crashed agent); the app's shutdown closes open sessions with 1001.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any, Final

from aiohttp import WSMsgType, web

from ._agent_script import Desktop
from ._rest_chat import run_agent
from ._rest_http import ApiError, Emulator
from ._rest_objects import require_running, visible_computer
from ._state import ApiKey, FakeComputer
from ._state_agent import AgentRunRecord, Step
from ._ws_core import SHUTDOWN_ANSWER

__all__ = ["AgentSockets"]

START_TIMEOUT: Final = 30.0
CLOSE_WAIT: Final = 5.0
# Once aiohttp stopped reading (its shutdown), a close only needs to get its frame out.
UNANSWERED_CLOSE: Final = 0.05


class _Dropped(Exception):
    """The scripted fault: the socket is closed mid-run."""


class AgentSession:
    """One ``/ws/prompt`` socket."""

    def __init__(self, fake: Emulator, desktop: Desktop, ws: web.WebSocketResponse) -> None:
        self.fake = fake
        self.desktop = desktop
        self.ws = ws
        self.frames = 0
        self.drop_after, fake.agent.drop_after_frames = fake.agent.drop_after_frames, None
        self.started: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()

    async def send(self, type_: str, data: Any = None) -> None:
        if self.drop_after is not None and self.frames >= self.drop_after:
            raise _Dropped
        self.frames += 1
        frame: dict[str, Any] = {"type": type_}
        if data is not None:
            frame["data"] = data
        await self.ws.send_str(json.dumps(frame))

    async def fail(self, message: str) -> None:
        await self.send("error", message)
        await self.send("result", {"success": False, "iterations": 0, "error": message})

    async def reader(self) -> None:
        """Client frames: the start message, pings; ends when the client closes."""
        async for msg in self.ws:
            if msg.type != WSMsgType.TEXT:
                continue
            try:
                data = json.loads(msg.data)
            except ValueError:
                data = None
            kind = data.get("type") if isinstance(data, dict) else None
            if kind == "ping":
                with contextlib.suppress(_Dropped, ConnectionError):
                    await self.send("pong")
            elif not self.started.done():
                self.started.set_result(data if isinstance(data, dict) else {})
        if not self.started.done():
            self.started.set_result({"type": "closed"})

    def _computer(self, key: ApiKey, computer_id: Any) -> FakeComputer | None:
        """The computer if ``key`` may see it (the REST lookup's rules), else ``None``."""
        c = self.fake.world.computers.get(computer_id) if isinstance(computer_id, str) else None
        try:
            return visible_computer(self.fake, key, c)
        except ApiError:
            return None

    async def run(self, key: ApiKey) -> None:
        start = await asyncio.wait_for(self.started, START_TIMEOUT)
        if start.get("type") == "closed":
            return
        config = start.get("config")
        if start.get("type") != "start" or not isinstance(config, dict):
            await self.fail('expected {"type": "start", "config": {...}}')
            return
        instruction = config.get("instruction")
        if not isinstance(instruction, str) or not instruction.strip():
            await self.fail("config.instruction is required")
            return
        c = self._computer(key, config.get("computer_id"))
        if c is None:
            await self.fail("Computer not found")
            return
        try:
            require_running(c)  # a suspended computer resumes, as for a REST action
        except ApiError:
            await self.fail(f"Computer is {c.status}, not running")
            return
        world = self.fake.agent
        if not world.can_pay(False):
            await self.fail("credits_exhausted: your Orgo credits are exhausted")
            return
        await self.send("status", "Connecting to computer")
        iterations = config.get("max_iterations")

        async def on_step(i: int, step: Step, result: dict[str, Any]) -> None:
            await self.send("iteration", i)
            await self.send("status", f"Iteration {i}")
            await self.send("thinking", f"Next: {step.action}")
            await self.send("tool_use", {"action": step.action, "params": step.params})
            if step.action == "screenshot" and "size" in result:
                await self.send("screenshot", {"size": result["size"]})
            await self.send("tool_result", result)

        steps, cost, answer = await run_agent(
            self.fake,
            self.desktop,
            c,
            instruction,
            byok=False,
            max_steps=iterations if isinstance(iterations, int) and iterations > 0 else None,
            on_step=on_step,
        )
        world.runs.append(AgentRunRecord("websocket", c.id, instruction, steps, False, cost))
        await self.send("text", answer)
        messages = [
            {"role": "user", "content": instruction},
            {"role": "assistant", "content": answer},
        ]
        await self.send("result", {"success": True, "iterations": len(steps), "messages": messages})


class AgentSockets:
    """The ``GET /ws/prompt`` endpoint of one emulator and its open sessions;
    ``desktop`` performs the agent's actions.

    :meth:`close_all` closes them with 1001 the way the desktop sockets' hub does
    (:class:`~._ws_core.SessionHub`): called while the server still reads, each close
    handshake completes at once; a peer that does not answer within ``answer_within``
    has its connection dropped.
    """

    def __init__(self, fake: Emulator, desktop: Desktop) -> None:
        self.fake = fake
        self.desktop = desktop
        self._live: dict[web.WebSocketResponse, tuple[web.Request, asyncio.Future[None]]] = {}
        #: Set by :meth:`close_all`: new sessions are closed with 1001 at once.
        self.closed = False

    async def handler(self, request: web.Request) -> web.WebSocketResponse:
        """Serve one hosted-agent session (see the module docstring)."""
        fake = self.fake
        ws = web.WebSocketResponse(max_msg_size=1 << 20)
        await ws.prepare(request)
        key = fake.world.keys.get(request.query.get("token", ""))
        if self.closed:
            await ws.close(code=1001, message=b"server shutting down")
            return ws
        if key is None:
            await ws.close(code=4401, message=b"Invalid API key")
            return ws
        session = AgentSession(fake, self.desktop, ws)
        fake.agent.open_sockets += 1
        reader = asyncio.ensure_future(session.reader())
        # The run in its own task, so close_all() can stop a run mid-step.
        run = asyncio.ensure_future(session.run(key))
        self._live[ws] = (request, run)
        try:
            await asyncio.shield(run)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(reader), CLOSE_WAIT)
            await ws.close()
        except _Dropped:
            await ws.close(code=1011, message=b"agent crashed")
        except (ConnectionError, TimeoutError):
            await ws.close(code=1011, message=b"no start message")
        except asyncio.CancelledError:
            if not run.cancelled():
                raise  # the handler itself was cancelled, not the run by close_all()
        finally:
            for task in (run, reader):
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
            self._live.pop(ws, None)
            fake.agent.open_sockets -= 1
        return ws

    async def close_all(self, *, answer_within: float = SHUTDOWN_ANSWER) -> None:
        """Close every open session with 1001 (see the class docstring)."""
        self.closed = True
        await asyncio.gather(*(self._close(ws, answer_within) for ws in list(self._live)))

    async def on_shutdown(self, _app: web.Application) -> None:
        """The ``on_shutdown`` hook: aiohttp no longer reads, only our frames go out."""
        await self.close_all(answer_within=UNANSWERED_CLOSE)

    async def _close(self, ws: web.WebSocketResponse, answer_within: float) -> None:
        entry = self._live.get(ws)
        if entry is None:
            return  # ended meanwhile
        request, run = entry
        run.cancel()  # a run mid-step stops at once
        with contextlib.suppress(ConnectionError, RuntimeError, TimeoutError):
            # Cancelling the wait for the answer makes aiohttp close the connection
            # after flushing our close frame.
            async with asyncio.timeout(answer_within):
                await ws.close(code=1001, message=b"server shutting down")
        transport = request.transport
        if transport is not None and transport.get_write_buffer_size():
            transport.abort()  # a peer that reads nothing: what is left would never leave
