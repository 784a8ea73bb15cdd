"""Drives the official ``orgo`` SDK (0.0.47, sync) against an emulator; run in a subprocess.

Usage: ``python official_client.py BASE_URL API_KEY``. Runs on Python 3.12+ in a venv
with ``orgo==0.0.47``. Prints one JSON line ``RESULT {...}`` with what the SDK returned;
any exception fails the run (non-zero exit).
"""

from __future__ import annotations

import json
import sys
import time
import uuid


def main(base_url: str, api_key: str) -> dict[str, object]:
    from orgo import Computer

    project = f"conformance-{uuid.uuid4().hex[:8]}"
    computer = Computer(
        project=project, name="official-sdk", api_key=api_key, base_api_url=base_url, verbose=False
    )
    out: dict[str, object] = {"computer_id": computer.computer_id, "project": project}
    out["left_click"] = computer.left_click(100, 200)
    out["right_click"] = computer.right_click(110, 210)
    out["double_click"] = computer.double_click(120, 220)
    out["type"] = computer.type("Hello, Orgo!")
    out["key"] = computer.key("Enter")
    out["scroll"] = computer.scroll("down", 3)
    out["drag"] = computer.drag(10, 20, 300, 400)
    image = computer.screenshot()  # PIL decodes the emulator's PNG
    out["screenshot_size"] = list(image.size)
    out["screenshot_base64_len"] = len(computer.screenshot_base64())
    out["bash"] = computer.bash("echo conformance")
    out["exec"] = computer.exec("print('ok')")
    out["wait"] = computer.wait(0.1)
    out["status"] = computer.status()["status"]
    out["restart"] = computer.restart()
    # What a user of the SDK does after a restart: poll until it runs again (the
    # documented restart passes through "restarting").
    seen = [computer.status()["status"]]
    for _ in range(200):
        if seen[-1] == "running":
            break
        time.sleep(0.02)
        seen.append(computer.status()["status"])
    out["statuses_after_restart"] = seen
    out["status_after_restart"] = seen[-1]
    out["destroy"] = computer.destroy()
    return out


if __name__ == "__main__":
    result = main(sys.argv[1], sys.argv[2])
    print("RESULT " + json.dumps(result), flush=True)
