"""xdotool-style key names to X keysyms (values from X11/keysymdef.h and XF86keysym.h)."""

from __future__ import annotations

import pytest

from orgo_async._protocol.keysyms import (
    MODIFIERS,
    canonical_combo,
    char_keysym,
    keysym,
    parse_combo,
    parse_keys,
)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("Return", 0xFF0D), ("enter", 0xFF0D), ("RETURN", 0xFF0D), ("Tab", 0xFF09),
        ("Escape", 0xFF1B), ("esc", 0xFF1B), ("BackSpace", 0xFF08), ("backspace", 0xFF08),
        ("Delete", 0xFFFF), ("Home", 0xFF50), ("End", 0xFF57), ("Page_Up", 0xFF55),
        ("pagedown", 0xFF56), ("Left", 0xFF51), ("Up", 0xFF52), ("Right", 0xFF53),
        ("Down", 0xFF54), ("F1", 0xFFBE), ("F5", 0xFFC2), ("F12", 0xFFC9), ("ctrl", 0xFFE3),
        ("Control_R", 0xFFE4), ("shift", 0xFFE1), ("alt", 0xFFE9), ("super", 0xFFEB),
        ("cmd", 0xFFEB), ("space", 0x20), ("plus", 0x2B), ("minus", 0x2D), ("a", 0x61),
        ("A", 0x41), ("1", 0x31), ("é", 0xE9), ("€", 0x010020AC), ("KP_Enter", 0xFF8D),
        ("XF86AudioMute", 0x1008FF12), ("XF86Forward", 0x1008FF27), ("Menu", 0xFF67),
    ],
)  # fmt: skip
def test_names(name: str, value: int) -> None:
    assert keysym(name) == value


def test_combos() -> None:
    assert parse_combo("ctrl+shift+t") == (0xFFE3, 0xFFE1, 0x74)
    assert parse_combo("alt+F4") == (0xFFE9, 0xFFC1)
    assert parse_combo("ctrl++") == (0xFFE3, 0x2B)
    assert parse_combo("+") == (0x2B,)
    assert parse_keys("ctrl+a Delete") == [(0xFFE3, 0x61), (0xFFFF,)]
    assert {0xFFE3, 0xFFE1, 0xFFE9, 0xFFEB} <= MODIFIERS and 0x61 not in MODIFIERS


@pytest.mark.parametrize("bad", ["", "ctrl+", "a++b", "ctrl+nosuchkey", " Return", "Return\n"])
def test_bad_combos_say_what_is_wrong(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_combo(bad)


def test_unknown_name_is_named_in_the_error() -> None:
    with pytest.raises(ValueError, match="'Hyperspace'"):
        keysym("Hyperspace")
    with pytest.raises(ValueError):
        parse_keys("   ")


def test_characters() -> None:
    assert char_keysym("\n") == 0xFF0D
    assert char_keysym("\t") == 0xFF09
    assert char_keysym("~") == 0x7E
    assert char_keysym("日") == 0x01000000 + ord("日")
    with pytest.raises(ValueError):
        char_keysym("\x07")
    with pytest.raises(ValueError):
        char_keysym("ab")


def test_canonical_combo_for_the_rest_endpoint() -> None:
    assert canonical_combo("CTRL+enter") == "ctrl+Return"
    assert canonical_combo("ctrl+shift+t") == "ctrl+shift+t"
    assert canonical_combo("cmd+pgdn") == "super+Page_Down"
    assert canonical_combo("f5") == "F5"
    with pytest.raises(ValueError, match="'nope'"):
        canonical_combo("ctrl+nope")
