"""The README's first command: ``orgo-async demo`` runs end to end and writes real files."""

from __future__ import annotations

import subprocess
import sys
import wave
from pathlib import Path


def test_demo_runs_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "orgo_async.cli", "demo", "--computers", "4", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=50,
    )
    assert proc.returncode == 0, proc.stderr
    rows = {
        cells[0]: cells[1]
        for line in proc.stdout.splitlines()
        if len(cells := [c.strip() for c in line.strip("│ ").split("│")]) == 2
    }
    assert rows["running"] == "4/4"
    # The 201s said "creating" (a slow boot): the progress bar had a real wait to show.
    assert rows["fleet"] == "4 computers created in workspace 'demo' (creating)"
    assert rows["terminal"].startswith("$ uname -a -> exit 0: Linux")  # a real PTY
    assert rows["actions"] == "click, type, key, screenshot"
    assert "✓ screenshot" in proc.stderr  # each step reported as it finishes
    with wave.open(str(out / "audio.wav"), "rb") as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (24000, 1, 2)
        assert w.getnframes() == 24000
    png = (out / "screenshot.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert int.from_bytes(png[16:20], "big") == 1280 and int.from_bytes(png[20:24], "big") == 720
