"""Decode: JSON bytes -> typed object, for a Computer and a Workspace with 50 desktops.

* ours: ``msgspec.json.Decoder(orgo_async.Computer)`` built once, as the pipeline does;
* pydantic v2: ``ComputerP.model_validate_json`` with field-for-field equivalent models
  (:mod:`benchmarks.models_pydantic`);
* ``json.loads`` to plain dicts (no validation, no types: the floor a dict-based SDK pays).

Each measurement is the median over ``reps`` of the mean time per decode in a loop sized
to take about ``target`` seconds.
"""

from __future__ import annotations

import json
import timeit
from typing import Any

from .._common import fmt_ratio, md_table, median
from ..server import _COMPUTER_HEAD, _COMPUTER_TAIL

COMPUTER_JSON = _COMPUTER_HEAD + b"a3bb189e-8bf9-3888-9912-ace4e6543002" + _COMPUTER_TAIL


def workspace_json(desktops: int = 50) -> bytes:
    """A documented Workspace (§2.2) whose ``desktops`` are full computer objects."""
    computers = [
        json.loads(_COMPUTER_HEAD + f"a3bb189e-8bf9-3888-9912-{i:012d}".encode() + _COMPUTER_TAIL)
        for i in range(desktops)
    ]
    ws = {
        "id": "550e8400-e29b-41d4-a716-446655440000",
        "name": "production",
        "user_id": "user_2abc3def4ghi",
        "status": "active",
        "icon_url": None,
        "created_at": "2026-04-01T09:00:00Z",
        "updated_at": "2026-04-07T10:35:00Z",
        "desktops": computers,
    }
    return json.dumps(ws, separators=(",", ":")).encode()


def _per_call(stmt: str, env: dict[str, Any], target: float, reps: int) -> float:
    """Median seconds per execution of ``stmt`` (timeit: no lambda call in the loop)."""
    timer = timeit.Timer(stmt, globals=env)
    loops, dt = timer.autorange()
    loops = max(1, int(loops * target / max(dt, 1e-9)))
    return median([t / loops for t in timer.repeat(repeat=reps, number=loops)])


def run(*, reps: int = 7, target: float = 0.2) -> tuple[str, dict[str, Any]]:
    """Returns the Markdown table and the raw per-call seconds."""
    import msgspec
    from pydantic import BaseModel

    from orgo_async import Computer, Workspace

    from ..models_pydantic import ComputerP, WorkspaceP

    docs: dict[str, tuple[bytes, Any, type[BaseModel]]] = {
        "Computer": (COMPUTER_JSON, Computer, ComputerP),
        "Workspace (50 desktops)": (workspace_json(50), Workspace, WorkspaceP),
    }
    rows: list[list[str]] = []
    results: dict[str, Any] = {}
    for label, (data, ours_t, pyd_t) in docs.items():
        dec = msgspec.json.Decoder(ours_t)
        # Same answer from all three before timing anything.
        a: Any = dec.decode(data)
        b: Any = pyd_t.model_validate_json(data)
        assert a.id == b.id and a.created_at == b.created_at
        env = {"dec": dec, "model": pyd_t, "data": data, "loads": json.loads}
        t_ours = _per_call("dec.decode(data)", env, target, reps)
        t_pyd = _per_call("model.model_validate_json(data)", env, target, reps)
        t_json = _per_call("loads(data)", env, target, reps)
        results[label] = {"msgspec": t_ours, "pydantic": t_pyd, "json": t_json, "bytes": len(data)}
        for name, t in (("ours: msgspec Struct", t_ours), ("pydantic v2 model_validate_json",
                        t_pyd), ("json.loads -> dict", t_json)):  # fmt: skip
            ratio = "1.00x (ours)" if t is t_ours else fmt_ratio(t / t_ours)
            rows.append([f"{label}, {len(data):,} B", name, f"{t * 1e6:,.2f}", ratio])
    return md_table(["document", "decoder", "µs per decode (median)", "ours faster by"], rows), (
        results
    )
