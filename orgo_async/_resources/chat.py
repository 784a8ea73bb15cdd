"""``orgo.chat``: Orgo's hosted agent over HTTP (``orgo-api.md`` §10.1, §10.2).

* :meth:`Chat.create` / :meth:`Chat.stream`: ``POST {base_url}/v1/chat/completions``, the
  OpenAI-compatible endpoint that runs the agent on a computer. With the default base URL
  that is ``https://www.orgo.ai/api/v1/chat/completions`` (v-C docs; an older page used
  ``https://api.orgo.ai/api/v1``, reachable with ``base_url="https://api.orgo.ai/api"``).
  Never resent once it may have reached the agent (it acts on the computer): a timeout
  or a dropped connection is raised, and only a request that provably went nowhere (the
  connection could not be opened, or a 429/503 saying it was not processed) is retried,
  streamed or not.
* :attr:`Chat.threads`: the chat threads (``{base_url}/chat/threads``).

Errors come in a nested shape (``{"error": {"type", "message", "code"}}``) and map to the
usual typed errors with ``code`` and ``error_type`` set; ``credits_exhausted`` (402) is a
:class:`~orgo_async.CreditsExhaustedError` with ``balance_cents``. Bring your own
Anthropic key with ``anthropic_api_key=``: it is sent as ``x-anthropic-key`` (no Orgo
credits used) and redacted like every secret.
"""

from __future__ import annotations

import builtins
from collections.abc import AsyncGenerator, Iterable, Mapping
from typing import Any, Final

import msgspec

from .._errors import APIConnectionError, APIDecodeError
from .._http import HTTPPipeline
from .._models import Success
from .._models_chat import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatMessage,
    ChatThread,
    ThreadCreated,
    ThreadList,
    ThreadUpdated,
)
from .._protocol.chat import CODE_STATUS, DONE, TitleStreamDecoder, TitleStreamError
from .._routes import ALREADY_GONE, Route, check_id
from .._secrets import Secret
from .._status_errors import status_error
from .._streaming import ResponseStream, server_sent_events, stream

__all__ = ["Chat", "ChatThreads", "MessageInput"]

#: An agent run takes up to ``max_steps`` (default 100) steps: far longer than a request.
COMPLETION_TIMEOUT: Final = 900.0

_COMPLETIONS = Route("POST", "/v1/chat/completions", idempotent=False, timeout=COMPLETION_TIMEOUT)
_THREADS = Route("GET", "/chat/threads", idempotent=True)
_THREAD_CREATE = Route("POST", "/chat/threads", idempotent=False)
_THREAD = Route("GET", "/chat/threads/{}", idempotent=True)
_THREAD_UPDATE = Route("PATCH", "/chat/threads/{}", idempotent=True)  # a full overwrite
_THREAD_DELETE = Route("DELETE", "/chat/threads/{}", idempotent=True, settled_on_retry=ALREADY_GONE)
_THREAD_TITLE = Route("POST", "/chat/threads/{}/title", idempotent=False)

_ROLES: Final = frozenset({"user", "assistant"})
_chunk_decoder = msgspec.json.Decoder(ChatCompletionChunk)
_raw_decoder = msgspec.json.Decoder(dict[str, Any])

MessageInput = ChatMessage | Mapping[str, Any]


def _messages(messages: Iterable[MessageInput], *, first_user: bool = True) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    for m in messages:
        role: object
        content: object
        if isinstance(m, ChatMessage):
            role, content = m.role, m.content
        elif isinstance(m, Mapping):
            role, content = m.get("role"), m.get("content")
        else:
            raise TypeError(f"a message is a dict or ChatMessage, not {type(m).__name__}")
        if not isinstance(role, str) or role not in _ROLES:
            raise ValueError(f"message role must be 'user' or 'assistant', not {role!r}")
        if not isinstance(content, str):
            raise ValueError("message content must be a str")
        out.append({"role": role, "content": content})
    if not out:
        raise ValueError("messages must not be empty")
    if first_user and out[0]["role"] != "user":
        raise ValueError("the first message must have role 'user'")
    return out


class Chat:
    """Run Orgo's hosted agent on a computer through the OpenAI-compatible endpoint::

    done = await orgo.chat.create(c.id, [{"role": "user", "content": "Open Firefox"}])
    print(done.content, done.usage.total_tokens, done.orgo.cost_cents)

    async with orgo.chat.stream(c.id, "What is on the screen?") as chunks:
        async for chunk in chunks:
            print(chunk.content, end="")
    """

    def __init__(self, pipeline: HTTPPipeline) -> None:
        self._pipeline = pipeline
        #: Chat threads: list, create, get, update, delete, title.
        self.threads = ChatThreads(pipeline)

    def _request(
        self,
        computer_id: str,
        messages: str | Iterable[MessageInput],
        *,
        model: str | None,
        thread_id: str | None,
        max_steps: int | None,
        anthropic_api_key: str | Secret | None,
        streamed: bool,
    ) -> tuple[dict[str, Any], dict[str, str]]:
        check_id(computer_id, "computer_id")
        if isinstance(messages, str):
            messages = [{"role": "user", "content": messages}]
        body: dict[str, Any] = {"computer_id": computer_id, "messages": _messages(messages)}
        if model is not None:
            if not isinstance(model, str) or not model:
                raise ValueError("model must be a non-empty str such as 'claude-sonnet-4.6'")
            body["model"] = model
        if streamed:
            body["stream"] = True
        if thread_id is not None:
            body["thread_id"] = check_id(thread_id, "thread_id")
        if max_steps is not None:
            if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1:
                raise ValueError(f"max_steps must be an int >= 1, not {max_steps!r}")
            body["max_steps"] = max_steps
        headers: dict[str, str] = {}
        if anthropic_api_key is not None:
            key = anthropic_api_key if isinstance(anthropic_api_key, Secret) else None
            if key is None:
                if not isinstance(anthropic_api_key, str) or not anthropic_api_key:
                    raise ValueError("anthropic_api_key must be a non-empty str")
                key = Secret(anthropic_api_key)  # registered: redacted from logs and errors
            headers["x-anthropic-key"] = key.get()
        return body, headers

    async def create(
        self,
        computer_id: str,
        messages: str | Iterable[MessageInput],
        *,
        model: str | None = None,
        thread_id: str | None = None,
        max_steps: int | None = None,
        anthropic_api_key: str | Secret | None = None,
        timeout: float | None = None,
    ) -> ChatCompletion:
        """Run the agent until it answers; returns the completion with ``usage`` and the
        ``orgo`` block (``thread_id``, ``steps``, ``cost_cents``).

        ``messages`` is a str (one user message) or ``[{"role", "content"}]`` starting with
        a user message; to continue a thread pass ``thread_id`` and only the new messages.
        ``model`` defaults server-side to ``claude-sonnet-4.6``; ``max_steps`` to 100.
        ``timeout`` defaults to 15 minutes (an agent run is long).
        """
        body, headers = self._request(
            computer_id,
            messages,
            model=model,
            thread_id=thread_id,
            max_steps=max_steps,
            anthropic_api_key=anthropic_api_key,
            streamed=False,
        )
        return await self._pipeline.call(
            _COMPLETIONS,
            json=body,
            headers=headers or None,
            timeout=timeout,
            response_type=ChatCompletion,
        )

    def stream(
        self,
        computer_id: str,
        messages: str | Iterable[MessageInput],
        *,
        model: str | None = None,
        thread_id: str | None = None,
        max_steps: int | None = None,
        anthropic_api_key: str | Secret | None = None,
        idle_timeout: float = COMPLETION_TIMEOUT,
    ) -> ResponseStream[ChatCompletionChunk]:
        """The same run, streamed: ``chat.completion.chunk`` s of the final text.

        Ends at ``data: [DONE]``; a stream that closes before it raises
        :class:`~orgo_async.APIConnectionError`, an error frame inside the stream raises
        its typed error. The agent acts before any text arrives, so ``idle_timeout``
        (silence tolerated, default 15 minutes) is long. Leaving an ``async with`` early,
        or cancelling, closes the connection.
        """
        body, headers = self._request(
            computer_id,
            messages,
            model=model,
            thread_id=thread_id,
            max_steps=max_steps,
            anthropic_api_key=anthropic_api_key,
            streamed=True,
        )
        return ResponseStream(self._chunks(body, headers, idle_timeout))

    async def _chunks(
        self, body: dict[str, Any], headers: dict[str, str], idle_timeout: float
    ) -> AsyncGenerator[ChatCompletionChunk, None]:
        path = _COMPLETIONS.path
        async with stream(
            self._pipeline,
            _COMPLETIONS,
            json=body,
            headers=headers,
            read_timeout=idle_timeout,
            accept="text/event-stream",
        ) as resp:
            async for sse in server_sent_events(resp):
                if sse.data.strip() == DONE:
                    return
                yield self._chunk(sse.data, resp.status, path)
        raise APIConnectionError(
            "the completion stream ended before 'data: [DONE]'", method="POST", url=path
        )

    def _chunk(self, data: str, status: int, path: str) -> ChatCompletionChunk:
        try:
            chunk = _chunk_decoder.decode(data)
        except (msgspec.ValidationError, msgspec.DecodeError) as e:
            raise APIDecodeError(
                f"malformed completion chunk: {e}",
                status_code=status,
                body=data.encode(),
                method="POST",
                url=path,
            ) from None
        if '"error"' in data:
            raw = _raw_decoder.decode(data)
            nested = raw.get("error")
            if isinstance(nested, dict):
                code = nested.get("code")
                err_status = CODE_STATUS.get(code, 500) if isinstance(code, str) else 500
                raise status_error(err_status, data.encode(), {}, method="POST", url=path)
        return chunk


class ChatThreads:
    """Chat threads of a computer (``{base_url}/chat/threads``); ids look like ``thr_...``."""

    def __init__(self, pipeline: HTTPPipeline) -> None:
        self._pipeline = pipeline

    async def list(self, computer_id: str) -> builtins.list[ChatThread]:
        """The computer's threads, newest first, each with its messages."""
        params = {"desktopId": check_id(computer_id, "computer_id")}
        return (
            await self._pipeline.call(_THREADS, params=params, response_type=ThreadList)
        ).threads

    async def create(self, computer_id: str, *, local_id: str | None = None) -> ThreadCreated:
        """Create a thread on a computer; ``remote_id`` is its id from now on."""
        body = {"desktopId": check_id(computer_id, "computer_id")}
        if local_id is not None:
            if not isinstance(local_id, str) or not local_id:
                raise ValueError("local_id must be a non-empty str")
            body["localId"] = local_id
        return await self._pipeline.call(_THREAD_CREATE, json=body, response_type=ThreadCreated)

    async def get(self, thread_id: str) -> ChatThread:
        """One thread with its messages."""
        return await self._pipeline.call(_THREAD, thread_id, response_type=ChatThread)

    async def update(
        self,
        thread_id: str,
        *,
        title: str | None = None,
        messages: Iterable[MessageInput] | None = None,
        archive: bool = False,
        unarchive: bool = False,
    ) -> ThreadUpdated:
        """Rename, replace the messages (a full overwrite), archive or unarchive."""
        body: dict[str, Any] = {}
        if title is not None:
            if not isinstance(title, str):
                raise ValueError("title must be a str")
            body["title"] = title
        if messages is not None:
            body["messages"] = _messages(messages, first_user=False) if messages else []
        if archive and unarchive:
            raise ValueError("archive and unarchive are exclusive")
        if archive:
            body["archive"] = True
        if unarchive:
            body["unarchive"] = True
        if not body:
            raise ValueError("update needs at least one of title, messages, archive, unarchive")
        return await self._pipeline.call(
            _THREAD_UPDATE, thread_id, json=body, response_type=ThreadUpdated
        )

    async def delete(self, thread_id: str) -> Success:
        """Delete a thread."""
        return await self._pipeline.call(_THREAD_DELETE, thread_id, response_type=Success)

    async def title(self, thread_id: str, messages: Iterable[MessageInput]) -> str:
        """Generate a title for the conversation (the streamed answer, joined)."""
        parts = [part async for part in self.title_stream(thread_id, messages)]
        return "".join(parts).strip()

    def title_stream(self, thread_id: str, messages: Iterable[MessageInput]) -> ResponseStream[str]:
        """The generated title as it streams, piece by piece."""
        check_id(thread_id, "thread_id")
        body = {"messages": _messages(messages, first_user=False)}
        return ResponseStream(self._title(thread_id, body))

    async def _title(self, thread_id: str, body: dict[str, Any]) -> AsyncGenerator[str, None]:
        async with stream(
            self._pipeline, _THREAD_TITLE, thread_id, json=body, accept="text/plain"
        ) as resp:
            decoder = TitleStreamDecoder()
            try:
                async for data in resp.iter_any():
                    for text in decoder.feed(data):
                        yield text
                for text in decoder.close():
                    yield text
            except TitleStreamError as e:
                raise APIDecodeError(
                    str(e), status_code=resp.status, method="POST", url=_THREAD_TITLE.path
                ) from None
