"""Secrets as a type: the API key and every ``vnc_password``.

A :class:`Secret` prints as ``'***'`` everywhere (``repr``, ``str``, f-strings, logs) and is
unwrapped with :meth:`Secret.get` only where a header or URL is built for sending. Every
secret value ever wrapped is also remembered (bounded) so :func:`redact` can scrub it from
text that came from elsewhere, such as a server's error message that echoes a token, and
the ``orgo_async`` logger carries a filter that does the same for every record.

:func:`scrub` goes further for text that came from a server: it also hides the values of
secret-shaped fields (``"vnc_password": "..."``, ``token=...``, ``Bearer ...``) that were
never registered, such as a password inside a body too malformed to decode. Every excerpt
of a body that reaches an exception message, a log line or a repr goes through it.
"""

from __future__ import annotations

import logging
import re
from collections import OrderedDict
from typing import Final

__all__ = ["REDACTED", "Secret", "redact", "scrub"]

REDACTED: Final = "***"

# Bounded so a long-lived process that sees many rotations does not grow without limit.
# Eviction is first in, first out by first registration: a value seen again keeps its
# place (see remember), so the oldest registered value is forgotten first.
_MAX_KNOWN = 4096
_known: OrderedDict[str, None] = OrderedDict()


def remember(value: str) -> None:
    """Register a secret value that arrived as a plain str (e.g. in a decoded model)."""
    # Very short values would redact innocent text ("a", "1"); real keys and
    # passwords are far longer. A polled fleet decodes the same passwords again and
    # again: known values return at once (about a quarter of a Computer's decode time
    # otherwise), at the price of not refreshing their place in the bounded registry.
    if len(value) < 6 or value in _known:
        return
    _known[value] = None
    _known.move_to_end(value)
    while len(_known) > _MAX_KNOWN:
        _known.popitem(last=False)


def redact(text: str) -> str:
    """Return ``text`` with every known secret value replaced by ``***``.

    >>> s = Secret("sk_live_abcdef123")
    >>> redact("bad key sk_live_abcdef123")
    'bad key ***'
    """
    if not _known or not text:
        return text
    for value in reversed(_known):
        if value in text:
            text = text.replace(value, REDACTED)
    return text


# Field names that hold secrets, in any case. The whole name (a run of word characters,
# dots and dashes) must END with one of these words, optionally followed by digits:
# vnc_password, vncPassword, token, access_token, api_key, apiKey, X-Api-Key, secret,
# client_secret, authorization, x-anthropic-key, password2 match; max_tokens,
# tokens_used, secret_count, token_type, password_hint do not (their values are counts
# and labels, and hiding them made error messages useless). The lookbehind lets a match
# start only where a name starts, so a long run of word characters is scanned once.
_SECRET_WORD = (
    r"(?:password|passwd|token|api[_-]?key|anthropic[_-]?key|private[_-]?key"
    r"|secret[_-]?key|secret|authorization)"
)
_SECRET_NAME = r"(?<![\w.-])[\w.-]*?" + _SECRET_WORD + r"\d*(?![\w.-])"
_SECRET_FIELD = re.compile(
    # The name, its closing quote (plain, or escaped once or more inside another JSON
    # string), the separator, then the value in one of four forms. Each form also
    # matches a value cut off by the end of the text, so a truncated body hides the
    # part of the password it still holds.
    _SECRET_NAME
    + r"""(?P<sep>\\*["']?\s*[:=]\s*)(?:
          (?P<q1>")(?P<v1>(?:[^"\\]|\\.)+)             # "json string"
        | (?P<q2>\\{1,8}")(?P<v2>(?:(?!\\{1,8}").)+)     # \"escaped json string\"
        | (?P<q3>')(?P<v3>[^']+)                         # 'single quoted'
        | (?P<v4>(?:bearer\s+)?[^\s"'\\,;&}\]<>]+)     # bare: token=abc&, null, 12
    )""",
    re.IGNORECASE | re.VERBOSE | re.DOTALL,
)
# A bearer credential anywhere, e.g. an echoed "Authorization: Bearer sk_live_...".
_BEARER = re.compile(r"(\bbearer\s+)[A-Za-z0-9._~+/=-]+", re.IGNORECASE)


def _hide_value(m: re.Match[str]) -> str:
    # Keep the name, separator and quotes; replace only the value (whichever form matched).
    group = m.lastgroup or "v4"
    text = m.string
    return text[m.start() : m.start(group)] + REDACTED + text[m.end(group) : m.end()]


# A JSON \uXXXX escape (escaped once or more) of a character that can be part of a name.
_ESCAPED_NAME_CHAR = re.compile(r"\\+u(00(?:2[dD]|3[0-9]|[46][1-9a-fA-F]|[57][0-9aA]|5[fF]))")


def _unescape_name_char(m: re.Match[str]) -> str:
    return chr(int(m.group(1), 16))


def _scrub_plain(text: str) -> str:
    text = redact(text)
    text = _BEARER.sub(r"\1" + REDACTED, text)
    return _SECRET_FIELD.sub(_hide_value, text)


def scrub(text: str) -> str:
    """``text`` with known secrets and the values of secret-shaped fields replaced.

    For text that came from elsewhere (a body, a server's message): on top of
    :func:`redact`, hides the value of any field whose name ends with ``password``,
    ``token``, ``api_key``/``apiKey``, ``secret``, ``authorization`` or
    ``anthropic-key`` (JSON, escaped JSON, ``key=value``, headers), and bearer
    credentials, even when the text ends in the middle of the value. Names that only
    contain such a word (``max_tokens``, ``secret_count``) keep their values.

    >>> scrub('{"id": "c1", "vnc_password": "a06db1')
    '{"id": "c1", "vnc_password": "***'
    >>> scrub("GET /ws?token=abc123&cols=80")
    'GET /ws?token=***&cols=80'
    >>> scrub('{"max_tokens": 1024, "tokens_used": 7}')
    '{"max_tokens": 1024, "tokens_used": 7}'

    A name spelled with JSON ``\\u`` escapes (``"vnc\\u005fpassword"``) is recognised too;
    the text is then shown with those letters unescaped. Text without such escapes pays
    one substring test for this.
    """
    if not text:
        return text
    if "\\u" in text:
        plain = _ESCAPED_NAME_CHAR.sub(_unescape_name_char, text)
        if plain != text:
            scrubbed = _scrub_plain(plain)
            if scrubbed != plain:  # something to hide: show the unescaped, scrubbed text
                return scrubbed
    return _scrub_plain(text)


class Secret:
    """A string that never shows itself.

    >>> key = Secret("sk_live_abcdef123")
    >>> key
    Secret('***')
    >>> key.get()
    'sk_live_abcdef123'
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError(f"a secret must be a str, not {type(value).__name__}")
        self._value = value
        remember(value)

    def get(self) -> str:
        """The raw value, for building a header or URL that is sent, never printed."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret({REDACTED!r})"

    def __str__(self) -> str:
        return REDACTED

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Secret):
            return self._value == other._value
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self) -> tuple[object, ...]:
        # Pickling would write the value to disk or a queue in clear text.
        raise TypeError("Secret cannot be pickled")


class RedactingFilter(logging.Filter):
    """A logging filter that scrubs secrets from the rendered message (see :func:`scrub`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = scrub(message)
        if cleaned != message:
            record.msg = cleaned
            record.args = None
        return True


def get_logger(name: str = "orgo_async") -> logging.Logger:
    """The package logger, with the redacting filter installed once."""
    logger = logging.getLogger(name)
    if not any(isinstance(f, RedactingFilter) for f in logger.filters):
        logger.addFilter(RedactingFilter())
    return logger
