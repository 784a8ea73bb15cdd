"""Bad input at the edges, as properties (Hypothesis): everything in ``_protocol`` that
reads what the network sends either returns a value of the documented shape or raises
the one documented error, for any input.

* frame decoders (terminal, audio, events): any ``str``/``bytes`` gives a message, an
  ``Unknown`` or ``ChannelProtocolError``;
* close codes and reasons: any code and any reason (invalid UTF-8 cut anywhere) give a
  typed ``WebSocketError`` with a bounded, printable message;
* URL building: any ``connection_url``/``hostname``/``instance_id`` gives a ws(s) URL
  under ``/desktops/{id}/ws/`` or ``ValueError``; ``redact_url`` never shows the token;
* the audio WAV/PCM helpers.

Deterministic: ``derandomize`` and no example database, so CI runs the same examples
every time; a few hundred examples per property keep the file at a few seconds.
"""

from __future__ import annotations

import io
import json
import re
import unicodedata
import wave
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from orgo_async import (
    ChannelProtocolError,
    ChannelStartError,
    ComputerGoingAwayError,
    ComputerNotRunningError,
    TokenRejectedError,
    WebSocketError,
)
from orgo_async._protocol import audio, close_codes, events, terminal, urls
from orgo_async._protocol.close_codes import MAX_REASON, CloseKind
from orgo_async._protocol.codec import Unknown, tags_of
from orgo_async._protocol.lifecycle import failure_from_close, failure_from_status

PROPERTY = settings(
    derandomize=True,
    database=None,
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
# A bound on any error message: prefix + a 123-character reason or a 200-character excerpt.
MESSAGE_BOUND = 600
CHANNELS = ("terminal", "audio", "events", "websockify")

# -- strategies ----------------------------------------------------------------------------

# Any text, lone surrogates included (no socket delivers those, other callers might);
# drawn on purpose, as the plain strategy almost never produces one.
ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=64) | st.tuples(
    st.text(max_size=16), st.characters(categories=["Cs"]), st.text(max_size=16)
).map("".join)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=16) | ANY_TEXT,
    lambda kids: (
        st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4)
    ),
    max_leaves=8,
)


def objects(tags: frozenset[str], fields: tuple[str, ...]) -> st.SearchStrategy[dict[str, Any]]:
    """JSON objects shaped like the channel's messages, with anything in the fields."""
    kind = st.sampled_from(sorted(tags)) | st.text(max_size=12) | JSON
    value = JSON | st.integers() | st.text(max_size=32)
    return st.fixed_dictionaries({"type": kind}, optional=dict.fromkeys(fields, value)) | (
        st.dictionaries(st.text(max_size=8), JSON, max_size=4)
    )


def frames(objs: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[str | bytes]:
    encoded = objs.map(json.dumps) | objs.map(lambda o: json.dumps(o, ensure_ascii=False))
    return st.one_of(
        encoded,
        encoded.map(lambda text: text.encode("utf-8", "surrogatepass")),  # maybe not UTF-8
        st.tuples(encoded, st.integers(0, 64)).map(lambda t: t[0][: t[1]]),  # truncated
        JSON.map(json.dumps),  # not an object
        ANY_TEXT,
        st.binary(max_size=64),
    )


TERMINAL_TAGS = tags_of(terminal.ServerMessage)
AUDIO_TAGS = tags_of(audio.ServerMessage)
EVENT_FRAMES = objects(
    frozenset({"subscribed", "unsubscribed", "pong", "error"}), ("message",)
) | st.fixed_dictionaries(
    {
        "type": st.just("event"),
        "event": objects(events.EVENT_TYPES, ("data", "timestamp"))
        | st.fixed_dictionaries(
            {
                "type": st.sampled_from(sorted(events.EVENT_TYPES)) | st.text(max_size=12),
                "timestamp": st.text(max_size=30) | st.just("2025-01-31T12:00:00Z") | JSON,
                "data": st.dictionaries(st.text(max_size=10), JSON, max_size=4) | JSON,
            }
        ),
    }
)


def check_protocol_error(error: ChannelProtocolError, channel: str) -> None:
    assert error.channel == channel
    assert str(error).startswith(f"{channel}: ")
    assert len(str(error)) <= MESSAGE_BOUND


# -- frame decoders ------------------------------------------------------------------------


@PROPERTY
@given(frames(objects(TERMINAL_TAGS, ("data", "message", "code"))))
@example("\ud800")  # a lone surrogate once escaped as UnicodeEncodeError
@example('{"type":"output","data":"\ud800"}')
@example(b'{"type":"exit","code":99999999999999999999}')
def test_terminal_decoder_is_total(frame: str | bytes) -> None:
    try:
        msg = terminal.decoder(4096).decode(frame)
    except ChannelProtocolError as e:
        check_protocol_error(e, "terminal")
        return
    assert isinstance(
        msg, terminal.Output | terminal.Error | terminal.Exit | terminal.Pong | Unknown
    )
    if isinstance(msg, Unknown):
        assert msg.type not in TERMINAL_TAGS and msg.data["type"] == msg.type
    elif isinstance(msg, terminal.Exit):
        assert isinstance(msg.code, int)


@PROPERTY
@given(st.text(max_size=200), st.integers(-(2**63), 2**63 - 1))
def test_terminal_decoder_round_trips_valid_messages(data: str, code: int) -> None:
    decoder = terminal.decoder()
    assert decoder.decode(json.dumps({"type": "output", "data": data})) == terminal.Output(data)
    assert decoder.decode(json.dumps({"type": "exit", "code": code})) == terminal.Exit(code)


@PROPERTY
@given(frames(objects(AUDIO_TAGS, ("sample_rate", "channels", "message"))))
def test_audio_decoder_is_total(frame: str | bytes) -> None:
    try:
        msg = audio.decoder(4096).decode(frame)
    except ChannelProtocolError as e:
        check_protocol_error(e, "audio")
        return
    assert isinstance(msg, audio.Started | audio.Pong | audio.Error | Unknown)
    if isinstance(msg, audio.Started):
        # What the channel does next with a negotiated format: accept it or refuse it
        # with the documented errors (turned into a protocol error by the channel).
        try:
            audio.check_params(msg.sample_rate, msg.channels)
        except (TypeError, ValueError) as e:
            assert str(e)


@PROPERTY
@given(frames(EVENT_FRAMES))
@example('{"type":"event","event":{"type":"new_kind","timestamp":"\ud800","data":{}}}')
def test_events_decoder_is_total(frame: str | bytes) -> None:
    try:
        msg = events.decoder(4096).decode(frame)
    except ChannelProtocolError as e:
        check_protocol_error(e, "events")
        return
    control = events.Subscribed | events.Unsubscribed | events.Pong | events.Error
    assert isinstance(msg, control | events.UnknownEvent | Unknown) or (
        msg.type in events.EVENT_TYPES
    )
    if isinstance(msg, events.UnknownEvent):
        assert msg.type not in events.EVENT_TYPES and isinstance(msg.data, dict)
    if isinstance(msg, Unknown):
        assert msg.type not in {"event", "subscribed", "unsubscribed", "pong", "error"}


@PROPERTY
@given(st.sampled_from(["terminal", "audio", "events"]), st.integers(1024, 4096), st.data())
def test_oversized_frames_are_refused_before_parsing(
    channel: str, max_size: int, data: st.DataObject
) -> None:
    decoders: dict[str, Callable[[int], Any]] = {
        "terminal": terminal.decoder,
        "audio": audio.decoder,
        "events": events.decoder,
    }
    decoder = decoders[channel](max_size)
    extra = data.draw(st.integers(1, 64))
    frame = '{"type":"pong","pad":"' + "x" * max_size + '"}'
    frame = frame[: max_size + extra] if data.draw(st.booleans()) else frame
    try:
        decoder.decode(frame)
    except ChannelProtocolError as e:
        assert "max_size" in str(e)
    else:
        raise AssertionError("an oversized frame was decoded")


# -- close codes and reasons -----------------------------------------------------------------

_TYPED = {
    4401: TokenRejectedError,
    4404: ComputerNotRunningError,
    4500: ChannelStartError,
    1001: ComputerGoingAwayError,
    1002: ChannelProtocolError,
    1003: ChannelProtocolError,
    1007: ChannelProtocolError,
    1009: ChannelProtocolError,
}
CODES = st.none() | st.integers() | st.sampled_from(sorted(_TYPED)) | st.integers(0, 0xFFFF)


def check_printable_and_bounded(text: str) -> None:
    assert len(text) <= MESSAGE_BOUND
    assert not any(unicodedata.category(c) in ("Cc", "Cs") for c in text), text
    text.encode("utf-8")  # no lone surrogates: safe to log anywhere


@PROPERTY
@given(
    st.sampled_from(CHANNELS), CODES, ANY_TEXT | st.text(min_size=100, max_size=400) | st.binary()
)
@example("terminal", None, "\ud800")  # once shown as is in the message
@example("audio", 10**5000, "x")  # str() of such an int raises ValueError
def test_any_close_gives_a_typed_bounded_error(
    channel: str, code: int | None, reason: str | bytes
) -> None:
    error = close_codes.error_for(channel, code, reason)
    assert type(error) is _TYPED.get(code or 0, WebSocketError)
    assert error.channel == channel and error.code == code
    assert str(error).startswith(f"{channel}: ")
    check_printable_and_bounded(str(error))
    assert error.reason is None or 0 < len(error.reason) <= MAX_REASON
    assert isinstance(close_codes.classify(code), CloseKind)


@PROPERTY
@given(st.text(min_size=1, max_size=80), st.data())
def test_a_reason_cut_at_any_byte_keeps_what_decodes(text: str, data: st.DataObject) -> None:
    raw = text.encode("utf-8")
    cut = data.draw(st.integers(0, len(raw)))
    error = close_codes.error_for("audio", 4000, raw[:cut])
    shown = error.reason or ""
    check_printable_and_bounded(shown)
    prefix = raw[:cut].decode("utf-8", "replace")  # a cut mid-character ends in U+FFFD
    if not re.search(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]", prefix):
        assert shown == prefix
    else:
        assert len(shown) == len(prefix)


@PROPERTY
@given(
    st.sampled_from(CHANNELS),
    st.none() | st.tuples(st.integers(), ANY_TEXT | st.binary(max_size=200)),
    st.none() | st.integers(),
    st.booleans(),
)
def test_any_closed_connection_gives_a_typed_failure(
    channel: str, received: tuple[int, str | bytes] | None, sent: int | None, killed: bool
) -> None:
    failure = failure_from_close(
        channel,
        received=received,
        sent_code=sent,
        heartbeat_killed=killed,
        heartbeat_timeout=10.0,
        max_size=1 << 20,
    )
    assert isinstance(failure.kind, CloseKind)
    assert isinstance(failure.error, WebSocketError) and failure.error.channel == channel
    check_printable_and_bounded(str(failure.error))


@PROPERTY
@given(st.sampled_from(CHANNELS), st.integers())
def test_any_refused_upgrade_gives_a_typed_failure(channel: str, status: int) -> None:
    failure = failure_from_status(channel, status)
    assert isinstance(failure.kind, CloseKind)
    assert isinstance(failure.error, WebSocketError)
    check_printable_and_bounded(str(failure.error))
    if status in (401, 403):
        assert isinstance(failure.error, TokenRejectedError)


# -- URL building ----------------------------------------------------------------------------

IDS = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,20}", fullmatch=True) | ANY_TEXT
HOSTS = (
    st.from_regex(r"[a-z0-9.-]{1,20}(:[0-9]{1,5})?", fullmatch=True)
    | st.sampled_from(["www.orgo.ai", "[::1]:8080", "127.0.0.1:65535", "h:0"])
    | ANY_TEXT
)
CONNECTION_URLS = (
    st.none()
    | ANY_TEXT
    | st.builds(
        "{}://{}{}{}{}".format,
        st.sampled_from(["https", "http", "wss", "ws", "HTTPS", "ftp", ""]),
        HOSTS | st.just("user:pw@host"),
        st.sampled_from(["/desktops/", "/desktops//", "/desktop/", "/x/desktops/", "/", ""]),
        IDS,
        st.sampled_from(["", "/", "//", "?token=leak", "#frag", "/ws", "/.."]),
    )
)
TOKENS = st.text(min_size=1, max_size=40)
QUERIES = st.dictionaries(
    st.sampled_from(["cols", "rows", "sample_rate", "channels"]), st.integers(), max_size=2
)


@PROPERTY
@given(
    CONNECTION_URLS, st.none() | HOSTS, st.none() | IDS, st.sampled_from(CHANNELS), TOKENS, QUERIES
)
@example(None, "www.orgo.ai\n", "a3881618", "audio", "pw", {})  # `$` matched before \n
@example(None, "www.orgo.ai", "a3881618\n", "audio", "pw", {})
@example("https://h/x/y", None, None, "terminal", "pw", {})  # once accepted: not /desktops/
@example("https://u:p@h/desktops/a", None, None, "terminal", "pw", {})
def test_any_computer_gives_a_desktops_url_or_value_error(
    connection_url: str | None,
    hostname: str | None,
    instance_id: str | None,
    channel: str,
    token: str,
    query: dict[str, int],
) -> None:
    try:
        base = urls.connection_base(connection_url, hostname, instance_id)
    except ValueError:
        return
    url = urls.ws_url(base, channel, token, query)
    parts = urlsplit(url)
    assert parts.scheme in ("ws", "wss")
    segments = parts.path.split("/")
    assert segments[:2] == ["", "desktops"], url
    assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", segments[2]), url
    assert "/".join(segments[3:]) == urls.CHANNEL_PATHS[channel].lstrip("/")
    assert not parts.fragment and "@" not in parts.netloc
    assert parse_qs(parts.query, keep_blank_values=True)["token"] == [token]

    shown = urls.redact_url(url)
    assert shown == url.replace("token=" + quote(token, safe=""), "token=***", 1)
    assert parse_qs(urlsplit(shown).query, keep_blank_values=True)["token"] == ["***"]


# A raw query value (as ws_url never writes it, but a log line might hold): anything
# but the two characters that end a query value.
RAW_TOKENS = st.text(st.characters(exclude_characters="&#"), min_size=8, max_size=40)


@PROPERTY
@given(ANY_TEXT, RAW_TOKENS, ANY_TEXT)
def test_redact_url_never_shows_a_token(prefix: str, token: str, suffix: str) -> None:
    text = f"{prefix}?a=1&token={token}&b=2#{suffix}"
    shown = urls.redact_url(text)
    # Every token= value left in the output is the mask, whatever surrounds it...
    assert all(v == "***" for v in re.findall(r"(?:^|[?&])token=([^&#]*)", shown))
    # ...and the value we put in is gone from where it was.
    assert "&token=***&b=2#" in shown
    assert urls.redact_url(shown) == shown  # idempotent


@PROPERTY
@given(ANY_TEXT | st.from_regex(r"[a-z/.%]{0,20}", fullmatch=True), IDS)
def test_proxy_path_stays_inside_the_proxy(endpoint: str, instance_id: str) -> None:
    try:
        path = urls.proxy_path(instance_id, endpoint)
    except (ValueError, UnicodeEncodeError):
        return
    assert path.startswith(f"/desktops/{instance_id}/proxy/")
    rest = path.split("/proxy/", 1)[1]
    assert all(s not in (".", "..") for s in rest.split("/"))
    assert "?" not in path and "#" not in path


# -- audio PCM / WAV helpers -----------------------------------------------------------------


@PROPERTY
@given(st.integers(8000, 192000), st.sampled_from([1, 2]), st.integers(0, 500))
def test_wav_header_matches_stdlib_wave(rate: int, channels: int, frames: int) -> None:
    data = b"\x01\x00" * channels * frames
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(audio.SAMPLE_WIDTH)
        w.setframerate(rate)
        w.writeframes(data)
    assert buf.getvalue() == audio.wav_header(rate, channels, len(data)) + data


@PROPERTY
@given(st.one_of(st.integers(), st.floats(), st.booleans(), st.text(max_size=5), st.none()))
@example(1.0)  # channels=1.0 once passed (1.0 in (1, 2))
@example(2**40)  # a RIFF size field overflow once raised struct.error
def test_audio_params_accept_only_documented_formats(value: Any) -> None:
    for rate, channels in ((value, 1), (24000, value)):
        try:
            audio.check_params(rate, channels)
        except (TypeError, ValueError):
            ok = False
        else:
            ok = True
        valid_rate = type(rate) is int and 8000 <= rate <= 192000
        assert ok == (valid_rate and type(channels) is int and channels in (1, 2))
    try:
        header = audio.wav_header(24000, 1, value)
    except (TypeError, ValueError):
        return
    assert len(header) == 44 and type(value) is int and 0 <= value <= audio.MAX_WAV_DATA


@PROPERTY
@given(
    st.floats(allow_nan=True, allow_infinity=True) | st.integers(-10, 10**6),
    st.integers(8000, 192000),
    st.sampled_from([1, 2]),
)
@example(0.0, 11913, 2)  # frame_bytes was 953 here: not whole 4-byte sample frames
@example(float("nan"), 24000, 1)
def test_bytes_for_seconds_is_whole_frames(seconds: float, rate: int, channels: int) -> None:
    try:
        n = audio.bytes_for_seconds(seconds, rate, channels)
    except ValueError:
        assert not 0 <= seconds < float("inf")
        return
    assert n % (audio.SAMPLE_WIDTH * channels) == 0
    assert 0 <= n <= seconds * rate * audio.SAMPLE_WIDTH * channels
    assert audio.frame_bytes(rate, channels) % (audio.SAMPLE_WIDTH * channels) == 0
