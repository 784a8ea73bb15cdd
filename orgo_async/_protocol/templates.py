"""Template refs and documents (``orgo-api.md`` §9). No I/O.

A template version is addressed by an immutable ref ``namespace/name@version`` where the
version is semver (``default/my-template@1.0.0``, ``system/claude-code@1.0.0``). Refs are
checked here before any request: a malformed ref would otherwise address another URL
(``a/b/c@1`` is three path segments) or fail late with a confusing 404.

Documents (``orgo.ai/v1``) are sent as JSON. YAML text is parsed with PyYAML, which is an
optional extra (``pip install "orgo-async[yaml]"``).
"""

from __future__ import annotations

import re
from typing import Any, Final

import msgspec

__all__ = [
    "YAML_EXTRA_HINT",
    "TemplateRef",
    "looks_like_path",
    "parse_document_text",
    "parse_name",
    "parse_ref",
]

YAML_EXTRA_HINT: Final = (
    "YAML templates need PyYAML, an optional extra: pip install 'orgo-async[yaml]' "
    "(or pass the document as a dict or JSON text)"
)

# Path-safe segments: start with a letter or digit, then letters, digits, '.', '_', '-'.
_SEGMENT = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}"
# Semantic versioning 2.0.0: MAJOR.MINOR.PATCH[-prerelease][+build].
_SEMVER = (
    r"(?:0|[1-9]\d*)\.(?:0|[1-9]\d*)\.(?:0|[1-9]\d*)"
    r"(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?"
)
_REF = re.compile(rf"({_SEGMENT})/({_SEGMENT})@({_SEMVER})")
_NAME = re.compile(rf"({_SEGMENT})/({_SEGMENT})(?:@({_SEMVER}))?")


class TemplateRef(msgspec.Struct, frozen=True):
    """A parsed ref: ``str(ref)`` gives back ``namespace/name@version``."""

    namespace: str
    name: str
    version: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}@{self.version}"


def _check(value: object, what: str) -> str:
    if isinstance(value, TemplateRef):
        return str(value)
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, not {type(value).__name__}")
    if ".." in value:
        raise ValueError(f"invalid {what} {value[:80]!r}: '..' is not allowed")
    return value


def parse_ref(ref: str | TemplateRef) -> TemplateRef:
    """Parse and validate ``namespace/name@version`` (``ValueError`` if malformed).

    >>> parse_ref("default/my-template@1.0.0").version
    '1.0.0'
    """
    text = _check(ref, "template ref")
    m = _REF.fullmatch(text)
    if m is None:
        raise ValueError(
            f"invalid template ref {text[:80]!r}: expected 'namespace/name@version' with a "
            "semver version, e.g. 'default/my-template@1.0.0'"
        )
    return TemplateRef(m[1], m[2], m[3])


def parse_name(ref: str | TemplateRef) -> tuple[str, str]:
    """``(namespace, name)`` from ``namespace/name`` (a ``@version`` suffix is accepted
    and ignored, so a full ref works too)."""
    text = _check(ref, "template name")
    m = _NAME.fullmatch(text)
    if m is None:
        raise ValueError(
            f"invalid template name {text[:80]!r}: expected 'namespace/name', "
            "e.g. 'default/my-template'"
        )
    return m[1], m[2]


def looks_like_path(text: str) -> bool:
    """Whether a ``str`` document argument names a file rather than holding the document:
    one line ending in ``.yaml``, ``.yml`` or ``.json``."""
    return "\n" not in text and text.strip().lower().endswith((".yaml", ".yml", ".json"))


def parse_document_text(text: str, *, yaml: bool | None = None) -> dict[str, Any]:
    """Parse a template document from JSON or YAML text into a dict.

    ``yaml=None`` guesses: text starting with ``{`` is JSON, anything else YAML. YAML
    needs PyYAML (``ImportError`` naming the extra otherwise). ``ValueError`` when the
    text does not parse or is not a mapping.
    """
    stripped = text.lstrip()
    if not stripped:
        raise ValueError("the template document is empty")
    use_yaml = (not stripped.startswith("{")) if yaml is None else yaml
    if not use_yaml:
        try:
            data = msgspec.json.decode(text)
        except msgspec.DecodeError as e:
            raise ValueError(f"the template document is not valid JSON: {e}") from None
    else:
        try:
            import yaml as pyyaml
        except ImportError:
            raise ImportError(YAML_EXTRA_HINT) from None
        try:
            data = pyyaml.safe_load(text)
        except pyyaml.YAMLError as e:
            raise ValueError(f"the template document is not valid YAML: {e}") from None
    return check_document(data)


def check_document(data: object) -> dict[str, Any]:
    """A document must be a mapping with string keys (the server validates the rest)."""
    if not isinstance(data, dict):
        raise ValueError(
            f"a template document must be a mapping (api_version, template, ...), "
            f"not {type(data).__name__}"
        )
    for key in data:
        if not isinstance(key, str):
            raise ValueError(f"template document keys must be strings, not {key!r}")
    return data
