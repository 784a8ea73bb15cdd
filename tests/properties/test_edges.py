"""Bad input at the edges: Retry-After headers and ids that go into URL paths."""

from __future__ import annotations

import email.utils
import math
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import unquote

from hypothesis import example, given
from hypothesis import strategies as st

from orgo_async._retry import parse_retry_after
from orgo_async._routes import check_id

# -- Retry-After ------------------------------------------------------------------------

http_dates = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
).map(lambda d: email.utils.format_datetime(d, usegmt=True))
numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.sampled_from(["nan", "-nan", "inf", "-inf", "1e999", "-0", "0x10", "1_000", " 5 "]),
)
retry_after_values = st.one_of(
    st.none(),
    st.text(),
    numbers,
    http_dates,
    # Date-shaped garbage: real field names with broken parts.
    st.builds(
        "{}, {} {} {} {}:{}:{} {}".format,
        st.sampled_from(["Mon", "Wed", "Xyz", ""]),
        st.integers(-5, 99),
        st.sampled_from(["Jan", "Oct", "Foo"]),
        st.integers(-1, 100_000),
        st.integers(-1, 99),
        st.integers(-1, 99),
        st.integers(-1, 99),
        st.sampled_from(["GMT", "+0000", "-9999", "EST", ""]),
    ),
)


@given(retry_after_values)
@example("Wed, 21 Oct 2015 07:28:00 GMT")
@example("Fri, 31 Dec 9999 23:59:59 GMT")
@example("1e999")
@example("Mon, 01 Jan 0001 00:00:00 -0000")
def test_retry_after_is_none_or_a_finite_non_negative_float(value: str | None) -> None:
    got = parse_retry_after(value)
    assert got is None or (isinstance(got, float) and math.isfinite(got) and got >= 0.0)


@given(st.floats(min_value=0, max_value=1e9, allow_nan=False))
def test_retry_after_seconds_are_read_as_given(seconds: float) -> None:
    assert parse_retry_after(repr(seconds)) == seconds


@given(st.integers(min_value=5, max_value=10**6))
def test_retry_after_future_date_is_about_that_far(seconds: int) -> None:
    when = datetime.now(UTC) + timedelta(seconds=seconds)
    got = parse_retry_after(email.utils.format_datetime(when, usegmt=True))
    assert got is not None and seconds - 2 <= got <= seconds + 1  # whole seconds on the wire


# -- ids in URL paths ---------------------------------------------------------------------

awkward_text = st.text(
    alphabet=st.one_of(
        st.sampled_from(list("/\\?#%.~-_ \t\n\r\x00\x7f\u2028\u200b\ufeff&=;:@+,'\"<>")),
        st.characters(),
    ),
    max_size=300,
)
ids = st.one_of(
    st.text(),
    awkward_text,
    st.uuids().map(str),
    st.sampled_from(["", ".", "..", "...", "./x", "x/..", "%2e%2e", "a" * 256, "a" * 257]),
    st.integers(),
    st.none(),
    st.binary(),
    st.lists(st.text(), max_size=2),
    st.builds(object),
)


@given(ids)
@example("..")
@example("%2F")
@example("ü/")
def test_check_id_gives_one_safe_segment_or_a_clear_error(value: Any) -> None:
    try:
        got = check_id(value)
    except TypeError:
        assert not isinstance(value, str)
        return
    except ValueError:
        assert isinstance(value, str)
        return
    assert isinstance(value, str) and isinstance(got, str)
    for bad in ("/", "?", "#", "\\"):
        assert bad not in got
    assert got not in ("", ".", "..")
    assert all(ord(c) > 0x20 and ord(c) != 0x7F for c in got)
    # The server sees exactly the id: quoting is undone by percent-decoding, and the
    # decoded segment still holds no separator.
    assert unquote(got) == value
    assert "/" not in unquote(got) and unquote(got) not in (".", "..")


def test_timezone_aware_dates_in_other_offsets() -> None:
    """HTTP-dates are GMT, but a server sending an offset is still read (not refused)."""
    when = datetime.now(timezone(timedelta(hours=5))) + timedelta(seconds=100)
    got = parse_retry_after(email.utils.format_datetime(when))
    assert got is not None and 97 <= got <= 101
