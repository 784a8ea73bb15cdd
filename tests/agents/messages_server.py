"""A scripted Anthropic Messages API on loopback, for ``anthropic.AsyncAnthropic`` to talk to.

``POST /v1/messages`` answers the next scripted assistant turn (a list of content blocks;
``stop_reason`` is ``tool_use`` when the turn has a ``tool_use`` block, else
``end_turn``) and records every request: headers, query and JSON body, so tests can
assert the beta flags, the tool specs and the ``tool_result`` blocks that came back.
:meth:`ScriptedClaude.fail` makes a given request answer an error status instead. An
unscripted call answers 500 (a test that runs past its script fails loudly).
"""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.conftest import listen


@dataclass
class Request:
    headers: dict[str, str]
    body: dict[str, Any]
    query: str = ""

    @property
    def betas(self) -> list[str]:
        return [b.strip() for b in self.headers.get("anthropic-beta", "").split(",") if b]

    def tool_results(self) -> list[dict[str, Any]]:
        """The tool_result blocks of the last (user) message."""
        last = self.body["messages"][-1]
        assert last["role"] == "user"
        return [b for b in last["content"] if b.get("type") == "tool_result"]


class ScriptedClaude:
    """``async with ScriptedClaude() as srv``: ``srv.base_url`` for ``AsyncAnthropic``."""

    def __init__(self) -> None:
        self.turns: deque[list[dict[str, Any]]] = deque()
        self.failures: dict[int, int] = {}
        self.requests: list[Request] = []
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    def tool_use(self, name: str = "computer", **input: Any) -> dict[str, Any]:
        """A tool_use block with a fresh id."""
        return {
            "type": "tool_use",
            "id": f"toolu_{next(self._ids):04d}",
            "name": name,
            "input": input,
        }

    def add_turn(self, *blocks: dict[str, Any]) -> list[dict[str, Any]]:
        self.turns.append(list(blocks))
        return list(blocks)

    def fail(self, at: int, status: int) -> None:
        """Answer request number ``at`` (0-based, counting every request) with ``status``."""
        self.failures[at] = status

    async def _messages(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append(Request(dict(request.headers), body, request.query_string))
        status = self.failures.pop(len(self.requests) - 1, None)
        if status is not None:
            return web.json_response(
                {"type": "error", "error": {"type": "api_error", "message": "scripted failure"}},
                status=status,
                headers={"retry-after-ms": "1"},  # a client's retry comes at once
            )
        if not self.turns:
            return web.json_response(
                {"type": "error", "error": {"type": "api_error", "message": "script exhausted"}},
                status=500,
            )
        content = self.turns.popleft()
        calls = any(b["type"] == "tool_use" for b in content)
        return web.json_response(
            {
                "id": f"msg_{len(self.requests):04d}",
                "type": "message",
                "role": "assistant",
                "model": body["model"],
                "content": content,
                "stop_reason": "tool_use" if calls else "end_turn",
                "stop_sequence": None,
                "usage": {"input_tokens": 100, "output_tokens": 10},
            }
        )

    async def __aenter__(self) -> ScriptedClaude:
        app = web.Application(client_max_size=64 << 20)
        app.router.add_post("/v1/messages", self._messages)
        self._runner = web.AppRunner(app, access_log=None)
        port = await listen(self._runner)
        self.base_url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
