"""The chaos run, short and with a fixed seed, inside ``make test``.

The same harness as ``make chaos`` (``benchmarks/chaos``) on 320 operations: every
invariant must hold (no untyped exception, no wrong answer, no action executed twice,
no acknowledged action that never ran, no secret in any log record, exception text or
repr, nothing left open). No timing is asserted. The checks on the plan and on the
counts make sure the run exercised what it claims to: every fault kind, every
operation kind, actions whose answer was lost after they ran.
"""

from __future__ import annotations

from collections import Counter

import pytest

from benchmarks.chaos.plan import KINDS, make_plan
from benchmarks.chaos.report import failures, render
from benchmarks.chaos.run import run_chaos

SEED, OPS, LANES = 2, 320, 16

pytestmark = pytest.mark.timeout(120)


def test_the_plan_is_seeded_and_covers_every_kind() -> None:
    plan = make_plan(SEED, OPS, LANES, timeout=1.0)
    again = make_plan(SEED, OPS, LANES, timeout=1.0)
    other = make_plan(SEED + 1, OPS, LANES, timeout=1.0)
    assert [lane for lane in plan.lanes] == [lane for lane in again.lanes]
    assert plan.lanes != other.lanes
    ops = [op for lane in plan.lanes for op in lane]
    assert len(ops) == OPS
    assert {op.kind for op in ops} == set(KINDS)
    rest = Counter(op.fault.kind for op in ops if op.fault)
    assert set(rest) == {
        "5xx", "429", "reset", "lost", "drop", "truncated", "malformed",
        "503+lost", "refused", "hold", "latency",
    }  # fmt: skip
    ws = Counter(op.ws_fault.kind for op in ops if op.ws_fault)
    assert set(ws) == {"close", "reset", "rotate", "refused", "503"}
    codes = {op.ws_fault.code for op in ops if op.ws_fault and op.ws_fault.kind == "close"}
    assert codes == {4401, 4404, 1001, 1011}


async def test_short_chaos_run_holds_every_invariant() -> None:
    result = await run_chaos(SEED, OPS, LANES, timeout=1.0)
    table = render(result, f"chaos seed {SEED}")
    assert failures(result) == [], table
    assert result.ops == OPS
    # It did what it claims: faults met typed errors on every side...
    assert result.tallies["idempotent"].typed > 0, table
    assert result.tallies["channel"].typed > 0, table
    assert result.tallies["fleet"].ok > 0 and result.fleet_items["ok"] > 0, table
    # ... actions were acknowledged, lost after running, and refused before running ...
    m = result.actions.matrix
    assert m[(True, 1)] > 0 and m[(False, 1)] > 0 and m[(False, 0)] > 0, table
    # ... and the secret search had something to search.
    assert result.secret_scope["log records"] > OPS, table
    assert result.secret_scope["passwords issued"] > 2 * LANES, table  # rotations
