"""Running the official ``orgo`` SDK (PyPI, 0.0.47) for the conformance tests.

``orgo/prompt.py`` only parses on Python 3.12+, so the SDK runs in a subprocess on such an
interpreter, in a cached venv (``.cache/conformance-venv``, or ``$ORGO_CONFORMANCE_VENV``)
created on first use with ``pip install orgo==0.0.47``. The interpreter is
``$ORGO_CONFORMANCE_PYTHON``, else pyenv's 3.12/3.13, else ``python3.12``/``python3.13`` on
PATH. A script run with :func:`run_script` prints its findings as one ``RESULT {json}``
line.
"""

from __future__ import annotations

import asyncio
import glob
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
ORGO_VERSION = "0.0.47"


def _version_ok(python: str) -> bool:
    try:
        proc = subprocess.run(
            [python, "-c", "import sys; print(sys.version_info >= (3, 12))"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return proc.returncode == 0 and proc.stdout.strip() == "True"


def find_interpreter() -> str | None:
    """A Python 3.12+ interpreter, or None."""
    candidates: list[str] = []
    if os.environ.get("ORGO_CONFORMANCE_PYTHON"):
        candidates.append(os.environ["ORGO_CONFORMANCE_PYTHON"])
    if sys.version_info >= (3, 12):
        candidates.append(sys.executable)
    for pattern in (
        "/root/.pyenv/versions/3.12*/bin/python3.12",
        "/root/.pyenv/versions/3.13*/bin/python3.13",
        os.path.expanduser("~/.pyenv/versions/3.1[23]*/bin/python3.1[23]"),
    ):
        candidates.extend(sorted(glob.glob(pattern)))
    for name in ("python3.12", "python3.13"):
        found = shutil.which(name)
        if found:
            candidates.append(found)
    for python in candidates:
        if _version_ok(python):
            return python
    return None


def ensure_venv(interpreter: str) -> str:
    """The venv's python with ``orgo==0.0.47`` installed (created once, then cached)."""
    venv = Path(os.environ.get("ORGO_CONFORMANCE_VENV", ROOT / ".cache" / "conformance-venv"))
    python = venv / "bin" / "python"
    check = [str(python), "-c", "import importlib.metadata as m, orgo; print(m.version('orgo'))"]
    if python.exists():
        proc = subprocess.run(check, capture_output=True, text=True, timeout=120)
        if proc.returncode == 0 and proc.stdout.strip() == ORGO_VERSION:
            return str(python)
        shutil.rmtree(venv)
    subprocess.run([interpreter, "-m", "venv", str(venv)], check=True, timeout=300)
    proc = subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            f"orgo=={ORGO_VERSION}",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, f"pip install orgo=={ORGO_VERSION} failed:\n{proc.stderr}"
    proc = subprocess.run(check, capture_output=True, text=True, timeout=120)
    assert proc.stdout.strip() == ORGO_VERSION, proc.stderr
    return str(python)


async def run_script(python: str, script: Path, *args: str) -> dict[str, Any]:
    """Run ``script`` on ``python`` (no ``ORGO_*`` variables in its environment); the
    object of its ``RESULT`` line. Fails with its stderr if it exits non-zero."""
    proc = await asyncio.create_subprocess_exec(
        python,
        str(script),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={k: v for k, v in os.environ.items() if not k.startswith("ORGO_")},
    )
    try:
        async with asyncio.timeout(120):
            out, err = await proc.communicate()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, err.decode()[-4000:]
    line = next(ln for ln in out.decode().splitlines() if ln.startswith("RESULT "))
    result: dict[str, Any] = json.loads(line[len("RESULT ") :])
    return result
