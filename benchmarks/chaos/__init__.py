"""A seeded chaos run (``make chaos``) and a soak (``make soak``) against the emulator.

The chaos run plans (:mod:`.plan`) thousands of mixed operations (reads, lifecycle,
every action, fleet ``get_many``/``watch``, terminal/events/audio/VNC channels) over
lanes that each own two computers, with faults injected at random (:mod:`.run`), runs
them through the SDK's public API (:mod:`.ops`) and prints a table (:mod:`.report`):
idempotent calls succeeded / typed errors (no bare ``aiohttp``, ``asyncio`` or
``websockets`` exception may escape), non-idempotent actions acknowledged / executed
per the emulator's action log / executed twice, secrets found in any log record,
exception text or repr, what was left open at the end, RSS, fds and the worst
event-loop lag (:mod:`.probes`).

Reproducible: the plan (every operation, its target, its parameters, its fault; the
refusal windows; the mid-channel rotations) comes from ``random.Random`` instances owned
by the run and seeded from ``--seed``, and its digest is printed. Not reproducible: how
the lanes interleave (which other lanes' connections meet a refusal window, which
requests a 429's client-wide slow-down delays, whether a request races an idle
connection's close), the SDK's retry and reconnect jitter, and timing under load; so
the counts of typed errors move a little between runs of one seed, while the
invariants must hold on every run.
"""
