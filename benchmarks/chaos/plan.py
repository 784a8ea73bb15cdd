"""The seeded plan of a chaos run: which operations, on what, with which fault. No I/O.

Everything random in the run is decided here, from ``random.Random`` instances owned by
the plan (never the global one): one per lane, seeded with ``f"{seed}:{lane}"``. A lane
is a sequence of operations run one after the other on computers no other lane touches,
so the fault each operation meets is fixed by the seed whatever the scheduling; the
:func:`digest` of a plan is printed with the results, and two runs with the same seed
and sizes show the same digest.

Non-idempotent actions carry a marker that lets the emulator's action log say how many
times each one ran: clicks at coordinates encoding the lane-local operation index,
``type``/``key``/``bash``/``exec``/``stream_start`` text with the operation tag, a
created computer's name. ``restart`` and ``clone`` have no field to carry one; they are
attributed by what changed on the lane's own computer during the operation (they get
no fault that would let them run after the operation ended).
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from typing import Final, Literal

__all__ = [
    "KINDS",
    "RESOLUTION",
    "WIDTH",
    "Kind",
    "Op",
    "Plan",
    "RestFault",
    "WsFaultSpec",
    "digest",
    "make_plan",
    "marker_xy",
]

Cls = Literal["idempotent", "action", "fleet", "channel"]
#: How executions of a non-idempotent operation are counted: by a marker in the action
#: log (any time, late ones included) or by what changed during the operation.
Attribution = Literal["marker", "window", ""]

RESOLUTION: Final = "640x480x24"
WIDTH: Final = 640


@dataclass(frozen=True, slots=True)
class Kind:
    """One operation kind of the catalogue."""

    name: str
    cls: Cls
    weight: float
    target: int | None = 0  # which of the lane's two computers (None: the workspace)
    requires: str | None = None  # the status the computer must have ("running"/"stopped")
    default_timeout: bool = True  # uses the client's timeout (hold/latency faults apply)
    attribution: Attribution = ""


KINDS: Final[dict[str, Kind]] = {
    k.name: k
    for k in (
        # reads and idempotent calls
        Kind("get", "idempotent", 10, target=None),
        Kind("list", "idempotent", 3, target=None),
        Kind("ws_get", "idempotent", 2, target=None),
        Kind("ws_list", "idempotent", 0.5, target=None),
        Kind("vnc_password", "idempotent", 2),
        Kind("screenshot", "idempotent", 2, requires="running"),
        Kind("auto_stop", "idempotent", 1, target=1),
        Kind("set_auto_stop", "idempotent", 1, target=1),
        Kind("stream_status", "idempotent", 1),
        Kind("move_mouse", "idempotent", 3, requires="running"),
        Kind("wait", "idempotent", 1, requires="running", default_timeout=False),
        Kind("move", "idempotent", 1, target=1),
        Kind("resize", "idempotent", 1, target=1, requires="running", default_timeout=False),
        Kind("stop", "idempotent", 1.5, target=1, requires="running", default_timeout=False),
        Kind("start", "idempotent", 1.5, target=1, requires="stopped", default_timeout=False),
        Kind("stream_stop", "idempotent", 0, requires="running"),  # follows stream_start
        Kind("sweep", "idempotent", 0, target=None),  # follows create/clone: delete extras
        # non-idempotent actions
        Kind("click", "action", 8, requires="running", attribution="marker"),
        Kind("double_click", "action", 1, requires="running", attribution="marker"),
        Kind("drag", "action", 2, requires="running", attribution="marker"),
        Kind("scroll", "action", 2, requires="running", attribution="marker"),
        Kind("type", "action", 6, requires="running", attribution="marker"),
        Kind("key", "action", 3, requires="running", attribution="marker"),
        Kind("bash", "action", 4, requires="running", default_timeout=False, attribution="marker"),
        Kind("exec", "action", 2, requires="running", default_timeout=False, attribution="marker"),
        Kind("stream_start", "action", 0.7, requires="running", attribution="marker"),
        Kind("create", "action", 0.5, target=None, attribution="marker"),
        Kind(
            "restart",
            "action",
            1,
            requires="running",
            default_timeout=False,
            attribution="window",
        ),
        Kind(
            "clone", "action", 0.5, requires="running", default_timeout=False, attribution="window"
        ),
        # fleets
        Kind("get_many", "fleet", 2, target=None),
        Kind("watch", "fleet", 1, target=None),
        # channels (WebSockets)
        Kind("terminal", "channel", 1.5, requires="running"),
        Kind("events", "channel", 2, requires="running"),
        Kind("audio", "channel", 1, requires="running"),
        Kind("vnc", "channel", 1.5, requires="running"),
    )
}


@dataclass(frozen=True, slots=True)
class RestFault:
    """A fault for the REST requests of one operation (matched by its ``X-Chaos-Op``).

    ``kind``: ``5xx`` / ``429`` (``statuses``, ``retry_after``), ``reset`` (dropped before
    processing), ``lost`` / ``drop`` (dropped after processing: no byte / half the body),
    ``hold`` / ``latency`` (``seconds`` past the client's timeout, after / before the
    route ran), ``truncated`` / ``malformed`` bodies, ``503+lost`` (a 503, then the
    retry's answer is lost), ``refused`` (the emulator refuses new connections for
    ``seconds``: every lane that connects meanwhile meets it).
    """

    kind: str
    statuses: tuple[int, ...] = ()
    retry_after: float | None = None
    seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class WsFaultSpec:
    """A fault for a channel operation: ``close`` with ``code`` after ``after`` server
    frames, ``reset`` (TCP RST, no close frame), ``rotate`` (the password rotates
    mid-channel), ``refused`` (connections refused for ``seconds`` just before the
    socket opens), ``503`` (the upgrade answers 503 ``after`` a mid-session 1011)."""

    kind: str
    code: int | None = None
    after: int = 0
    seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class Op:
    """One operation of a lane."""

    lane: int
    index: int  # lane-local, 0-based: what markers encode
    kind: str
    fault: RestFault | None = None
    ws_fault: WsFaultSpec | None = None

    @property
    def tag(self) -> str:
        """The operation's id: its ``X-Chaos-Op`` header and its marker text."""
        return f"{self.lane}.{self.index}"

    @property
    def spec(self) -> Kind:
        return KINDS[self.kind]


@dataclass
class Plan:
    """The lanes of a run, each a list of operations."""

    seed: int
    lanes: list[list[Op]] = field(default_factory=list)

    @property
    def ops(self) -> int:
        return sum(len(lane) for lane in self.lanes)


def marker_xy(index: int) -> tuple[int, int]:
    """Screen coordinates encoding a lane-local operation index (unique per computer)."""
    return index % WIDTH, index // WIDTH


# Fault menus: (weight, factory(rng, timeout) -> fault).
REST_FAULT_RATE: Final = 0.3
CHANNEL_FAULT_RATE: Final = 0.5
_CLOSE_CODES: Final = (4401, 4404, 1001, 1011)


def _rest_fault(rng: random.Random, spec: Kind, timeout: float) -> RestFault | None:
    if rng.random() >= REST_FAULT_RATE:
        return None
    menu: list[tuple[float, str]] = [
        (5, "5xx"),
        (1, "429"),
        (2, "reset"),
        (2, "lost"),
        (1.5, "drop"),
        (1.5, "truncated"),
        (1.5, "malformed"),
        (1, "503+lost"),
        (0.15, "refused"),
    ]
    if spec.default_timeout:
        menu.append((1.2, "hold"))
        if spec.name != "create":  # a late create would escape its window
            menu.append((0.8, "latency"))
    kind = rng.choices([k for _, k in menu], weights=[w for w, _ in menu])[0]
    if kind == "5xx":
        n = rng.choices((1, 2, 3), weights=(5, 3, 1))[0]
        return RestFault(kind, statuses=(rng.choice((500, 502, 503, 504)),) * n)
    if kind == "429":
        n = rng.choice((1, 2))
        return RestFault(kind, statuses=(429,) * n, retry_after=rng.choice((0.02, 0.05, 0.1)))
    if kind in ("hold", "latency"):
        return RestFault(kind, seconds=round(timeout + rng.uniform(0.2, 0.5), 2))
    if kind == "refused":
        # Mostly short windows the SDK's retries ride out; a few outlast them.
        seconds = rng.uniform(1.6, 2.0) if rng.random() < 0.15 else rng.uniform(0.05, 0.3)
        return RestFault(kind, seconds=round(seconds, 2))
    return RestFault(kind)


def _ws_fault(rng: random.Random) -> WsFaultSpec | None:
    if rng.random() >= CHANNEL_FAULT_RATE:
        return None
    kind = rng.choices(("close", "reset", "rotate", "refused", "503"), weights=(5, 2, 2, 0.5, 0.7))[
        0
    ]
    if kind == "close":
        return WsFaultSpec(kind, code=rng.choice(_CLOSE_CODES), after=rng.randint(0, 3))
    if kind == "reset":
        return WsFaultSpec(kind, after=rng.randint(0, 3))
    if kind == "refused":
        return WsFaultSpec(kind, seconds=round(rng.uniform(0.05, 0.3), 2))
    if kind == "503":
        return WsFaultSpec(kind, after=rng.randint(1, 2))
    return WsFaultSpec(kind)


@dataclass
class _Model:
    """What the plan expects of the lane's computers (to keep lifecycle ops sensible)."""

    b_running: bool = True
    streaming: bool = False
    cleanup_due: int = -1  # index by which a sweep must come, -1: none pending


def _eligible(model: _Model) -> tuple[list[str], list[float]]:
    names: list[str] = []
    weights: list[float] = []
    for k in KINDS.values():
        if k.weight <= 0:
            continue
        if k.name == "stop" and not model.b_running:
            continue
        if k.name == "start" and model.b_running:
            continue
        if k.target == 1 and k.requires == "running" and not model.b_running:
            continue
        if k.name == "stream_start" and model.streaming:
            continue
        if k.name in ("create", "clone") and model.cleanup_due >= 0:
            continue
        weight = k.weight * (4 if k.name == "start" else 1)  # stopped spells stay short
        names.append(k.name)
        weights.append(weight)
    return names, weights


def _next_kind(rng: random.Random, model: _Model, index: int) -> str:
    if model.cleanup_due >= 0 and index >= model.cleanup_due:
        model.cleanup_due = -1
        return "sweep"
    if model.streaming and rng.random() < 0.3:
        model.streaming = False
        return "stream_stop"
    names, weights = _eligible(model)
    kind = rng.choices(names, weights=weights)[0]
    if kind == "stop":
        model.b_running = False
    elif kind == "start":
        model.b_running = True
    elif kind == "stream_start":
        model.streaming = True
    elif kind == "restart":
        model.streaming = False  # a restart kills the stream
    elif kind in ("create", "clone"):
        model.cleanup_due = index + rng.randint(1, 4)
    return kind


def make_plan(seed: int, ops: int, lanes: int, *, timeout: float) -> Plan:
    """``ops`` operations over ``lanes`` lanes (the first ones get the remainder)."""
    if lanes < 1 or ops < lanes:
        raise ValueError("need lanes >= 1 and ops >= lanes")
    plan = Plan(seed)
    for lane in range(lanes):
        rng = random.Random(f"{seed}:{lane}")
        count = ops // lanes + (1 if lane < ops % lanes else 0)
        model = _Model()
        seq: list[Op] = []
        for index in range(count):
            kind = _next_kind(rng, model, index)
            spec = KINDS[kind]
            fault = _rest_fault(rng, spec, timeout)
            ws = _ws_fault(rng) if spec.cls == "channel" else None
            seq.append(Op(lane, index, kind, fault, ws))
        plan.lanes.append(seq)
    return plan


def digest(plan: Plan) -> str:
    """A short fingerprint of the whole plan (same seed and sizes: same digest)."""
    h = hashlib.sha256(str(plan.seed).encode())
    for lane in plan.lanes:
        for op in lane:
            h.update(repr((op.tag, op.kind, op.fault, op.ws_fault)).encode())
    return h.hexdigest()[:16]
