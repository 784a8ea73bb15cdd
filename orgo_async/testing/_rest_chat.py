"""The emulator's agent endpoints over HTTP: completions and chat threads (§10.1, §10.2).

``POST /api/v1/chat/completions`` runs the scripted agent (:mod:`._agent_script`) on the
computer: its actions land in the computer's action log, each step costs
``fake.agent.cost_per_step_cents`` (none with an ``x-anthropic-key``), and an empty
balance answers 402 ``credits_exhausted`` with ``balance_cents``. Every error under
``/api/v1/`` uses the documented nested shape ``{"error": {"type", "message", "code"}}``
(a middleware rewrites the flat errors of authentication and faults into it). A
``x-anthropic-key`` not starting with ``sk-ant-`` is refused with 401
``invalid_api_key`` and the key in the message, as a careless server would echo it (so
clients are tested for redacting it). Streaming sends role, word deltas, a final chunk
with ``finish_reason`` (and, beyond the docs, ``usage`` and ``orgo``), then
``data: [DONE]``.

Chat threads use the flat ``{"error": "..."}`` shape. The title endpoint streams
``0:"<piece>"`` lines (``text/plain``) and stores the title on the thread.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import Any

import msgspec
from aiohttp import web

from ._agent_script import Desktop, default_script, describe, perform, usage_for
from ._rest_body import check_fields, read_body, str_field
from ._rest_http import API_KEY, ApiError, Emulator, bad, json_response
from ._rest_objects import find_computer
from ._state import FakeComputer, now_iso
from ._state_agent import AgentRunRecord, ThreadRecord

__all__ = ["MODELS", "ChatApi", "nested_errors", "run_agent"]

MODELS = ("claude-sonnet-4.6", "claude-opus-4.6")
MAX_CONTEXT_CHARS = 200_000
_NESTED_CODES = {
    400: "invalid_request",
    401: "invalid_api_key",
    403: "permission_denied",
    404: "not_found",
    429: "rate_limited",
}


class ChatError(Exception):
    """A nested-shape error of ``/v1/chat/completions``."""

    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra

    def response(self) -> web.Response:
        kind = {401: "authentication_error", 402: "insufficient_credits"}.get(
            self.status, "invalid_request" if self.status < 500 else "internal_error"
        )
        error = {"type": kind, "message": self.message, "code": self.code, **self.extra}
        return json_response({"error": error}, self.status)


@web.middleware
async def nested_errors(request: web.Request, handler: Any) -> web.StreamResponse:
    """Rewrite flat error bodies under ``/api/v1/`` into the nested shape."""
    response: web.StreamResponse = await handler(request)
    if (
        not request.path.startswith("/api/v1/")
        or response.status < 400
        or not isinstance(response, web.Response)
        or not isinstance(response.body, bytes)
    ):
        return response
    try:
        data = msgspec.json.decode(response.body)
    except msgspec.DecodeError:
        return response
    if not isinstance(data, dict) or not isinstance(data.get("error"), str):
        return response
    message = data.pop("error")
    code = data.pop("code", None) or _NESTED_CODES.get(response.status, "internal_error")
    data.pop("request_id", None)
    return ChatError(response.status, code, message, **data).response()


async def run_agent(
    fake: Emulator,
    desktop: Desktop,
    c: FakeComputer,
    instruction: str,
    *,
    byok: bool,
    max_steps: int | None = None,
    on_step: Any = None,
) -> tuple[list[Any], int, str]:
    """Run the script on ``c``; returns (steps done, cost in cents, final answer).

    ``on_step(index, step, result)`` (a coroutine function) sees every step.
    """
    world = fake.agent
    steps = (world.script or default_script)(instruction, c)
    if max_steps is not None:
        steps = steps[:max_steps]
    done = []
    cost = 0
    for i, step in enumerate(steps, 1):
        if not world.can_pay(byok):
            break  # the balance ran out mid-run: stop where it is
        cost += world.charge(byok)
        if world.step_delay:
            await asyncio.sleep(world.step_delay)
        result = await perform(desktop, c, step)
        done.append(step)
        if on_step is not None:
            await on_step(i, step, result)
    return done, cost, describe(done)


class ChatApi:
    """Route handlers of completions and chat threads for one emulator; ``desktop``
    performs the agent's actions."""

    def __init__(self, fake: Emulator, desktop: Desktop) -> None:
        self.fake = fake
        self.desktop = desktop

    # completions -----------------------------------------------------------------------

    def _parse(self, raw: bytes) -> dict[str, Any]:
        try:
            body = msgspec.json.decode(raw) if raw.strip() else None
        except msgspec.DecodeError:
            raise ChatError(400, "invalid_json", "Request body is not valid JSON") from None
        if not isinstance(body, dict):
            raise ChatError(400, "invalid_json", "Request body must be a JSON object")
        if not isinstance(body.get("computer_id"), str) or not body["computer_id"]:
            raise ChatError(400, "missing_computer_id", "computer_id is required")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise ChatError(400, "empty_messages", "messages must be a non-empty array")
        for m in messages:
            if (
                not isinstance(m, dict)
                or m.get("role") not in ("user", "assistant")
                or not isinstance(m.get("content"), str)
            ):
                raise ChatError(400, "invalid_message_order", "each message needs role and content")
        if messages[0]["role"] != "user":
            raise ChatError(400, "invalid_message_order", "the first message must be from the user")
        if sum(len(m["content"]) for m in messages) > MAX_CONTEXT_CHARS:
            raise ChatError(400, "context_overflow", "the conversation is too long for the model")
        model = body.get("model", MODELS[0])
        if model not in MODELS:
            raise ChatError(400, "invalid_model", f"unknown model {model!r}")
        steps = body.get("max_steps")
        if steps is not None and (
            isinstance(steps, bool) or not isinstance(steps, int) or steps < 1
        ):
            raise ChatError(400, "invalid_request", "max_steps must be a positive integer")
        return body

    def _thread(self, request: web.Request, body: dict[str, Any], c: FakeComputer) -> ThreadRecord:
        user = request[API_KEY].user_id
        thread_id = body.get("thread_id")
        if thread_id is None:
            return self.fake.agent.new_thread(c.id, user)
        thread = self.fake.agent.threads.get(thread_id) if isinstance(thread_id, str) else None
        if thread is None or thread.user_id != user or thread.desktop_id != c.id:
            raise ChatError(404, "thread_not_found", f"thread {thread_id!r} not found")
        return thread

    async def completions(self, request: web.Request) -> web.StreamResponse:
        try:
            return await self._completions(request)
        except ChatError as e:
            return e.response()

    async def _completions(self, request: web.Request) -> web.StreamResponse:
        body = self._parse(await request.read())
        byok_key = request.headers.get("x-anthropic-key")
        if byok_key is not None and not byok_key.startswith("sk-ant-"):
            raise ChatError(401, "invalid_api_key", f"Anthropic rejected the key {byok_key}")
        byok = byok_key is not None
        try:
            c = find_computer(self.fake, request, body["computer_id"])
        except ApiError as e:
            code = (
                "computer_not_found" if e.status == 404 else str(e.extra.get("code", "forbidden"))
            )
            raise ChatError(e.status, code, e.message) from None
        if c.status != "running":
            raise ChatError(400, "computer_not_running", f"computer is {c.status}, not running")
        world = self.fake.agent
        if not world.can_pay(byok):
            raise ChatError(
                402,
                "credits_exhausted",
                "Your Orgo credits are exhausted. Add credits or send x-anthropic-key.",
                balance_cents=world.credits_cents or 0,
            )
        thread = self._thread(request, body, c)
        messages = body["messages"]
        thread.messages.extend({"role": m["role"], "content": m["content"]} for m in messages)
        instruction = next(m["content"] for m in reversed(messages) if m["role"] == "user")
        steps, cost, answer = await run_agent(
            self.fake, self.desktop, c, instruction, byok=byok, max_steps=body.get("max_steps")
        )
        thread.messages.append({"role": "assistant", "content": answer})
        thread.updated_at = now_iso()
        world.runs.append(
            AgentRunRecord("completions", c.id, instruction, steps, byok, cost, thread.remote_id)
        )
        completion_id = "chatcmpl-" + secrets.token_hex(12)
        orgo: dict[str, Any] = {
            "thread_id": thread.remote_id,
            "steps": len(steps),
            "cost_cents": cost,
        }
        if world.credits_cents is not None:
            orgo["credit_balance_cents"] = world.credits_cents
        model = body.get("model", MODELS[0])
        usage = usage_for(messages, answer, len(steps))
        headers = {"X-Request-Id": completion_id, "X-Thread-Id": thread.remote_id}
        if not body.get("stream"):
            return json_response(
                {
                    "id": completion_id,
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": model,
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": answer},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": usage,
                    "orgo": orgo,
                },
                headers=headers,
            )
        return await self._stream(request, completion_id, model, answer, usage, orgo, headers)

    async def _stream(
        self,
        request: web.Request,
        completion_id: str,
        model: str,
        answer: str,
        usage: dict[str, int],
        orgo: dict[str, Any],
        headers: dict[str, str],
    ) -> web.StreamResponse:
        resp = web.StreamResponse(headers={**headers, "Cache-Control": "no-cache"})
        resp.content_type = "text/event-stream"
        await resp.prepare(request)
        created = int(time.time())

        def chunk(delta: dict[str, str], finish: str | None = None, **extra: Any) -> bytes:
            data = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                **extra,
            }
            return b"data: " + msgspec.json.encode(data) + b"\n\n"

        try:
            await resp.write(chunk({"role": "assistant"}))
            words = answer.split(" ")
            for i, word in enumerate(words):
                await resp.write(chunk({"content": word if i == 0 else " " + word}))
            await resp.write(chunk({}, "stop", usage=usage, orgo=orgo))
            await resp.write(b"data: [DONE]\n\n")
            await resp.write_eof()
        except ConnectionError:
            pass  # the client went away
        return resp

    # threads ---------------------------------------------------------------------------

    def _own_thread(self, request: web.Request) -> ThreadRecord:
        thread = self.fake.agent.threads.get(request.match_info["id"])
        if thread is None:
            bad("Thread not found", 404)
        if thread.user_id != request[API_KEY].user_id:
            bad("Forbidden", 403)
        return thread

    async def list_threads(self, request: web.Request) -> web.Response:
        desktop = request.query.get("desktopId")
        if not desktop:
            bad("desktopId is required")
        c = find_computer(self.fake, request, desktop)
        user = request[API_KEY].user_id
        threads = [
            t
            for t in self.fake.agent.threads.values()
            if t.desktop_id == c.id and t.user_id == user
        ]
        threads.reverse()  # newest first (dicts keep creation order)
        return json_response({"threads": [t.item() for t in threads]})

    async def create_thread(self, request: web.Request) -> web.Response:
        body = await read_body(request)
        check_fields(self.fake.strict, body, ("desktopId", "localId"))
        desktop = str_field(
            body, "desktopId", required=True, nonempty=True, missing="desktopId is required"
        )
        local = str_field(body, "localId", nonempty=True)
        assert desktop is not None
        c = find_computer(self.fake, request, desktop)
        thread = self.fake.agent.new_thread(c.id, request[API_KEY].user_id, local)
        answer = {"remoteId": thread.remote_id}
        if local is not None:
            answer["externalId"] = local
        return json_response(answer, 201)

    async def get_thread(self, request: web.Request) -> web.Response:
        t = self._own_thread(request)
        data: dict[str, Any] = {"remoteId": t.remote_id, "status": t.status, "messages": t.messages}
        if t.title is not None:
            data["title"] = t.title
        return json_response(data)

    async def update_thread(self, request: web.Request) -> web.Response:
        t = self._own_thread(request)
        body = await read_body(request)
        check_fields(self.fake.strict, body, ("title", "messages", "archive", "unarchive"))
        if "title" in body:
            if not isinstance(body["title"], str):
                bad("title must be a string")
            t.title = body["title"]
        if "messages" in body:
            msgs = body["messages"]
            if not isinstance(msgs, list) or not all(
                isinstance(m, dict)
                and isinstance(m.get("role"), str)
                and isinstance(m.get("content"), str)
                for m in msgs
            ):
                bad("messages must be an array of {role, content}")
            t.messages = [{"role": m["role"], "content": m["content"]} for m in msgs]
        if body.get("archive") is True:
            t.status = "archived"
        if body.get("unarchive") is True:
            t.status = "active"
        t.updated_at = now_iso()
        data: dict[str, Any] = {"remoteId": t.remote_id, "status": t.status}
        if t.title is not None:
            data["title"] = t.title
        return json_response(data)

    async def delete_thread(self, request: web.Request) -> web.Response:
        t = self._own_thread(request)
        del self.fake.agent.threads[t.remote_id]
        return json_response({"success": True})

    async def title(self, request: web.Request) -> web.StreamResponse:
        t = self._own_thread(request)
        body = await read_body(request)
        msgs = body.get("messages")
        if not isinstance(msgs, list) or not msgs:
            bad("messages is required")
        first = next(
            (m.get("content") for m in msgs if isinstance(m, dict) and m.get("role") == "user"),
            None,
        )
        words = str(first or "Untitled chat").split()[:5]
        title = " ".join(w.strip(".,!?").capitalize() for w in words) or "Untitled chat"
        resp = web.StreamResponse()
        resp.content_type = "text/plain"
        resp.charset = "utf-8"
        await resp.prepare(request)
        try:
            pieces = title.split(" ")
            for i, piece in enumerate(pieces):
                part = piece if i == len(pieces) - 1 else piece + " "
                await resp.write(b"0:" + msgspec.json.encode(part) + b"\n")
            await resp.write(b'd:{"finishReason":"stop"}\n')
            await resp.write_eof()
        except ConnectionError:
            return resp
        t.title = title
        return resp
