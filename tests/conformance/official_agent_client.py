"""Drives the official ``orgo`` SDK's template lookup and hosted-agent ``prompt()``.

Usage: ``python official_agent_client.py BASE_URL API_KEY AGENT_ORIGIN TEMPLATE``. Runs on
Python 3.12+ with ``orgo==0.0.47``; prints one ``RESULT {...}`` JSON line.

The only thing set from outside is the hosted agent's URL, which the SDK hard-codes
(``OrgoProvider(agent_url="wss://agent.orgo.ai")``): its default argument is pointed at the
emulator. Everything else is the SDK as published.
"""

from __future__ import annotations

import json
import sys
import uuid


def main(base_url: str, api_key: str, agent_origin: str, template: str) -> dict[str, object]:
    from orgo import Computer
    from orgo.prompt import OrgoProvider

    OrgoProvider.__init__.__defaults__ = (agent_origin,)  # the one setting

    project = f"conformance-{uuid.uuid4().hex[:8]}"
    computer = Computer(
        project=project,
        name="templated",
        template=template,
        api_key=api_key,
        base_api_url=base_url,
        verbose=False,
    )
    out: dict[str, object] = {"computer_id": computer.computer_id, "project": project}
    events: list[list[object]] = []
    messages = computer.prompt(
        'click 100, 200 then type "hello from the agent" and press Enter',
        verbose=False,
        callback=lambda kind, data: events.append([kind, data]),
    )
    out["messages"] = messages
    out["events"] = events
    try:
        computer.prompt("run `echo unreachable`", verbose=False)
    except RuntimeError as e:  # the official SDK raises the agent's error
        out["prompt_error"] = str(e)
    return out


if __name__ == "__main__":
    result = main(*sys.argv[1:5])
    print("RESULT " + json.dumps(result), flush=True)
