"""Scriptable fault injection for the emulator's HTTP routes.

A :class:`Fault` matches requests by method and path pattern (``{name}`` matches one
path segment; patterns are relative to ``/api``, so ``/computers/{id}`` and
``/api/computers/{id}`` are the same; ``/desktops/{id}/ws/terminal`` matches a WebSocket
handshake; ``"*"`` matches every path; ``headers`` narrows it to requests carrying
those header values, so a test can aim a fault at one logical call among many
concurrent ones) and, for each request it applies to, does in order:

1. sleeps ``latency`` seconds (before the route runs: a hang before processing; the
   route still runs afterwards, as a server does for a client that gave up);
2. if ``statuses`` remain, answers the next one with an error body
   (``{"error", "request_id"}``, plus ``Retry-After`` when ``retry_after`` is set);
3. ``kind="reset"``: resets the connection (TCP RST) without running the route, so
   nothing was processed;
4. otherwise runs the route, holds its answer ``hold`` seconds (a hang after
   processing), then damages the answer according to ``kind``:
   ``"drop"`` (headers and half the body, then the connection is closed),
   ``"lost"`` (the connection is reset before any byte of the answer: the action ran,
   the answer is lost), ``"truncated"`` (a complete HTTP response whose JSON body is cut
   in half), ``"malformed"`` (a complete response whose body is not JSON at all).

``times`` bounds how many requests a fault applies to (default: one per status, or one;
``None`` = every matching request). Used-up faults are removed. WebSocket faults live on
the computer (:class:`~orgo_async.testing._state.WsFault`), see
:meth:`FakeOrgo.add_ws_fault <orgo_async.testing.FakeOrgo.add_ws_fault>`; refusing new
connections for a while is :meth:`FakeOrgo.refuse_connections
<orgo_async.testing.FakeOrgo.refuse_connections>`.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import struct
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["Fault", "FaultKind", "Faults", "reset_connection"]

FaultKind = Literal["drop", "truncated", "malformed", "reset", "lost"]

_KINDS = ("drop", "truncated", "malformed", "reset", "lost")
# SO_LINGER on, timeout 0: close() sends RST instead of FIN (an abrupt reset, not a close).
_LINGER_RESET = struct.pack("ii", 1, 0)


def reset_connection(transport: asyncio.Transport | None) -> None:
    """Abort ``transport`` with a TCP reset: no more bytes, no orderly shutdown."""
    if transport is None or transport.is_closing():
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
    transport.abort()


#: The ``error`` text sent with an injected status (the documented texts where there are).
ERROR_TEXT: dict[int, str] = {
    400: "Bad request",
    401: "Invalid API key. Check it for typos or generate a new one at https://www.orgo.ai/start.",
    403: "Access denied",
    404: "Not found",
    408: "Desktop timed out",
    409: "Conflict",
    429: "Too many requests",
    500: "Internal server error",
    502: "Bad gateway",
    503: "Could not reach the desktop. Try again in a moment.",
    504: "Desktop timed out",
}


def _compile(pattern: str) -> re.Pattern[str]:
    if pattern == "*":
        return re.compile(".*")
    path = pattern if pattern.startswith("/") else "/" + pattern
    if path.startswith("/api/"):
        path = path[4:]
    parts = re.split(r"(\{[^/{}]+\})", path)
    regex = "".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts)
    return re.compile(f"^{regex}/?$")


@dataclass
class Fault:
    """One scripted fault (see the module docstring). ``hits`` counts applications."""

    method: str
    path: str
    statuses: deque[int] = field(default_factory=deque)
    latency: float = 0.0
    kind: FaultKind | None = None
    retry_after: float | None = None
    times: int | None = 1
    body: bytes | None = None  # for "malformed": what to send instead of JSON
    hold: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    hits: int = 0
    _regex: re.Pattern[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.method = self.method.upper()
        self._regex = _compile(self.path)
        self.headers = {k.lower(): v for k, v in self.headers.items()}

    def matches(self, method: str, api_path: str, headers: Mapping[str, str] | None = None) -> bool:
        """Whether this fault applies to ``method`` on ``api_path`` (relative to ``/api``)
        with these request ``headers`` (a case-insensitive mapping, as aiohttp gives)."""
        if self.method not in ("*", method.upper()):
            return False
        if self.headers:
            if headers is None:
                return False
            for name, value in self.headers.items():
                if headers.get(name) != value:
                    return False
        return self._regex.match(api_path) is not None


@dataclass
class Applied:
    """What one request gets from the fault table."""

    latency: float = 0.0
    status: int | None = None
    retry_after: float | None = None
    kind: FaultKind | None = None
    body: bytes | None = None
    hold: float = 0.0


class Faults:
    """The fault table of one :class:`~orgo_async.testing.FakeOrgo` (``fake.faults``)."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []

    def __len__(self) -> int:
        return len(self._faults)

    @property
    def active(self) -> list[Fault]:
        """The faults not used up yet, in the order they were added."""
        return list(self._faults)

    def add(
        self,
        method: str,
        path: str,
        *,
        statuses: list[int] | tuple[int, ...] = (),
        latency: float = 0.0,
        kind: FaultKind | None = None,
        retry_after: float | None = None,
        times: int | Literal["auto"] | None = "auto",
        body: bytes | None = None,
        hold: float = 0.0,
        headers: Mapping[str, str] | None = None,
    ) -> Fault:
        """Script a fault for ``method`` (``"*"`` = any) on ``path``; see the module doc.

        ``fake.faults.add("GET", "/computers/{id}", statuses=[503, 503])`` answers two 503s
        then lets requests through; ``headers={"X-Op": "17"}`` applies it only to requests
        carrying that header value.
        """
        if kind is not None and kind not in _KINDS:
            raise ValueError(f"kind must be one of {_KINDS}, not {kind!r}")
        for s in statuses:
            if not 100 <= s <= 599:
                raise ValueError(f"not an HTTP status: {s}")
        if latency < 0 or hold < 0:
            raise ValueError("latency and hold must be >= 0")
        if not statuses and kind is None and latency == 0 and hold == 0:
            raise ValueError("a fault needs statuses, a kind, a latency or a hold")
        count: int | None
        if times == "auto":
            count = len(statuses) + (1 if kind else 0) if (statuses or kind) else None
        else:
            count = times
        if count is not None and count < 1:
            raise ValueError("times must be >= 1 or None")
        fault = Fault(
            method,
            path,
            deque(statuses),
            latency,
            kind,
            retry_after,
            count,
            body,
            hold,
            dict(headers or {}),
        )
        self._faults.append(fault)
        return fault

    # Short forms for the common cases.
    def statuses(self, method: str, path: str, *codes: int) -> Fault:
        """Answer ``codes`` in order, then pass through."""
        return self.add(method, path, statuses=list(codes))

    def rate_limit(
        self, method: str, path: str, *, retry_after: float = 1, times: int = 1
    ) -> Fault:
        """Answer ``429`` with ``Retry-After: retry_after`` ``times`` times."""
        return self.add(method, path, statuses=[429] * times, retry_after=retry_after)

    def latency(self, method: str, path: str, seconds: float, *, times: int | None = None) -> Fault:
        """Delay matching requests by ``seconds`` (every one unless ``times`` is given)."""
        return self.add(method, path, latency=seconds, times=times)

    def drop(self, method: str, path: str, *, times: int = 1) -> Fault:
        """Send headers and half the body, then close the connection."""
        return self.add(method, path, kind="drop", times=times)

    def truncated(self, method: str, path: str, *, times: int = 1) -> Fault:
        """Answer a complete response whose JSON body is cut in half."""
        return self.add(method, path, kind="truncated", times=times)

    def malformed(
        self, method: str, path: str, *, times: int = 1, body: bytes = b"<html>oops</html>"
    ) -> Fault:
        """Answer a complete ``application/json`` response whose body is not JSON."""
        return self.add(method, path, kind="malformed", times=times, body=body)

    def reset(self, method: str, path: str, *, times: int = 1) -> Fault:
        """Reset the connection before the route runs (nothing is processed)."""
        return self.add(method, path, kind="reset", times=times)

    def lost(self, method: str, path: str, *, times: int = 1) -> Fault:
        """Run the route, then reset the connection before any byte of the answer."""
        return self.add(method, path, kind="lost", times=times)

    def hold(self, method: str, path: str, seconds: float, *, times: int | None = 1) -> Fault:
        """Run the route, then hold its answer ``seconds`` (past a client's timeout)."""
        return self.add(method, path, hold=seconds, times=times)

    def clear(self) -> None:
        """Remove every fault."""
        self._faults.clear()

    def remove(self, fault: Fault) -> bool:
        """Remove ``fault`` if it is still active; ``False`` if it was used up already."""
        try:
            self._faults.remove(fault)
        except ValueError:
            return False
        return True

    def take(
        self, method: str, api_path: str, headers: Mapping[str, str] | None = None
    ) -> Applied | None:
        """Consume one application of the first matching fault (``None``: no fault)."""
        for fault in self._faults:
            if not fault.matches(method, api_path, headers):
                continue
            fault.hits += 1
            applied = Applied(latency=fault.latency, retry_after=fault.retry_after, hold=fault.hold)
            if fault.statuses:
                applied.status = fault.statuses.popleft()
            else:
                applied.kind = fault.kind
                applied.body = fault.body
            if fault.times is not None:
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
            return applied
        return None
