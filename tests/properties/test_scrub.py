"""The scrubber: a secret-shaped field's value never survives, however the text is cut,
and a field whose name only contains a secret word keeps its value.

Bodies are built as noise + a secret field in one of the shapes servers and proxies
produce + noise, then cut at any offset; the secret uses characters the noise never
contains, so any visible fragment of it (two characters are enough) is caught. The same
shapes with innocent names (``max_tokens``, ``secret_count``...) must come out whole.
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
          "access_token", "client_secret", "X-Api-Key", "refresh_token", "vncPassword",
          "accessToken", "x-anthropic-key", "anthropic_api_key", "password2"]  # fmt: skip
# Names that contain a secret word without being secrets: their values are counts and
# labels an error message needs.
_INNOCENT = ["max_tokens", "tokens_used", "secret_count", "token_type", "password_hint",
             "maxTokens", "num_tokens", "secrets_found", "api_key_id", "authorization_url",
             "completion_tokens"]  # fmt: skip
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


@given(
    noise,
    st.sampled_from(_INNOCENT),
    st.sampled_from([s for s in SHAPES if "Bearer" not in s]),
    secrets_,
    noise,
)
def test_innocent_names_keep_their_values(
    before: str, name: str, shape: str, value: str, after: str
) -> None:
    text = before + shape.format(k=name, v=value) + after
    assert scrub(text) == text
    assert value in excerpt(text, limit=10_000)


def test_negative_cases_written_out() -> None:
    body = (
        '{"model": "claude", "max_tokens": 1024, "usage": {"tokens_used": 812, '
        '"completion_tokens": 90}, "secret_count": 2, "token_type": "bearer", '
        '"password_hint": "pet name", "maxTokens": 5}'
    )
    assert scrub(body) == body
    assert scrub("GET /v1?max_tokens=50&secret_count=1") == "GET /v1?max_tokens=50&secret_count=1"
    assert scrub("X-Tokens-Used: 12\r\n") == "X-Tokens-Used: 12\r\n"
    # ...while the secret named fields next to them are still hidden.
    mixed = '{"max_tokens": 64, "access_token": "QXABC123", "client_secret": "QXDEF456"}'
    assert scrub(mixed) == '{"max_tokens": 64, "access_token": "***", "client_secret": "***"}'
    header = "x-anthropic-key: QXsk-ant-9\r\nAuthorization: Bearer QXk\r\n"
    assert "QX" not in scrub(header)


def test_names_written_with_json_unicode_escapes() -> None:
    # msgspec/json decode "vnc\u005fpassword" as "vnc_password": the scrubber must too.
    assert scrub(r'{"vnc\u005fpassword": "QX7777ZZ"}') == '{"vnc_password": "***"}'
    assert scrub(r'{"\u0070assword": "QX1"}') == '{"password": "***"}'
    assert scrub(r'{"\u0041pi\u004bey": "QX1"}') == '{"ApiKey": "***"}'
    escaped_twice = r'"{\"vnc\\u005fpassword\": \"QX7777ZZ\"}"'
    assert "QX" not in scrub(escaped_twice)
    assert "QX" not in excerpt(escaped_twice.encode())
    # Text whose escapes hide nothing is left exactly as it was.
    untouched = r'{"name": "\u0041\u00e9", "max\u005ftokens": 3}'
    assert scrub(untouched) == untouched


@given(st.text(max_size=300))
def test_scrub_is_idempotent_and_keeps_secret_free_text(text: str) -> None:
    once = scrub(text)
    assert scrub(once) == once
    if _KEYWORDS.search(text) is None and "\\u" not in text:
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
