"""A scripted OpenAI Responses API on loopback (``POST /v1/responses``), for the ``openai``
client and the Agents SDK's default model to talk to: each request gets the next scripted
``output`` list; requests are recorded. An unscripted call answers 500."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.conftest import listen


def computer_call(call_id: str, *actions: dict[str, Any], checks: Any = ()) -> dict[str, Any]:
    return {
        "type": "computer_call", "id": f"cu_{call_id}", "call_id": call_id,
        "status": "completed", "pending_safety_checks": list(checks), "actions": list(actions),
    }  # fmt: skip


def message(text: str) -> dict[str, Any]:
    return {
        "type": "message", "id": "msg_final", "role": "assistant", "status": "completed",
        "content": [{"type": "output_text", "text": text, "annotations": []}],
    }  # fmt: skip


@dataclass
class Request:
    path: str
    body: dict[str, Any]


class ScriptedResponses:
    """``async with ScriptedResponses() as srv``: ``srv.base_url`` ends in ``/v1``."""

    def __init__(self) -> None:
        self.outputs: deque[list[dict[str, Any]]] = deque()
        self.requests: list[Request] = []
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    def add(self, *items: dict[str, Any]) -> None:
        self.outputs.append(list(items))

    async def _responses(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append(Request(request.path, body))
        if not self.outputs:
            return web.json_response({"error": {"message": "script exhausted"}}, status=500)
        return web.json_response(
            {
                "id": f"resp_{len(self.requests)}", "object": "response", "created_at": 0,
                "model": body.get("model", "m"), "status": "completed",
                "output": self.outputs.popleft(), "parallel_tool_calls": True,
                "tool_choice": "auto", "tools": [],
            }
        )  # fmt: skip

    async def __aenter__(self) -> ScriptedResponses:
        app = web.Application(client_max_size=64 << 20)
        app.router.add_post("/v1/responses", self._responses)
        self._runner = web.AppRunner(app, access_log=None)
        port = await listen(self._runner)
        self.base_url = f"http://127.0.0.1:{port}/v1"
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
