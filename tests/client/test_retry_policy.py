"""The retry decision as a table: every outcome x idempotent or not x attempts left.

The promise under test is "never turn one click into two": a request that may have
reached the server is sent again only when its route is idempotent. The expected
column is written out by hand from the rules in orgo-api.md §1.5/§1.6 (429 and 503 mean
"not processed"), not computed from the code under test.
"""

from __future__ import annotations

import itertools

import pytest

from orgo_async._retry import (
    MAX_RETRY_AFTER,
    RATE_LIMIT_MIN_DELAY,
    Failure,
    NoReplay,
    backoff_delay,
    retry_delay,
)

# outcome -> (retried when idempotent, retried when not idempotent)
TABLE: dict[Failure | NoReplay | int, tuple[bool, bool]] = {
    # Nothing reached the server: safe to send anything again.
    Failure.CONNECT: (True, True),
    Failure.CONNECT_TIMEOUT: (True, True),
    # A certificate problem does not fix itself.
    Failure.TLS: (False, False),
    # The request may have been processed: only idempotent requests go again.
    Failure.TIMEOUT: (True, False),
    Failure.DROPPED: (True, False),
    408: (True, False),
    500: (True, False),
    502: (True, False),
    504: (True, False),
    # The server says it did not process the request.
    429: (True, True),
    503: (True, True),
    # Answers that a retry would only repeat.
    301: (False, False),
    400: (False, False),
    401: (False, False),
    403: (False, False),
    404: (False, False),
    405: (False, False),
    409: (False, False),
    422: (False, False),
    501: (False, False),
    505: (False, False),
    # A streamed upload body started to go out: it cannot be rewound, and the server may
    # have acted on part of it, whatever came back (even a 503 or a refused retry).
    NoReplay.BODY_STARTED: (False, False),
}

# (attempt, max_retries, attempts left?)
# max_retries=N allows N retries after the first attempt: attempts 1..N may be retried.
BUDGETS = [(1, 2, True), (2, 2, True), (3, 2, False), (1, 0, False), (4, 4, True), (5, 4, False)]


def test_table_covers_every_failure_kind() -> None:
    assert set(Failure) | set(NoReplay) <= set(TABLE)


@pytest.mark.parametrize(
    ("outcome", "idempotent", "budget"),
    list(itertools.product(TABLE, [True, False], BUDGETS)),
    ids=lambda v: getattr(v, "name", str(v)),
)
def test_retry_decision_table(
    outcome: Failure | NoReplay | int, idempotent: bool, budget: tuple[int, int, bool]
) -> None:
    attempt, max_retries, left = budget
    retried_if_idempotent, retried_if_not = TABLE[outcome]
    expected = left and (retried_if_idempotent if idempotent else retried_if_not)
    delay = retry_delay(
        outcome, idempotent=idempotent, attempt=attempt, max_retries=max_retries, rand=lambda: 0.5
    )
    if not expected:
        assert delay is None
        return
    assert delay is not None
    # Equal jitter with rand=0.5: three quarters of the attempt's ceiling.
    ceiling = min(8.0, 0.5 * 2 ** (attempt - 1))
    want = 0.75 * ceiling
    if outcome == 429:
        want = max(want, RATE_LIMIT_MIN_DELAY)
    assert delay == pytest.approx(want)


@pytest.mark.parametrize("outcome", [o for o, (_, not_idem) in TABLE.items() if not not_idem])
def test_a_click_is_never_sent_twice_when_it_may_have_run(
    outcome: Failure | NoReplay | int,
) -> None:
    """Whatever the budget, a non-idempotent request that may have run is not resent."""
    for attempt in range(1, 12):
        assert retry_delay(outcome, idempotent=False, attempt=attempt, max_retries=10) is None


def test_retry_after_wins_and_is_capped() -> None:
    for status in (429, 503):
        got = retry_delay(status, idempotent=False, attempt=1, max_retries=2, retry_after=7.0)
        assert got == 7.0
        capped = retry_delay(status, idempotent=True, attempt=1, max_retries=2, retry_after=1e6)
        assert capped == MAX_RETRY_AFTER
    # Retry-After: 0 on a 429 is honoured (the server said "now"); without it, >= 1 s.
    assert retry_delay(429, idempotent=True, attempt=1, max_retries=1, retry_after=0.0) == 0.0
    assert retry_delay(429, idempotent=True, attempt=1, max_retries=1, rand=lambda: 0.0) == 1.0
    # Retry-After never makes a non-retryable outcome retryable.
    assert retry_delay(500, idempotent=False, attempt=1, max_retries=2, retry_after=1.0) is None
    started = NoReplay.BODY_STARTED
    assert retry_delay(started, idempotent=True, attempt=1, max_retries=2, retry_after=0) is None


def test_equal_jitter_bounds_and_cap() -> None:
    for attempt in range(1, 40):
        ceiling = min(8.0, 0.5 * 2 ** (attempt - 1))
        low = backoff_delay(attempt, rand=lambda: 0.0)
        high = backoff_delay(attempt, rand=lambda: 0.999999)
        assert low == pytest.approx(ceiling / 2)
        assert ceiling / 2 <= high <= ceiling
    assert backoff_delay(10_000) <= 8.0  # no overflow on absurd budgets
