"""The scrubber: a secret-shaped field's value never survives, however the text is cut.

Bodies are built as noise + a secret field in one of the shapes servers and proxies
produce + noise, then cut at any offset; the secret uses characters the noise never
contains, so any visible fragment of it (two characters are enough) is caught.
"""

from __future__ import annotations

import re

from hypothesis import example, given
from hypothesis import strategies as st

from orgo_async._errors import excerpt
from orgo_async._secrets import scrub

SECRET_ALPHABET = "QXZJKWVY23456789"
secrets_ = st.text(alphabet=SECRET_ALPHABET, min_size=6, max_size=48).map(lambda s: "QX" + s)

_NAMES = ["vnc_password", "password", "token", "api_key", "apiKey", "secret", "authorization",
          "access_token", "client_secret", "X-Api-Key", "refresh_token"]  # fmt: skip
names = st.sampled_from(_NAMES).flatmap(
    lambda n: st.sampled_from([n, n.upper(), n.lower(), n[0].upper() + n[1:]])
)
# How a field is written: JSON, pretty JSON, escaped once or twice inside a JSON string,
# Python repr, form/query, header.
SHAPES = [
    '"{k}":"{v}"',
    '"{k}" :  "{v}"',
    '\\"{k}\\":\\"{v}\\"',
    '\\\\\\"{k}\\\\\\":\\\\\\"{v}\\\\\\"',
    "'{k}': '{v}'",
    "{k}={v}&",
    "{k}: {v}\r\n",
    "{k}: Bearer {v}\r\n",
]
_KEYWORDS = re.compile(r"password|passwd|token|api.?key|secret|authorization|bearer", re.I)
noise = st.text(
    alphabet=st.characters(blacklist_characters=SECRET_ALPHABET, blacklist_categories=["Cs"]),
    max_size=80,
).filter(lambda t: _KEYWORDS.search(t) is None)


@given(noise, names, st.sampled_from(SHAPES), secrets_, noise, st.data())
@example(
    before='{"id": "c1", ',
    name="vnc_password",
    shape='"{k}":"{v}"',
    secret="QX2345",
    after="}",
    data=None,
)
def test_secret_value_never_survives_any_cut(
    before: str, name: str, shape: str, secret: str, after: str, data: st.DataObject | None
) -> None:
    field = shape.format(k=name, v=secret)
    body = before + field + after
    start = len(before)
    cut = len(body) if data is None else data.draw(st.integers(start, len(body)), label="cut")
    text = body[:cut]
    for shown in (scrub(text), excerpt(text, limit=10_000), excerpt(text.encode(), limit=10_000)):
        assert secret[:2] not in shown, (text, shown)


@given(st.text(max_size=300))
def test_scrub_is_idempotent_and_keeps_secret_free_text(text: str) -> None:
    once = scrub(text)
    assert scrub(once) == once
    if _KEYWORDS.search(text) is None:
        assert once == text  # nothing secret-shaped: nothing changes


@given(st.binary(max_size=400), st.integers(0, 300))
def test_excerpt_of_any_bytes_is_short_printable_text(body: bytes, limit: int) -> None:
    shown = excerpt(body, limit)
    assert isinstance(shown, str) and len(shown) <= limit + 1


def test_latin1_garbage_around_the_field() -> None:
    body = b'{"n": "\xe9\xff\xfe", "vnc_password": "QX7777ZZ' + b"\xe9" * 3
    assert "QX" not in excerpt(body)


def test_long_runs_do_not_make_it_slow() -> None:
    """The patterns are linear: a megabyte of key-like text is scrubbed, not hung on."""
    body = "token" * 200_000 + "password=" * 100_000 + "\\" * 100_000
    assert len(scrub(body)) > 0
