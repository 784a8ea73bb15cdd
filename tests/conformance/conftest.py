"""The official SDK's interpreter for the conformance tests (see ``_runner.py``)."""

from __future__ import annotations

import pytest

from ._runner import ensure_venv, find_interpreter


@pytest.fixture(scope="module")
def official_python() -> str:
    interpreter = find_interpreter()
    if interpreter is None:
        pytest.skip(
            "no Python 3.12+ interpreter found (set ORGO_CONFORMANCE_PYTHON); "
            "the official orgo SDK does not import on older Pythons"
        )
    return ensure_venv(interpreter)
