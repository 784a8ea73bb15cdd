"""X keysyms for xdotool-style key names, and key-combo parsing. No I/O.

RFB ``KeyEvent`` messages carry X keysyms (RFC 6143 §7.5.4). Models and users write keys
the way ``xdotool key`` takes them: ``Return``, ``ctrl+shift+t``, ``alt+F4``, ``super``,
``Page_Down``, ``a``, ``A``, ``plus``. This module turns those names into keysyms:

* multi-character names are case-insensitive (``RETURN``, ``return`` and ``Return`` are
  the same key) and common aliases are understood (``enter``, ``esc``, ``ctrl``, ``cmd``,
  ``pgdn``, ``arrowleft``, ``del`` ...);
* a single character is that character's keysym, case-sensitive (``a`` and ``A`` differ;
  the server adds Shift for ``A`` as it would for a typed capital);
* any other Unicode character maps to ``0x01000000 + code point`` (X11's Unicode keysyms).

:func:`parse_combo` splits ``ctrl+shift+t`` into keysyms (``ctrl++`` is Ctrl with the
``+`` key); :func:`parse_keys` also accepts several space-separated combos
(``ctrl+a Delete``), as ``xdotool key`` does. :func:`canonical_combo` rewrites a combo with
canonical names (``enter`` -> ``Return``) for the REST ``/key`` endpoint.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "MODIFIERS",
    "canonical_combo",
    "char_keysym",
    "keysym",
    "parse_combo",
    "parse_keys",
]

# Canonical X11 names (X11/keysymdef.h) of the keys a desktop agent uses.
_NAMED: Final[dict[str, int]] = {
    "BackSpace": 0xFF08,
    "Tab": 0xFF09,
    "ISO_Left_Tab": 0xFE20,
    "Linefeed": 0xFF0A,
    "Clear": 0xFF0B,
    "Return": 0xFF0D,
    "Pause": 0xFF13,
    "Scroll_Lock": 0xFF14,
    "Sys_Req": 0xFF15,
    "Escape": 0xFF1B,
    "Delete": 0xFFFF,
    "Home": 0xFF50,
    "Left": 0xFF51,
    "Up": 0xFF52,
    "Right": 0xFF53,
    "Down": 0xFF54,
    "Page_Up": 0xFF55,
    "Page_Down": 0xFF56,
    "End": 0xFF57,
    "Begin": 0xFF58,
    "Select": 0xFF60,
    "Print": 0xFF61,
    "Execute": 0xFF62,
    "Insert": 0xFF63,
    "Undo": 0xFF65,
    "Redo": 0xFF66,
    "Menu": 0xFF67,
    "Find": 0xFF68,
    "Cancel": 0xFF69,
    "Help": 0xFF6A,
    "Break": 0xFF6B,
    "Num_Lock": 0xFF7F,
    "KP_Space": 0xFF80,
    "KP_Tab": 0xFF89,
    "KP_Enter": 0xFF8D,
    "KP_Home": 0xFF95,
    "KP_Left": 0xFF96,
    "KP_Up": 0xFF97,
    "KP_Right": 0xFF98,
    "KP_Down": 0xFF99,
    "KP_Page_Up": 0xFF9A,
    "KP_Page_Down": 0xFF9B,
    "KP_End": 0xFF9C,
    "KP_Begin": 0xFF9D,
    "KP_Insert": 0xFF9E,
    "KP_Delete": 0xFF9F,
    "KP_Equal": 0xFFBD,
    "KP_Multiply": 0xFFAA,
    "KP_Add": 0xFFAB,
    "KP_Separator": 0xFFAC,
    "KP_Subtract": 0xFFAD,
    "KP_Decimal": 0xFFAE,
    "KP_Divide": 0xFFAF,
    **{f"KP_{n}": 0xFFB0 + n for n in range(10)},
    **{f"F{n}": 0xFFBE + n - 1 for n in range(1, 36)},
    "Shift_L": 0xFFE1,
    "Shift_R": 0xFFE2,
    "Control_L": 0xFFE3,
    "Control_R": 0xFFE4,
    "Caps_Lock": 0xFFE5,
    "Shift_Lock": 0xFFE6,
    "Meta_L": 0xFFE7,
    "Meta_R": 0xFFE8,
    "Alt_L": 0xFFE9,
    "Alt_R": 0xFFEA,
    "Super_L": 0xFFEB,
    "Super_R": 0xFFEC,
    "Hyper_L": 0xFFED,
    "Hyper_R": 0xFFEE,
    "ISO_Level3_Shift": 0xFE03,
    # XF86 keys (X11/XF86keysym.h) that desktops bind to media and browser actions.
    "XF86AudioLowerVolume": 0x1008FF11,
    "XF86AudioMute": 0x1008FF12,
    "XF86AudioRaiseVolume": 0x1008FF13,
    "XF86AudioPlay": 0x1008FF14,
    "XF86AudioStop": 0x1008FF15,
    "XF86AudioPrev": 0x1008FF16,
    "XF86AudioNext": 0x1008FF17,
    "XF86HomePage": 0x1008FF18,
    "XF86Mail": 0x1008FF19,
    "XF86Search": 0x1008FF1B,
    "XF86AudioPause": 0x1008FF31,
    "XF86Back": 0x1008FF26,
    "XF86Forward": 0x1008FF27,
    "XF86Refresh": 0x1008FF29,
    "XF86Calculator": 0x1008FF1D,
    "XF86Explorer": 0x1008FF5D,
    "XF86Copy": 0x1008FF57,
    "XF86Cut": 0x1008FF58,
    "XF86Paste": 0x1008FF6D,
    "XF86MonBrightnessUp": 0x1008FF02,
    "XF86MonBrightnessDown": 0x1008FF03,
    # Latin-1 punctuation by name (``xdotool key plus``).
    "space": 0x20,
    "exclam": 0x21,
    "quotedbl": 0x22,
    "numbersign": 0x23,
    "dollar": 0x24,
    "percent": 0x25,
    "ampersand": 0x26,
    "apostrophe": 0x27,
    "parenleft": 0x28,
    "parenright": 0x29,
    "asterisk": 0x2A,
    "plus": 0x2B,
    "comma": 0x2C,
    "minus": 0x2D,
    "period": 0x2E,
    "slash": 0x2F,
    "colon": 0x3A,
    "semicolon": 0x3B,
    "less": 0x3C,
    "equal": 0x3D,
    "greater": 0x3E,
    "question": 0x3F,
    "at": 0x40,
    "bracketleft": 0x5B,
    "backslash": 0x5C,
    "bracketright": 0x5D,
    "asciicircum": 0x5E,
    "underscore": 0x5F,
    "grave": 0x60,
    "braceleft": 0x7B,
    "bar": 0x7C,
    "braceright": 0x7D,
    "asciitilde": 0x7E,
}

# Names models and people use for the same keys (lower-case), to canonical names.
_ALIASES: Final[dict[str, str]] = {
    "enter": "Return",
    "ret": "Return",
    "esc": "Escape",
    "backspace": "BackSpace",
    "bksp": "BackSpace",
    "del": "Delete",
    "ins": "Insert",
    "pageup": "Page_Up",
    "pgup": "Page_Up",
    "prior": "Page_Up",
    "pagedown": "Page_Down",
    "pgdn": "Page_Down",
    "next": "Page_Down",
    "arrowup": "Up",
    "arrowdown": "Down",
    "arrowleft": "Left",
    "arrowright": "Right",
    "up_arrow": "Up",
    "down_arrow": "Down",
    "left_arrow": "Left",
    "right_arrow": "Right",
    "ctrl": "Control_L",
    "control": "Control_L",
    "lctrl": "Control_L",
    "rctrl": "Control_R",
    "shift": "Shift_L",
    "lshift": "Shift_L",
    "rshift": "Shift_R",
    "alt": "Alt_L",
    "lalt": "Alt_L",
    "ralt": "Alt_R",
    "option": "Alt_L",
    "altgr": "ISO_Level3_Shift",
    "meta": "Meta_L",
    "super": "Super_L",
    "win": "Super_L",
    "windows": "Super_L",
    "cmd": "Super_L",
    "command": "Super_L",
    "hyper": "Hyper_L",
    "capslock": "Caps_Lock",
    "numlock": "Num_Lock",
    "scrolllock": "Scroll_Lock",
    "printscreen": "Print",
    "prtsc": "Print",
    "contextmenu": "Menu",
    "apps": "Menu",
    "volumeup": "XF86AudioRaiseVolume",
    "volumedown": "XF86AudioLowerVolume",
    "mute": "XF86AudioMute",
    "browserback": "XF86Back",
    "browserforward": "XF86Forward",
}

_BY_LOWER: Final[dict[str, str]] = {name.lower(): name for name in _NAMED}
# Short spellings xdotool's keysym names do not accept but the REST /key endpoint
# documents: canonical_combo keeps them as the API spells modifiers.
_REST_MODIFIERS: Final[dict[str, str]] = {
    "Control_L": "ctrl",
    "Shift_L": "shift",
    "Alt_L": "alt",
    "Super_L": "super",
    "Meta_L": "meta",
}

#: Keysyms of the modifier keys (held, never typed).
MODIFIERS: Final[frozenset[int]] = frozenset(
    _NAMED[n]
    for n in (
        "Shift_L",
        "Shift_R",
        "Control_L",
        "Control_R",
        "Meta_L",
        "Meta_R",
        "Alt_L",
        "Alt_R",
        "Super_L",
        "Super_R",
        "Hyper_L",
        "Hyper_R",
        "ISO_Level3_Shift",
    )
)

_CHAR_NAMES: Final[dict[str, str]] = {
    "\n": "Return",
    "\r": "Return",
    "\t": "Tab",
    "\b": "BackSpace",
}


def char_keysym(ch: str) -> int:
    """The keysym that types the character ``ch`` (``\\n`` is Return, ``\\t`` is Tab)."""
    if len(ch) != 1:
        raise ValueError(f"expected one character, got {ch!r}")
    named = _CHAR_NAMES.get(ch)
    if named is not None:
        return _NAMED[named]
    cp = ord(ch)
    if 0x20 <= cp <= 0x7E or 0xA0 <= cp <= 0xFF:
        return cp  # Latin-1 keysyms equal their code points
    if cp < 0x20 or 0x7F <= cp < 0xA0:
        raise ValueError(f"cannot type the control character {ch!r}")
    return 0x01000000 + cp


def _canonical(name: str) -> str | None:
    lower = name.lower()
    alias = _ALIASES.get(lower)
    if alias is not None:
        return alias
    return _BY_LOWER.get(lower)


def keysym(name: str) -> int:
    """The keysym for one key name (``Return``, ``ctrl``, ``F5``, ``a``, ``plus``, ``é``).

    Raises ``ValueError`` naming the key when it is unknown.
    """
    if not isinstance(name, str) or not name:
        raise ValueError("a key name must be a non-empty str")
    if len(name) == 1:
        return char_keysym(name)
    canonical = _canonical(name)
    if canonical is None:
        raise ValueError(f"unknown key name {name!r}")
    return _NAMED[canonical]


def _split_combo(combo: str) -> list[str]:
    if not combo or combo != combo.strip() or any(c.isspace() for c in combo):
        raise ValueError(f"invalid key combo {combo!r}")
    if combo == "+":
        return ["+"]
    parts = combo.split("+")
    if combo.endswith("++"):  # "ctrl++": Ctrl with the plus key
        parts = [*parts[:-2], "+"]
    if any(not p for p in parts):
        raise ValueError(f"invalid key combo {combo!r} (empty key between '+')")
    return parts


def parse_combo(combo: str) -> tuple[int, ...]:
    """``ctrl+shift+t`` -> the keysyms to press in order (and release in reverse)."""
    return tuple(keysym(part) for part in _split_combo(combo))


def parse_keys(text: str) -> list[tuple[int, ...]]:
    """One or more space-separated combos (``ctrl+a Delete``), as ``xdotool key`` takes."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("keys must be a non-empty str such as 'Return' or 'ctrl+c'")
    return [parse_combo(combo) for combo in text.split()]


def canonical_combo(combo: str) -> str:
    """A combo with canonical names: ``CTRL+enter`` -> ``ctrl+Return``.

    Modifiers keep the short spellings the REST ``/key`` endpoint documents (``ctrl``,
    ``shift``, ``alt``, ``super``); other keys get their X11 names. Raises ``ValueError``
    for an unknown key.
    """
    out = []
    for part in _split_combo(combo):
        if len(part) == 1:
            char_keysym(part)  # validates
            out.append(part)
            continue
        canonical = _canonical(part)
        if canonical is None:
            raise ValueError(f"unknown key name {part!r}")
        out.append(_REST_MODIFIERS.get(canonical, canonical))
    return "+".join(out)
