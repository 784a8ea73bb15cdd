"""The Messages API calls of an agent loop, with the history serialized one message at a time.

An agent loop resends its whole, growing history on every model call. ``messages.create``
copies the request's params in Python on every call (a walk over every block of every
message, to drop ``NotGiven`` values and dump models), scans them for helper tags, then
``json.dumps`` them: its cost per call grows with the episode, and over a 200-step
computer-use episode it was most of the client's CPU. Here :class:`RequestBody` (no I/O)
encodes each message once, with msgspec, when it joins the history (and again only when
one of its screenshots is replaced by a placeholder); a request body is one join of
cached fragments. :class:`MessagesCaller` sends it.

How requests are sent: the first one through ``client.beta.messages.with_raw_response.create``
(so the SDK checks the arguments, warns about deprecated models and builds the request as
it always does), the rest as the same request through ``client.post(..., content=...)``,
the SDK's documented path for custom requests (same base URL, auth, retries, timeouts and
errors), with the fields, URL and method-specific headers that the SDK put in the first
request and the new history. Every call goes through ``messages.create`` when posting
could differ from it: a client that is not a plain ``AsyncAnthropic`` (Bedrock, Vertex, a
subclass), one with middleware (it would see a raw body), one whose calls make
OpenTelemetry spans (``client.post`` makes none), or a first request that does not read
back as our history.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import msgspec

if TYPE_CHECKING:
    from anthropic import AsyncAnthropic, RequestOptions

__all__ = ["MessagesCaller", "RequestBody"]


def _enc_hook(obj: Any) -> Any:
    # An SDK object (a pydantic model) a caller put in the history, as the SDK would send it.
    dump = getattr(obj, "model_dump", None)
    if callable(dump):
        return dump(mode="json", by_alias=True, exclude_unset=True)
    if isinstance(obj, Mapping):
        return dict(obj)
    raise TypeError(f"cannot send a {type(obj).__name__} in a Messages API request")


_encode = msgspec.json.Encoder(enc_hook=_enc_hook).encode
_decode = msgspec.json.Decoder(dict[str, Any]).decode


class RequestBody:
    """The JSON body of a Messages API request: ``fields`` (everything but ``messages``,
    encoded once) and the list ``messages``, each message encoded when it is added.

    Change the history through :meth:`append`, and call :meth:`update` after changing
    a message in place; :meth:`encode` is then the body, without walking the history.
    """

    def __init__(self, fields: Mapping[str, Any], messages: list[dict[str, Any]]) -> None:
        if "messages" in fields:
            raise ValueError("fields must not hold the messages")
        head = _encode(dict(fields))
        self._head = head[:-1] + (b',"messages":[' if fields else b'"messages":[')
        self.messages = messages
        # Each message after the first carries its separating comma: one join makes the body.
        self._parts = [self._part(i, m) for i, m in enumerate(messages)]

    @staticmethod
    def _part(index: int, message: dict[str, Any]) -> bytes:
        return b"," + _encode(message) if index else _encode(message)

    def append(self, message: dict[str, Any]) -> None:
        self._parts.append(self._part(len(self.messages), message))
        self.messages.append(message)

    def update(self, index: int) -> None:
        """Re-encode ``messages[index]``, changed in place."""
        self._parts[index] = self._part(index, self.messages[index])

    def encode(self) -> bytes:
        return b"".join((self._head, *self._parts, b"]}"))


#: Headers that the client or the transport set on every request (or attempt) itself:
#: never copied from the first request to the next.
_PER_REQUEST = frozenset(
    {
        "host", "content-length", "transfer-encoding", "accept-encoding", "connection",
        "x-stainless-retry-count", "x-stainless-timeout", "x-stainless-read-timeout",
        "x-stainless-raw-response", "traceparent", "tracestate", "baggage",
    }
)  # fmt: skip


def _records_spans(client: AsyncAnthropic) -> bool:
    """Whether ``client``'s method calls would make (or propagate) OpenTelemetry spans."""
    options = getattr(client, "open_telemetry", None)
    if options is None:  # an SDK without spans
        return False
    if not options["traces"]["enabled"]:
        return False
    if options.get("tracer_provider") is not None:
        return True
    from opentelemetry import trace

    if not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        return True  # an OpenTelemetry SDK is configured
    # Without one, a span only carries on a context that something else made valid.
    return trace.get_current_span().get_span_context().is_valid


def _posts_like_create(client: AsyncAnthropic) -> bool:
    """Whether a request posted through ``client.post`` is seen by the caller's code and
    telemetry as the same request through ``messages.create`` would be."""
    from anthropic import AsyncAnthropic

    if type(client) is not AsyncAnthropic or client.middleware:
        return False
    return not _records_spans(client)


class MessagesCaller:
    """Sends the Messages API requests of one agent loop through ``client`` (see the
    module's docstring for how).

    ``params`` are the arguments of ``client.beta.messages.create`` but ``messages``;
    ``messages`` is the history, changed only through :meth:`append` and :meth:`update`.
    :meth:`call` returns each answer's JSON text; API errors are the SDK's exceptions.
    """

    def __init__(
        self, client: AsyncAnthropic, params: dict[str, Any], messages: list[dict[str, Any]]
    ) -> None:
        if params.get("stream"):
            raise ValueError("the loop reads whole answers: stream=True is not supported")
        if "messages" in params:
            raise TypeError("the history is the messages argument; it cannot be in params")
        self.client = client
        self.params = params
        self.messages = messages
        self.body: RequestBody | None = None  # set once requests are posted
        self._url = ""
        self._options: RequestOptions = {}
        self._may_post = _posts_like_create(client)

    @property
    def posting(self) -> bool:
        """Whether requests are posted (after the first one) rather than created."""
        return self.body is not None

    def append(self, message: dict[str, Any]) -> None:
        if self.body is not None:
            self.body.append(message)
        else:
            self.messages.append(message)

    def update(self, index: int) -> None:
        """``messages[index]`` was changed in place."""
        if self.body is not None:
            self.body.update(index)

    async def call(self) -> bytes:
        if self.body is not None:
            data: bytes = await self.client.post(
                self._url, cast_to=bytes, content=self.body.encode(), options=self._options
            )
            return data
        raw = await self.client.beta.messages.with_raw_response.create(
            messages=self.messages,  # type: ignore[arg-type]
            **self.params,
        )
        data = await raw.read()
        if self._may_post:
            self._may_post = False
            self._learn(raw.http_request)
        return data

    def _learn(self, request: Any) -> None:
        """Post from now on, if the first request reads back as some fields + our history."""
        from anthropic import DEFAULT_TIMEOUT, NotGiven, omit

        try:
            sent = _decode(request.content)
        except Exception:  # not a JSON object we can read back: keep calling create()
            return
        if sent.get("messages") != self.messages:
            return
        defaults = {k.lower(): v for k, v in self.client.default_headers.items()}
        sent_headers = request.headers
        # What the method added (anthropic-beta, extra_headers ...) and what it removed.
        headers: dict[str, Any] = {
            k: v for k, v in sent_headers.items() if k not in _PER_REQUEST and defaults.get(k) != v
        }
        headers.update((k, omit) for k in defaults if k not in sent_headers)
        self._options = {"headers": headers}
        # messages.create passes its non-streaming default when the client has the SDK's
        # default; that default is the same value, but passing it shows in the headers.
        timeout = self.params.get("timeout", NotGiven())
        if isinstance(timeout, NotGiven) and self.client.timeout == DEFAULT_TIMEOUT:
            timeout = self.client.timeout
        if not isinstance(timeout, NotGiven):
            self._options["timeout"] = timeout
        self._url = str(request.url)
        self.body = RequestBody({k: v for k, v in sent.items() if k != "messages"}, self.messages)
