"""How ``run_claude`` sends its Messages API requests: the history encoded once per message
(``RequestBody``, no I/O), the first request through ``messages.create``, the rest posted
through ``client.post`` as the same request. Asserted against the scripted Messages API:
every posted request has the headers, query and fields of the created one and the whole
transcript as its messages; retries and API errors behave as ``messages.create``'s; and
every client for which posting could differ (middleware, spans, a subclass) gets
``messages.create`` on every call. The first request is told apart by the
``x-stainless-raw-response`` header that ``with_raw_response`` adds."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest

from orgo_async.agents._messages import RequestBody
from orgo_async.agents.anthropic import ClaudeRun, run_claude

from .conftest import Env
from .messages_server import Request, ScriptedClaude

anthropic = pytest.importorskip("anthropic")
Middleware: Any = anthropic.Middleware
AsyncAnthropic: Any = anthropic.AsyncAnthropic

MODEL = "claude-sonnet-4-6"
RAW = "x-stainless-raw-response"
# Set per request by the client or the transport (or, RAW, only by with_raw_response).
PER_REQUEST = {"content-length", "x-stainless-retry-count", RAW}


@pytest.fixture
async def claude() -> AsyncIterator[ScriptedClaude]:
    async with ScriptedClaude() as srv:
        yield srv


def _script(srv: ScriptedClaude, steps: int) -> None:
    """``steps`` tool turns (a screenshot every other one), then a final answer."""
    for i in range(steps):
        move = {"action": "mouse_move", "coordinate": [i, i]}
        srv.add_turn(srv.tool_use(**({"action": "screenshot"} if i % 2 == 0 else move)))
    srv.add_turn({"type": "text", "text": "done"})


def _headers(req: Request) -> dict[str, str]:
    return {k.lower(): v for k, v in req.headers.items() if k.lower() not in PER_REQUEST}


def _fields(req: Request) -> dict[str, Any]:
    return {k: v for k, v in req.body.items() if k != "messages"}


def _assert_same_requests(reqs: list[Request], run: ClaudeRun) -> None:
    first = reqs[0]
    for req in reqs[1:]:
        assert _headers(req) == _headers(first)
        assert req.query == first.query
        assert _fields(req) == _fields(first)
    # Every request holds the transcript so far; the last one all of it but the answer.
    assert reqs[-1].body["messages"] == run.messages[:-1]
    for i, req in enumerate(reqs):
        assert len(req.body["messages"]) == 2 * i + 1


async def _run(env: Env, client: Any, steps: int = 5, **kwargs: Any) -> ClaudeRun:
    async with client:
        return await run_claude(env.orgo, env.cid, "go", client=client, model=MODEL,
                                keep_screenshots=1, **kwargs)  # fmt: skip


# -- RequestBody (no I/O) -------------------------------------------------------------


def test_request_body_is_the_json_of_the_fields_and_the_history() -> None:
    messages: list[dict[str, Any]] = [{"role": "user", "content": 'héllo \u2028 "q"'}]
    fields = {"model": "m", "max_tokens": 5, "tools": [{"name": "t", "x": 1.5, "y": None}]}
    body = RequestBody(fields, messages)
    assert body.messages is messages
    assert json.loads(body.encode()) == {**fields, "messages": messages}
    result: dict[str, Any] = {"type": "tool_result", "tool_use_id": "a",
                              "content": [{"type": "image", "source": {"data": "QUJD"}}]}  # fmt: skip
    body.append({"role": "assistant", "content": [{"type": "text", "text": "ok"}]})
    body.append({"role": "user", "content": [result]})
    assert len(messages) == 3
    assert json.loads(body.encode()) == {**fields, "messages": messages}
    # A message changed in place is sent as it is now once updated, and only then.
    result["content"][0] = {"type": "text", "text": "[older screenshot removed]"}
    assert json.loads(body.encode())["messages"][2]["content"][0]["content"][0]["type"] == "image"
    body.update(2)
    assert json.loads(body.encode()) == {**fields, "messages": messages}


def test_request_body_edges() -> None:
    assert json.loads(RequestBody({}, []).encode()) == {"messages": []}
    assert json.loads(RequestBody({"a": 1}, []).encode()) == {"a": 1, "messages": []}
    assert json.loads(RequestBody({}, [{"role": "user", "content": "x"}]).encode()) == {
        "messages": [{"role": "user", "content": "x"}]
    }
    with pytest.raises(ValueError, match="messages"):
        RequestBody({"messages": []}, [])
    # An SDK object in the history is sent as the SDK sends it; anything else is refused.
    block = anthropic.types.beta.BetaToolUseBlock(
        id="t", name="computer", input={}, type="tool_use"
    )
    body = RequestBody({}, [{"role": "assistant", "content": [block]}])
    assert json.loads(body.encode())["messages"][0]["content"] == [
        {"id": "t", "name": "computer", "input": {}, "type": "tool_use"}
    ]
    with pytest.raises(TypeError, match="cannot send a object"):
        body.append({"role": "user", "content": [object()]})
    assert len(body.messages) == 1  # a refused message is not half-added


# -- posted requests -------------------------------------------------------------------


async def test_posted_requests_are_the_created_one_with_the_new_history(
    env: Env, claude: ScriptedClaude
) -> None:
    _script(claude, 6)
    client = anthropic.AsyncAnthropic(api_key="sk-ant-test", base_url=claude.base_url)
    run = await _run(env, client, steps=6)
    assert run.final_text == "done" and run.iterations == 7
    reqs = claude.requests
    assert [RAW in {k.lower() for k in r.headers} for r in reqs] == [True] + [False] * 6
    _assert_same_requests(reqs, run)
    first = reqs[0]
    assert _headers(first)["anthropic-beta"] == "computer-use-2025-11-24"
    assert _headers(first)["x-stainless-timeout"] == "600"  # create()'s non-streaming default
    assert first.body["model"] == MODEL and first.body["tools"][0]["type"] == "computer_20251124"
    # keep_screenshots=1: the pruned screenshots were re-encoded as placeholders.
    images = [b for m in reqs[-1].body["messages"] if isinstance(m["content"], list)
              for r in m["content"] if r.get("type") == "tool_result"
              for b in (r["content"] if isinstance(r["content"], list) else [])]  # fmt: skip
    assert [b["type"] for b in images] == ["text", "text", "image"]
    assert len(env.computer.actions) == 6


@pytest.mark.parametrize(
    ("client_kwargs", "create_kwargs"),
    [
        ({"timeout": 30.0, "max_retries": 0}, {}),
        ({"default_headers": {"X-Team": "a", "X-Stainless-Lang": anthropic.omit},
          "default_query": {"org": "o"}}, {}),
        ({}, {"timeout": 12.5, "extra_headers": {"X-Trace": "t1", "User-Agent": "mine",
                                                   "X-Stainless-Arch": anthropic.omit},
              "extra_query": {"probe": "1"}, "extra_body": {"metadata": {"user_id": "u"}},
              "workspace_id": "ws_1", "thinking": {"type": "disabled"}}),
    ],
    ids=["client-timeout", "client-defaults", "call-options"],
)  # fmt: skip
async def test_client_and_call_options_reach_every_posted_request(
    env: Env, claude: ScriptedClaude, client_kwargs: dict[str, Any], create_kwargs: dict[str, Any]
) -> None:
    _script(claude, 3)
    client = anthropic.AsyncAnthropic(api_key="sk-ant-test", base_url=claude.base_url,
                                      **client_kwargs)  # fmt: skip
    run = await _run(env, client, steps=3, **create_kwargs)
    reqs = claude.requests
    assert RAW not in {k.lower() for k in reqs[-1].headers}  # posted
    _assert_same_requests(reqs, run)
    headers = _headers(reqs[-1])
    if "timeout" in client_kwargs:
        assert headers["x-stainless-timeout"] == "NOT_GIVEN"  # create() passes none either
    if "default_headers" in client_kwargs:
        assert headers["x-team"] == "a" and "x-stainless-lang" not in headers
        assert reqs[-1].query == "org=o"
    if create_kwargs:
        assert headers["x-stainless-timeout"] == "12.5"
        assert headers["x-trace"] == "t1" and headers["user-agent"] == "mine"
        assert "x-stainless-arch" not in headers
        assert headers["anthropic-workspace-id"] == "ws_1"
        assert reqs[-1].query == "probe=1"
        assert reqs[-1].body["metadata"] == {"user_id": "u"}
        assert reqs[-1].body["thinking"] == {"type": "disabled"}


async def test_posted_requests_retry_and_raise_like_created_ones(
    env: Env, claude: ScriptedClaude
) -> None:
    _script(claude, 2)
    claude.fail(at=0, status=529)  # the created request
    claude.fail(at=2, status=500)  # the first posted one
    client = anthropic.AsyncAnthropic(api_key="sk-ant-test", base_url=claude.base_url,
                                      max_retries=1)  # fmt: skip
    run = await _run(env, client, steps=2)
    assert run.final_text == "done"
    reqs = claude.requests
    assert [r.headers.get("x-stainless-retry-count") for r in reqs] == ["0", "1", "0", "1", "0"]
    assert [RAW in {k.lower() for k in r.headers} for r in reqs] == [True, True] + [False] * 3
    assert reqs[0].body == reqs[1].body and reqs[2].body == reqs[3].body
    _assert_same_requests([reqs[1], reqs[3], reqs[4]], run)

    # An error answer to a posted request is the SDK's typed error, out of run_claude.
    claude.requests.clear()
    _script(claude, 2)
    claude.fail(at=1, status=400)
    client = anthropic.AsyncAnthropic(api_key="sk-ant-test", base_url=claude.base_url,
                                      max_retries=0)  # fmt: skip
    with pytest.raises(anthropic.BadRequestError, match="scripted failure") as info:
        await _run(env, client, steps=2)
    assert info.value.status_code == 400
    assert RAW not in {k.lower() for k in claude.requests[1].headers}


async def test_stream_is_refused(env: Env, claude: ScriptedClaude) -> None:
    client = anthropic.AsyncAnthropic(api_key="sk-ant-test", base_url=claude.base_url)
    with pytest.raises(ValueError, match="stream=True is not supported"):
        await _run(env, client, stream=True)
    assert claude.requests == []


# -- clients for which every call goes through messages.create --------------------------


class _Recorder(Middleware):  # type: ignore[misc]
    def __init__(self) -> None:
        self.bodies: list[Any] = []

    async def handle_async(self, request: Any, call_next: Any) -> Any:
        self.bodies.append(request.json)
        return await call_next(request)


class _Subclass(AsyncAnthropic):  # type: ignore[misc]
    pass


def _created_every_time(reqs: list[Request]) -> bool:
    return all(RAW in {k.lower() for k in r.headers} for r in reqs)


async def test_middleware_sees_every_call_as_messages_create(
    env: Env, claude: ScriptedClaude
) -> None:
    _script(claude, 3)
    recorder = _Recorder()
    client = anthropic.AsyncAnthropic(api_key="sk-ant-test", base_url=claude.base_url,
                                      middleware=[recorder])  # fmt: skip
    run = await _run(env, client, steps=3)
    assert _created_every_time(claude.requests)
    # The middleware saw each call's params (not a raw body), the history as it was then.
    assert [len(b["messages"]) for b in recorder.bodies] == [1, 3, 5, 7]
    assert recorder.bodies[-1]["model"] == MODEL
    _assert_same_requests(claude.requests, run)


@pytest.mark.parametrize("kind", ["tracer-provider", "trace-context", "subclass", "traces-off"])
async def test_clients_that_would_differ_when_posting(
    env: Env, claude: ScriptedClaude, kind: str
) -> None:
    from opentelemetry import trace

    _script(claude, 2)
    key = {"api_key": "sk-ant-test", "base_url": claude.base_url}
    client: Any
    if kind == "tracer-provider":  # its calls make spans: client.post would make none
        provider = trace.NoOpTracerProvider()
        client = AsyncAnthropic(**key, open_telemetry={"tracer_provider": provider})
    elif kind == "subclass":  # may build its requests its own way
        client = _Subclass(**key)
    else:  # no spans: posting is the same, unless a trace context is to be propagated
        client = AsyncAnthropic(**key, open_telemetry=None if kind == "trace-context" else False)
    context = trace.SpanContext(trace_id=0xABC, span_id=0xDEF, is_remote=True,
                                trace_flags=trace.TraceFlags(1))  # fmt: skip
    with trace.use_span(trace.NonRecordingSpan(context if kind == "trace-context" else
                                               trace.INVALID_SPAN_CONTEXT)):  # fmt: skip
        run = await _run(env, client, steps=2)
    assert _created_every_time(claude.requests) == (kind != "traces-off")
    assert RAW in {k.lower() for k in claude.requests[0].headers}
    traced = ["traceparent" in {k.lower() for k in r.headers} for r in claude.requests]
    assert traced == [kind == "trace-context"] * 3
    _assert_same_requests(claude.requests, run)


def test_encoder_and_decoder_agree_on_what_is_sent() -> None:
    # The body is msgspec's encoding: the same JSON values as the SDK's json.dumps.
    fields = {"system": "caf\u00e9 \U0001f600 \x00 </script>", "n": 2**53 + 1, "f": 0.1}
    body = RequestBody(fields, [])
    assert msgspec.json.decode(body.encode()) == json.loads(json.dumps({**fields, "messages": []}))
