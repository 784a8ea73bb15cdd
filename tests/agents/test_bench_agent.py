"""Smoke test of the agent benchmark scenario (no timing asserted): the servers process
serves the scripted Messages API and the emulator, our episodes and the references run
to the end with the expected number of actions and model calls (``run_episode`` checks
both), the profiler writes its report, and the REST-vs-RFB paths produce their rows. The
official SDK's side needs the conformance venv and is left to ``make bench``."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.scenarios import agent, agent_paths

pytestmark = pytest.mark.timeout(180)


def test_script_is_stateless_and_ends() -> None:
    assert agent.turn(0, 3)["content"][0]["input"] == {"action": "screenshot"}
    assert agent.turn(2, 3)["stop_reason"] == "tool_use"
    assert agent.turn(3, 3)["stop_reason"] == "end_turn"


def test_episode_and_references_run() -> None:
    with agent.run_servers(12) as servers:
        ours = agent.run_episode(servers, "ours", 12)
        others = [agent.run_episode(servers, side, 12) for side in agent.SIDES[2:]]
    assert ours["messages"] == 2 * 12 + 2  # the instruction, 12 tool turns, the final answer
    assert ours["wall"] > 0 and ours["cpu"] > 0 and all(r["cpu"] > 0 for r in others)


def test_paths_table() -> None:
    table, res = agent_paths.run(clicks=5, shots=1, reps=1, log=lambda _m: None)
    assert {"rest_click", "rfb_click", "rest_shot", "rfb_shot"} <= set(res["emulator"])
    assert res["emulator"]["rfb_raw_bytes"] == 1280 * 720 * 4
    assert "click via RFB" in table


def test_profile_writes_the_episodes_functions(tmp_path: Path) -> None:
    out = tmp_path / "profile.txt"
    agent.profile("ours-canned", str(out), steps=5)
    text = out.read_text()
    assert "run_claude" in text and "Ordered by: cumulative time" in text
