"""The ``>>>`` examples in the package's docstrings run, and say what they show.

Examples that need a server are marked ``+SKIP`` in place; every other one is executed
here, so a docstring cannot drift from the code it documents."""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

import orgo_async

PACKAGE = Path(orgo_async.__file__).parent


def _modules_with_examples() -> list[str]:
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if ">>> " in path.read_text(encoding="utf-8"):
            rel = path.relative_to(PACKAGE.parent).with_suffix("")
            names.append(".".join(rel.parts).removesuffix(".__init__"))
    return names


MODULES = _modules_with_examples()


def test_there_are_examples_to_run() -> None:
    assert len(MODULES) >= 10


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in finder.find(module, name):
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} docstring example(s) of {name} failed (see above)"
