"""The chaos table and the invariants every run must hold."""

from __future__ import annotations

from collections import Counter

from .run import ChaosResult, OpTally

__all__ = ["failures", "render"]


def _n(x: int) -> str:
    return f"{x:,}"


def _errors(c: Counter[str], top: int = 6) -> str:
    if not c:
        return "none"
    items = c.most_common()
    shown = ", ".join(f"{name} {_n(n)}" for name, n in items[:top])
    rest = sum(n for _, n in items[top:])
    return shown + (f", other {_n(rest)}" if rest else "")


def _tally(t: OpTally) -> str:
    return (
        f"{_n(t.ops)}: **{_n(t.ok)} succeeded, {_n(t.typed)} typed errors, "
        f"{_n(t.untyped)} untyped**, {_n(t.wrong)} wrong answers, "
        f"{_n(t.deadline)} past our deadline"
    )


def render(r: ChaosResult, command: str) -> str:
    """A Markdown table of the run (what the README shows)."""
    idem = r.tallies.get("idempotent", OpTally())
    fleet = r.tallies.get("fleet", OpTally())
    chan = r.tallies.get("channel", OpTally())
    act = r.tallies.get("action", OpTally())
    a = r.actions
    m = a.matrix
    fi = r.fleet_items
    rows: list[tuple[str, str]] = [
        ("idempotent calls (reads, lifecycle, move_mouse, wait, resize ...)", _tally(idem)),
        ("    their typed errors", _errors(idem.errors)),
        ("fleet operations (`get_many`, `watch`)", _tally(fleet)),
        (
            "    per-computer results inside them",
            f"{_n(fi.get('ok', 0))} ok, {_n(fi.get('typed', 0))} typed errors, "
            f"{_n(fi.get('untyped', 0))} untyped, {_n(fi.get('wrong', 0))} wrong",
        ),
        ("channel sessions (terminal, events, audio, VNC)", _tally(chan)),
        ("    their typed errors", _errors(chan.errors)),
        ("non-idempotent actions (click, type, key, bash, exec, restart, clone ...)", _n(a.ops)),
        ("    acknowledged (the SDK returned success)", _n(a.acked)),
        ("    acknowledged and executed once", _n(m[(True, 1)])),
        (
            "    executed once, not acknowledged (answer lost: a typed error)",
            _n(m[(False, 1)]),
        ),
        ("    not executed, typed error (nothing was processed)", _n(m[(False, 0)])),
        ("    acknowledged but not executed (must be 0)", _n(m[(True, 0)])),
        ("    **executed twice (must be 0)**", f"**{_n(a.executed[2])}**"),
        ("    their typed errors", _errors(act.errors)),
        ("    untyped errors / wrong answers", f"{_n(act.untyped)} / {_n(act.wrong)}"),
        ("faults injected into REST calls", _errors(r.faults, top=12)),
        ("faults injected into channels", _errors(r.ws_faults, top=12)),
        (
            "**secrets in log records, exception texts, reprs (must be 0)**",
            f"**{len(r.secrets)}** (searched "
            + ", ".join(f"{_n(v)} {k}" for k, v in r.secret_scope.items())
            + ")",
        ),
        (
            "**unclosed at the end (must be 0)**",
            f"**{r.client_leaks.sessions + r.leaks.sessions}** sessions, "
            f"**{r.client_leaks.connectors + r.leaks.connectors}** connectors, "
            f"**{r.leaks.sockets}** sockets, "
            f"**{r.client_leaks.websockets + r.leaks.websockets}** websockets, "
            f"**{r.leaks.tasks}** tasks, **{r.leaks.children}** child processes, "
            f"**{r.leaks.fds:+d}** fds",
        ),
        ("RSS before / peak / after", " / ".join(f"{x:.0f}" for x in r.rss) + " MB"),
        ("open fds before / peak / after", " / ".join(str(x) for x in r.fds)),
        (
            "worst event-loop lag (client and emulator share the loop)",
            f"{r.lag_worst * 1000:.0f} ms (p99 {r.lag_p99 * 1000:.1f} ms)",
        ),
        ("warnings, unraisable exceptions, asyncio task errors", _n(len(r.warnings))),
        (
            "repair calls (bring a computer to the state the next op needs; no planned fault)",
            f"{_n(r.repair.ops)}: {_n(r.repair.ok)} ok, {_n(r.repair.typed)} typed, "
            f"{_n(r.repair.untyped)} untyped",
        ),
        (
            "events delivered / published on events channels",
            f"{_n(r.events[0])} / {_n(r.events[1])} (lost ones were published while a "
            "socket was being replaced)",
        ),
    ]
    ops_s = r.ops / r.seconds if r.seconds else 0.0
    head = (
        f"`{command}`: seed {r.seed}, {_n(r.ops)} operations over {r.lanes} lanes, "
        f"plan digest `{r.digest}`, {r.seconds:.0f} s ({ops_s:,.0f} operations/s)\n"
    )
    width = max(len(k) for k, _ in rows)
    lines = [head, f"| {'what':<{width}} | figure |", f"|{'-' * (width + 2)}|--------|"]
    lines += [f"| {k:<{width}} | {v} |" for k, v in rows]
    return "\n".join(lines)


def failures(r: ChaosResult) -> list[str]:
    """Every invariant the run broke (empty: it held them all)."""
    out: list[str] = []
    for name, t in r.tallies.items():
        if t.untyped or t.wrong or t.deadline:
            out.append(
                f"{name}: {t.untyped} untyped, {t.wrong} wrong, {t.deadline} past deadline: "
                + "; ".join(t.untyped_examples[:5])
            )
    if r.fleet_items.get("untyped") or r.fleet_items.get("wrong"):
        out.append(f"fleet items: {r.fleet_items}: {r.fleet_untyped}")
    if r.repair.untyped:
        out.append(f"repair: {r.repair.untyped_examples[:3]}")
    if r.actions.twice:
        out.append("executed twice: " + ", ".join(r.actions.twice[:10]))
    if r.actions.matrix[(True, 0)]:
        out.append(f"{r.actions.matrix[(True, 0)]} acknowledged actions never ran")
    if r.secrets:
        out.append("secrets found: " + "; ".join(r.secrets[:5]))
    if r.client_leaks.total or r.leaks.total:
        out.append(f"leaks: client {r.client_leaks}, final {r.leaks}")
    if r.stuck:
        out.append("operations stuck beyond their bound: " + "; ".join(r.stuck[:3]))
    if r.warnings:
        out.append("warnings/unraisable/task errors: " + "; ".join(r.warnings[:5]))
    return out
