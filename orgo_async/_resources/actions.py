"""``orgo.computers`` actions (§6), screenshots, the event catalog and RTMP streaming (§7).

:class:`ComputerActions` is the part of :class:`~orgo_async._resources.computers.Computers`
that drives a running desktop; ``Computers`` inherits it, so ``orgo.computers.click(...)``
reads like every other method. It lives apart from the CRUD and lifecycle code so that
each module stays about one concern. Every method is a few lines: validate the caller's
input (``ValueError`` before any request), pick the :class:`~orgo_async._routes.Route`,
let the pipeline send it.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, Literal

from .._errors import APIDecodeError
from .._http import HTTPPipeline
from .._models import (
    ActionResult,
    BashResult,
    ExecResult,
    Screenshot,
    ScreenshotResponse,
    StreamStartResult,
    StreamStatus,
    StreamStopResult,
)
from .._response import RawResponse
from .._routes import Route, check_choice, check_int

__all__ = ["ComputerActions"]

# Slack on top of a server-side limit, so the server reports its own timeout instead of
# the client cutting the request first.
_SERVER_LIMIT_SLACK = 30.0
_BASH_DEFAULT_TIMEOUT = 200  # documented server default (§6.7)
_EXEC_DEFAULT_TIMEOUT = 10  # documented server default (§6.8)

_SCREENSHOT = Route("GET", "/computers/{}/screenshot", idempotent=True)
_CLICK = Route("POST", "/computers/{}/click", idempotent=False)
_DRAG = Route("POST", "/computers/{}/drag", idempotent=False)
_SCROLL = Route("POST", "/computers/{}/scroll", idempotent=False)
_TYPE = Route("POST", "/computers/{}/type", idempotent=False)
_KEY = Route("POST", "/computers/{}/key", idempotent=False)
_MOUSE_MOVE = Route("POST", "/computers/{}/move", idempotent=True)
_BASH = Route("POST", "/computers/{}/bash", idempotent=False)
_EXEC = Route("POST", "/computers/{}/exec", idempotent=False)
_WAIT = Route("POST", "/computers/{}/wait", idempotent=True)
_EVENTS = Route("GET", "/computers/{}/events", idempotent=True)
_STREAM_START = Route("POST", "/computers/{}/stream/start", idempotent=False)
_STREAM_STOP = Route("POST", "/computers/{}/stream/stop", idempotent=True)
_STREAM_STATUS = Route("GET", "/computers/{}/stream/status", idempotent=True)

_BUTTONS = frozenset({"left", "right", "middle"})
_DRAG_BUTTONS = frozenset({"left", "right"})
_DIRECTIONS = frozenset({"up", "down"})
_PNG = b"\x89PNG\r\n\x1a\n"


def _coord(name: str, value: object) -> int:
    return check_int(name, value, 0)


def _sniff_mime(data: bytes) -> str:
    if data.startswith(_PNG):
        return "image/png"
    if data.startswith(b"\xff\xd8"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return "application/octet-stream"


class ComputerActions:
    """What ``orgo.computers`` does to a running desktop: input, shell, screenshots,
    streaming. Used through :class:`~orgo_async._resources.computers.Computers`.

    >>> await orgo.computers.click(c.id, 100, 200)        # doctest: +SKIP
    >>> r = await orgo.computers.bash(c.id, "uname -a")   # doctest: +SKIP
    """

    def __init__(self, pipeline: HTTPPipeline) -> None:
        self._pipeline = pipeline

    # -- actions (§6) -------------------------------------------------------------------

    async def click(
        self,
        computer_id: str,
        x: int,
        y: int,
        button: Literal["left", "right", "middle"] = "left",
        double: bool = False,
    ) -> ActionResult:
        """Click at ``(x, y)``. ``double=True`` double-clicks (the API then ignores
        ``button``). Never retried once sent: a retried double click would be four."""
        body: dict[str, Any] = {
            "x": _coord("x", x),
            "y": _coord("y", y),
            "button": check_choice("button", button, _BUTTONS),
        }
        if double:
            body["double"] = True
        return await self._pipeline.call(_CLICK, computer_id, json=body, response_type=ActionResult)

    async def double_click(self, computer_id: str, x: int, y: int) -> ActionResult:
        """Shorthand for ``click(..., double=True)``."""
        return await self.click(computer_id, x, y, double=True)

    async def drag(
        self,
        computer_id: str,
        start_x: int,
        start_y: int,
        end_x: int,
        end_y: int,
        button: Literal["left", "right"] = "left",
        duration: float = 0.5,
    ) -> ActionResult:
        """Press at the start point, move to the end point over ``duration`` s, release."""
        if isinstance(duration, bool) or not isinstance(duration, int | float) or duration < 0:
            raise ValueError(f"duration must be a number >= 0, not {duration!r}")
        body = {
            "start_x": _coord("start_x", start_x),
            "start_y": _coord("start_y", start_y),
            "end_x": _coord("end_x", end_x),
            "end_y": _coord("end_y", end_y),
            "button": check_choice("button", button, _DRAG_BUTTONS),
            "duration": duration,
        }
        return await self._pipeline.call(_DRAG, computer_id, json=body, response_type=ActionResult)

    async def scroll(
        self,
        computer_id: str,
        direction: Literal["up", "down"] = "down",
        amount: int = 3,
        x: int | None = None,
        y: int | None = None,
    ) -> ActionResult:
        """Turn the wheel ``amount`` clicks. ``direction`` is always sent (the schema
        requires it although the prose says optional). ``x``/``y`` move the pointer
        first; on Linux the API moves an omitted axis to 0."""
        body: dict[str, Any] = {
            "direction": check_choice("direction", direction, _DIRECTIONS),
            "amount": check_int("amount", amount),
        }
        if x is not None:
            body["x"] = _coord("x", x)
        if y is not None:
            body["y"] = _coord("y", y)
        return await self._pipeline.call(
            _SCROLL, computer_id, json=body, response_type=ActionResult
        )

    async def type(
        self, computer_id: str, text: str, *, delay_ms: int | None = None
    ) -> ActionResult:
        """Type ``text`` (unicode allowed), one keystroke per character."""
        if not isinstance(text, str) or not text:
            raise ValueError("text must be a non-empty str")
        body: dict[str, Any] = {"text": text}
        if delay_ms is not None:
            body["delay_ms"] = check_int("delay_ms", delay_ms, 0)
        # Typing takes about delay_ms per character on the server.
        per_char = (delay_ms if delay_ms is not None else 12) / 1000
        slow = len(text) * per_char
        timeout = self._pipeline.options.timeout + slow if slow > 1 else None
        return await self._pipeline.call(
            _TYPE, computer_id, json=body, response_type=ActionResult, timeout=timeout
        )

    async def key(self, computer_id: str, key: str) -> ActionResult:
        """Press a key or combo: ``Enter``, ``Tab``, ``ctrl+c``, ``alt+F4`` ..."""
        if not isinstance(key, str) or not key.strip():
            raise ValueError("key must be a non-empty str such as 'Enter' or 'ctrl+c'")
        return await self._pipeline.call(
            _KEY, computer_id, json={"key": key}, response_type=ActionResult
        )

    async def move_mouse(self, computer_id: str, x: int, y: int) -> ActionResult:
        """Move the pointer to ``(x, y)`` (``POST /computers/{id}/move``, which the
        official SDK uses; not in the docs). Safe to retry: moving twice lands the same."""
        body = {"x": _coord("x", x), "y": _coord("y", y)}
        return await self._pipeline.call(
            _MOUSE_MOVE, computer_id, json=body, response_type=ActionResult
        )

    async def wait(self, computer_id: str, duration: float) -> ActionResult:
        """Sleep ``duration`` seconds (0-60) on the server side."""
        if (
            isinstance(duration, bool)
            or not isinstance(duration, int | float)
            or not 0 <= duration <= 60
        ):
            raise ValueError(f"duration must be a number between 0 and 60, not {duration!r}")
        return await self._pipeline.call(
            _WAIT,
            computer_id,
            json={"duration": duration},
            response_type=ActionResult,
            timeout=duration + _SERVER_LIMIT_SLACK,
        )

    async def bash(
        self, computer_id: str, command: str, *, timeout: int | None = None
    ) -> BashResult:
        """Run a bash command; ``output`` is stdout+stderr, check ``exit_code``.

        ``timeout`` is the server-side limit (default 200 s); the HTTP timeout is set
        a little above it so the server's own timeout is what you see.
        """
        if not isinstance(command, str) or not command:
            raise ValueError("command must be a non-empty str")
        body: dict[str, Any] = {"command": command}
        limit = _BASH_DEFAULT_TIMEOUT
        if timeout is not None:
            limit = body["timeout"] = check_int("timeout", timeout)
        return await self._pipeline.call(
            _BASH,
            computer_id,
            json=body,
            response_type=BashResult,
            timeout=limit + _SERVER_LIMIT_SLACK,
        )

    async def exec(
        self, computer_id: str, code: str, *, timeout: int = _EXEC_DEFAULT_TIMEOUT
    ) -> ExecResult:
        """Run a Python snippet in a short-lived interpreter (``timeout`` 1-300 s)."""
        if not isinstance(code, str) or not code:
            raise ValueError("code must be a non-empty str")
        if isinstance(timeout, bool) or not isinstance(timeout, int) or not 1 <= timeout <= 300:
            raise ValueError(f"timeout must be an int between 1 and 300, not {timeout!r}")
        return await self._pipeline.call(
            _EXEC,
            computer_id,
            json={"code": code, "timeout": timeout},
            response_type=ExecResult,
            timeout=timeout + _SERVER_LIMIT_SLACK,
        )

    async def screenshot(
        self, computer_id: str, *, format: Literal["base64", "url"] = "base64"
    ) -> Screenshot:
        """Capture the screen and return the image bytes.

        Asks for ``response_format=base64`` (one round trip) by default. Whatever form
        the server answers in (raw base64, a ``data:`` URL, an absolute URL or an
        ``/api/storage/...`` path) the image is returned as bytes; a stored image is
        downloaded with the API key only when it is on the API's own origin.
        """
        if format not in ("base64", "url"):
            raise ValueError("format must be 'base64' or 'url'")
        resp = await self._pipeline.call(
            _SCREENSHOT,
            computer_id,
            params={"response_format": format},
            response_type=ScreenshotResponse,
        )
        image = resp.image
        url: str | None = None
        mime = resp.mime_type
        if image.startswith("data:"):
            header, _, payload = image.partition(",")
            mime = mime or header[5:].split(";")[0] or None
            data = self._b64(payload, image)
        elif image.startswith(("http://", "https://", "/")):
            url = self._pipeline.origin + image if image.startswith("/") else image
            same_origin = url.startswith(self._pipeline.origin + "/")
            raw = await self._pipeline.request(
                "GET",
                "",
                url=url,
                idempotent=True,
                response_type=RawResponse,
                auth=same_origin,
                headers={"Accept": "*/*"},
            )
            data = raw.content
            mime = raw.content_type or None
            if mime and not mime.startswith("image/"):
                mime = None
        else:
            data = self._b64(image, image)
        return Screenshot(
            data=data,
            mime_type=mime or _sniff_mime(data),
            width=resp.width,
            height=resp.height,
            url=url,
            metadata=resp.metadata,
        )

    @staticmethod
    def _b64(payload: str, original: str) -> bytes:
        try:
            return base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError):
            raise APIDecodeError(
                "screenshot image is neither base64 nor a URL",
                status_code=200,
                body=original[:200].encode(),
            ) from None

    async def event_catalog(self, computer_id: str) -> Any:
        """The desktop event catalog as JSON (``GET /computers/{id}/events``; its shape is
        not documented, so it is returned as decoded JSON)."""
        raw = await self._pipeline.call(_EVENTS, computer_id, response_type=RawResponse)
        return raw.json()

    # -- RTMP streaming (§7) ------------------------------------------------------------

    async def stream_start(self, computer_id: str, connection_name: str) -> StreamStartResult:
        """Start streaming the desktop to an RTMP connection configured in the dashboard."""
        if not isinstance(connection_name, str) or not connection_name:
            raise ValueError("connection_name must be a non-empty str")
        return await self._pipeline.call(
            _STREAM_START,
            computer_id,
            json={"connection_name": connection_name},
            response_type=StreamStartResult,
        )

    async def stream_stop(self, computer_id: str) -> StreamStopResult:
        """Stop the RTMP stream."""
        return await self._pipeline.call(_STREAM_STOP, computer_id, response_type=StreamStopResult)

    async def stream_status(self, computer_id: str) -> StreamStatus:
        """``idle``, ``streaming`` (with ``pid`` and ``start_time``) or ``terminated``."""
        return await self._pipeline.call(_STREAM_STATUS, computer_id, response_type=StreamStatus)
