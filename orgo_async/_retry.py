"""Retry policy as plain functions: what may be sent again, and after how long. No I/O.

The promise this module keeps is **never turn one click into two**. Every failed attempt
ends in an outcome, and :func:`retry_delay` decides from that outcome alone (plus whether
the route is idempotent and how many attempts are left) whether to send again:

* the connection could not be opened (refused, DNS, connect timeout): nothing reached the
  server, so any request may be sent again;
* the server said it did not process the request (429, 503): any request may be sent
  again;
* a timeout after the request was written, a connection dropped after it was written,
  or a transient status that may come after the server acted (408, 500, 502, 504): only
  idempotent requests are sent again; for a click the error goes to the caller;
* a TLS failure (a certificate problem does not fix itself) and every other status:
  never;
* whatever happened, once a streamed request body started to go out
  (:attr:`NoReplay.BODY_STARTED`): never. The server may have received and acted on
  part of an upload, and an iterator cannot be rewound. (A streamed *response*, once
  handed to the caller, is past this module altogether: the pipeline has returned and
  a failure while reading it is the caller's error, never resent.)

Delays: "equal jitter" backoff (half fixed, half random) from :data:`RETRY_BASE_DELAY`,
doubling per attempt, capped at :data:`RETRY_MAX_DELAY`; a server's ``Retry-After`` wins
when present (capped at :data:`MAX_RETRY_AFTER`); a 429 without one waits at least
:data:`RATE_LIMIT_MIN_DELAY`.
"""

from __future__ import annotations

import enum
import math
import time
from collections.abc import Callable
from typing import Final

__all__ = [
    "MAX_RETRY_AFTER",
    "NOT_PROCESSED",
    "RATE_LIMIT_MIN_DELAY",
    "RETRY_BASE_DELAY",
    "RETRY_MAX_DELAY",
    "TRANSIENT",
    "Failure",
    "NoReplay",
    "backoff_delay",
    "may_have_acted",
    "parse_retry_after",
    "retry_delay",
]

# What the code does, and where it departs from the reference (orgo-api.md §1.6), which
# recommends for 429 "1 s, doubling, capped at 60 s" and for 503 "1 s, 2 s, 4 s":
# * without Retry-After, attempt n waits a random time in [c/2, c] with
#   c = min(8 s, 0.5 s * 2**(n-1)): 0.25-0.5 s, 0.5-1 s, 1-2 s, 2-4 s, 4-8 s, 4-8 s...
#   Shorter than the reference's 503 schedule on purpose: the default budget (two
#   retries) is for blips, and costs a caller about a second, not seven; a server that
#   wants a longer pause says so with Retry-After, which wins.
# * a 429 without Retry-After waits at least RATE_LIMIT_MIN_DELAY (the reference's
#   first step), then grows the same way but stops at 8 s rather than 60 s: the wait
#   holds back every request of the client (the governor), so a long cap would stall a
#   whole fleet on one 429, and each retry that is still limited backs off again.
RETRY_BASE_DELAY: Final = 0.5
RETRY_MAX_DELAY: Final = 8.0
RATE_LIMIT_MIN_DELAY: Final = 1.0
# A server asking for more than a minute is clamped: a stuck caller is worse than an
# early retry that gets another 429.
MAX_RETRY_AFTER: Final = 60.0

# The server said it did not process the request: safe to send again, whatever it was.
NOT_PROCESSED: Final = frozenset({429, 503})
# Transient statuses that may come after the server acted: idempotent requests only.
TRANSIENT: Final = frozenset({408, 429, 500, 502, 503, 504})


class Failure(enum.Enum):
    """How one send attempt failed without an HTTP answer."""

    CONNECT = "connect"
    """The connection could not be opened (refused, unreachable, DNS): never sent."""
    CONNECT_TIMEOUT = "connect_timeout"
    """Opening the connection timed out: never sent."""
    TLS = "tls"
    """The TLS handshake failed (certificate, protocol): never sent, and retrying won't help."""
    TIMEOUT = "timeout"
    """The answer did not come in time after the request was (maybe) written."""
    DROPPED = "dropped"
    """The connection broke after the request was (maybe) written: reset, cut mid-body."""


class NoReplay(enum.Enum):
    """Facts that forbid sending a request again, whatever the answer or failure was."""

    BODY_STARTED = "body_started"
    """A streamed request body started to go out: it cannot be replayed, and the server
    may have acted on part of it."""


# Failures where the request provably never reached the server.
_NEVER_SENT: Final = frozenset({Failure.CONNECT, Failure.CONNECT_TIMEOUT})
# Failures where it may have: the server may have acted on it.
_MAYBE_SENT: Final = frozenset({Failure.TIMEOUT, Failure.DROPPED})


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date).

    ``None`` when absent or unreadable; never negative, never infinite, never raises.

    >>> parse_retry_after("3")
    3.0
    >>> parse_retry_after("soon") is None
    True
    """
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        import email.utils  # here: it costs more to import than the rest of the package

        try:
            when = email.utils.parsedate_to_datetime(value)
            seconds = when.timestamp() - time.time()
        except (TypeError, ValueError, OverflowError, OSError, IndexError):
            return None
    if not math.isfinite(seconds):  # "nan", "inf", "1e999"
        return None
    return max(0.0, seconds)


def backoff_delay(
    attempt: int,
    retry_after: float | None = None,
    *,
    minimum: float = 0.0,
    rand: Callable[[], float] | None = None,
) -> float:
    """Seconds to wait before attempt ``attempt + 1``.

    ``Retry-After`` (capped) when the server sent one; otherwise equal jitter: half of
    ``min(RETRY_MAX_DELAY, RETRY_BASE_DELAY * 2**(attempt-1))`` fixed and half random,
    so concurrent retries spread out but never collapse to zero. ``rand`` is the source
    of randomness in [0, 1) (default :func:`random.random`; tests pass a constant).
    """
    if retry_after is not None:
        return min(retry_after, MAX_RETRY_AFTER)
    if rand is None:
        import random  # here: only a retry needs it, and import orgo_async stays cheap

        rand = random.random
    ceiling = min(RETRY_MAX_DELAY, RETRY_BASE_DELAY * 2.0 ** min(attempt - 1, 32))
    return max(minimum, ceiling / 2 + rand() * ceiling / 2)


def retry_delay(
    outcome: Failure | NoReplay | int,
    *,
    idempotent: bool,
    attempt: int,
    max_retries: int,
    retry_after: float | None = None,
    rand: Callable[[], float] | None = None,
) -> float | None:
    """Whether to send a failed request again: the delay to wait, or ``None`` to raise.

    ``outcome`` is a :class:`Failure`, the HTTP status of a non-success answer, or a
    :class:`NoReplay` fact that overrides both;
    ``attempt`` counts from 1 and ``max_retries`` is the number of retries allowed after
    the first attempt.

    >>> retry_delay(500, idempotent=False, attempt=1, max_retries=2) is None  # a click
    True
    >>> retry_delay(Failure.CONNECT, idempotent=False, attempt=1, max_retries=2, rand=lambda: 0)
    0.25
    """
    if attempt > max_retries or isinstance(outcome, NoReplay):
        return None
    if isinstance(outcome, Failure):
        if outcome in _NEVER_SENT or (idempotent and outcome in _MAYBE_SENT):
            return backoff_delay(attempt, rand=rand)
        return None
    if outcome in TRANSIENT and (idempotent or outcome in NOT_PROCESSED):
        minimum = RATE_LIMIT_MIN_DELAY if outcome == 429 else 0.0
        return backoff_delay(attempt, retry_after, minimum=minimum, rand=rand)
    return None


def may_have_acted(outcome: Failure | NoReplay | int) -> bool:
    """Whether the server may have carried out a request whose attempt ended in
    ``outcome``: the answer was lost or cut (:attr:`Failure.TIMEOUT`,
    :attr:`Failure.DROPPED`) or a transient status that can come after the work (408,
    500, 502, 504; never 429 or 503, which say nothing was processed).

    >>> may_have_acted(Failure.DROPPED), may_have_acted(503), may_have_acted(Failure.CONNECT)
    (True, False, False)
    """
    if isinstance(outcome, Failure):
        return outcome in _MAYBE_SENT
    if isinstance(outcome, NoReplay):
        return True
    return outcome in TRANSIENT and outcome not in NOT_PROCESSED
