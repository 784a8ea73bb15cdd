"""The emulator's world: accounts, workspaces, computers, their action logs and event hubs.

This module is the contract between the emulator's REST side (``_rest_*.py``) and its
WebSocket side (``_ws_*.py``). It is plain data plus a little bookkeeping, with no
aiohttp in it, so both sides (and tests) can read and change the world directly.

The emulator is an *independent oracle*: nothing here imports the SDK's models or
protocol modules. Shapes follow ``orgo-api.md`` on their own, so a wrong field name in
the SDK shows up as a failing test instead of being wrong on both sides.
"""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ._png import Screen


def now_iso() -> str:
    """UTC timestamp in the API's ISO 8601 form, e.g. ``2026-04-07T10:35:00Z``."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_iso_ms() -> str:
    """UTC timestamp with milliseconds, the form event frames use."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def new_uuid() -> str:
    return str(uuid.uuid4())


def new_instance_id() -> str:
    """8 lowercase hex chars, like the documented ``a3881618``."""
    return secrets.token_hex(4)


def new_vnc_password() -> str:
    """16 hex chars, like the documented ``a06db12a8683df96``."""
    return secrets.token_hex(8)


@dataclass
class Action:
    """One action a client asked a computer to perform, as the emulator received it.

    ``name`` is the endpoint (``click``, ``drag``, ``scroll``, ``type``, ``key``, ``bash``,
    ``exec``, ``wait``, ``move``, ``screenshot``, ``start``, ``stop``, ``restart`` ...) and
    ``body`` the decoded JSON body (query parameters for GET).
    """

    name: str
    body: dict[str, Any]
    at: float = field(default_factory=time.monotonic)


class EventHub:
    """Fan-out of desktop events to the events WebSockets subscribed to a computer.

    Each connected events socket calls :meth:`listen` to get a bounded queue; ``publish``
    puts an ``{"type", "timestamp", "data"}`` event in every queue. A full queue drops
    its oldest event, the way the real server's 256-event buffer loses events for slow
    consumers. :attr:`history` keeps the newest events for tests to inspect.
    """

    def __init__(self, maxsize: int = 256, history: int = 10_000) -> None:
        self._maxsize = maxsize
        self._queues: set[asyncio.Queue[dict[str, Any]]] = set()
        #: The newest ``history`` events published (bounded: a long-running emulator
        #: must not grow without limit).
        self.history: deque[dict[str, Any]] = deque(maxlen=history)

    def listen(self) -> asyncio.Queue[dict[str, Any]]:
        q: asyncio.Queue[dict[str, Any]] = asyncio.Queue(self._maxsize)
        self._queues.add(q)
        return q

    def unlisten(self, q: asyncio.Queue[dict[str, Any]]) -> None:
        self._queues.discard(q)

    def publish(self, type: str, data: dict[str, Any]) -> dict[str, Any]:
        event = {"type": type, "timestamp": now_iso_ms(), "data": data}
        self.history.append(event)
        for q in self._queues:
            if q.full():
                q.get_nowait()
            q.put_nowait(event)
        return event


@dataclass
class WsFault:
    """A scripted WebSocket fault for one channel (``terminal``, ``audio``, ``events``,
    ``websockify``): close with ``close_code`` after ``after_frames`` server frames, or
    with ``reset`` abort the TCP connection there without a close frame (``close_code``
    is then what the client reports, 1006). ``times`` is how many connections it
    applies to (``None`` = all)."""

    channel: str
    close_code: int
    after_frames: int = 0
    reason: str = ""
    times: int | None = 1
    reset: bool = False


@dataclass
class FakeComputer:
    """An emulated computer. Fields mirror the documented computer object (§2.1)."""

    id: str
    name: str
    workspace_id: str
    os: str = "linux"
    ram: int = 4
    cpu: int | float = 1
    disk_size_gb: int = 8
    resolution: str = "1280x720x24"
    status: str = "creating"
    auto_stop_minutes: int | None = None
    template_ref: str | None = None
    gpu: str | None = None
    image: str | None = None
    created_at: str = field(default_factory=now_iso)
    instance_id: str = field(default_factory=new_instance_id)
    vnc_password: str = field(default_factory=new_vnc_password)
    actions: list[Action] = field(default_factory=list)
    events: EventHub = field(default_factory=EventHub)
    ws_faults: list[WsFault] = field(default_factory=list)
    stream: dict[str, Any] = field(default_factory=lambda: {"status": "idle"})
    # Callbacks run when the password rotates, so open WebSockets can be closed 4401.
    on_rotate: list[Callable[[], None]] = field(default_factory=list)
    # Callbacks run with the new status on every change, so open WebSockets can close
    # 1001 when the computer stops.
    on_status: list[Callable[[str], None]] = field(default_factory=list)
    # Added by the REST side (additive to the contract): what the emulated display shows,
    # the live-resize bandwidth cap, and a tiny file system the default bash handler
    # keeps so ``echo hi > f`` then ``cat f`` behaves.
    screen: Screen = field(default_factory=Screen)
    bandwidth_limit_mbps: int = 1000
    files: dict[str, str] = field(default_factory=dict)

    def set_status(self, status: str) -> None:
        """Change ``status`` and tell whoever listens (open WebSockets)."""
        if status != self.status:
            self.status = status
            for cb in list(self.on_status):
                cb(status)

    @property
    def width(self) -> int:
        return int(self.resolution.split("x")[0])

    @property
    def height(self) -> int:
        return int(self.resolution.split("x")[1])

    def rotate_password(self) -> str:
        """Mint a new ``vnc_password`` (as every restart does) and tell open sockets."""
        self.vnc_password = new_vnc_password()
        for cb in list(self.on_rotate):
            cb()
        return self.vnc_password

    def end_stream(self, *, terminated: bool) -> bool:
        """End a running RTMP stream (``terminated``: killed by a stop or restart rather
        than asked to stop); ``False`` when none was running."""
        if self.stream.get("status") != "streaming":
            return False
        self.stream = (
            {"status": "terminated", "message": "Stream process was terminated unexpectedly"}
            if terminated
            else {"status": "idle"}
        )
        self.events.publish("audio_stream_stop", {})
        return True

    def take_ws_fault(self, channel: str) -> WsFault | None:
        """The next scripted fault for ``channel``, consuming one use of it."""
        for fault in self.ws_faults:
            if fault.channel == channel:
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times <= 0:
                        self.ws_faults.remove(fault)
                return fault
        return None

    def action_names(self) -> list[str]:
        return [a.name for a in self.actions]


@dataclass
class FakeWorkspace:
    id: str
    name: str
    user_id: str
    status: str = "active"
    icon_url: str | None = None
    created_at: str = field(default_factory=now_iso)
    updated_at: str = field(default_factory=now_iso)


@dataclass
class ApiKey:
    """An API key the emulator accepts. ``workspace_id`` set = a workspace-scoped key."""

    key: str
    user_id: str
    workspace_id: str | None = None


@dataclass
class World:
    """Everything the emulator knows. Tests may read and change it directly."""

    user_id: str = field(default_factory=new_uuid)
    workspaces: dict[str, FakeWorkspace] = field(default_factory=dict)
    computers: dict[str, FakeComputer] = field(default_factory=dict)
    keys: dict[str, ApiKey] = field(default_factory=dict)

    def computer_by_instance(self, instance_id: str) -> FakeComputer | None:
        for c in self.computers.values():
            if c.instance_id == instance_id or c.id == instance_id:
                return c
        return None
