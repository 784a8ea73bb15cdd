"""The official SDK's agent loop for the agent benchmark (runs under the conformance venv's
Python 3.12; stdlib + ``orgo`` only, no orgo_async).

``python _agent_official.py BASE_URL COMPUTER_ID STEPS`` with ``ANTHROPIC_BASE_URL``,
``ANTHROPIC_API_KEY`` and ``ORGO_API_KEY`` in the environment: runs
``Computer.prompt(provider="anthropic")`` (its ``anthropic.Anthropic`` honours
``ANTHROPIC_BASE_URL``) and prints one JSON line with the episode's wall time and the
process's CPU time (user + system, all threads) spent in it.
"""

from __future__ import annotations

import json
import resource
import sys
import time


def main() -> None:
    from orgo import Computer

    base_url, computer_id, steps = sys.argv[1], sys.argv[2], int(sys.argv[3])
    computer = Computer(computer_id=computer_id, base_api_url=base_url, verbose=False)
    before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    messages = computer.prompt(
        "Run the benchmark episode",
        provider="anthropic",
        verbose=False,
        max_iterations=steps + 1,
        display_width=1280,
        display_height=720,
        max_saved_screenshots=3,
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    print(json.dumps({"wall": wall, "cpu": cpu, "messages": len(messages)}))


if __name__ == "__main__":
    main()
