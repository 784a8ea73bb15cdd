"""Hypothesis settings for the property tests: deterministic and quick.

``derandomize=True`` makes every run (and CI) draw the same examples, so a failure
reproduces without a database; ``deadline=None`` because a loaded CI machine must not
turn a slow example into a failure. Set ``HYPOTHESIS_PROFILE=explore`` to search with
fresh random examples and ten times as many of them.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    database=None,
    max_examples=150,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("explore", deadline=None, max_examples=1500)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
