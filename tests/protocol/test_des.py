"""The one DES (``orgo_async._protocol.des``, shared by the SDK's RFB client and the
emulator's RFB server) against published known-answer vectors, and the VNC key convention.
The real-server oracle is ``tests/agents/test_x11vnc.py`` (VNC auth with x11vnc)."""

from __future__ import annotations

import os

import pytest

from orgo_async._protocol.des import des_decrypt_block, des_encrypt_block, vnc_key, vnc_response

# (key, plaintext, ciphertext): the textbook example (Grabbe, "The DES Algorithm
# Illustrated"), the FIPS 81 "Now is t" example, and NIST SP 800-17 known-answer tests
# (variable plaintext, variable key, and a permutation-operation vector).
VECTORS = [
    ("133457799BBCDFF1", "0123456789ABCDEF", "85E813540F0AB405"),
    ("0123456789ABCDEF", "4E6F772069732074", "3FA40E8A984D4815"),
    ("0101010101010101", "8000000000000000", "95F8A5E5DD31D900"),
    ("0101010101010101", "0000000000000001", "166B40B44ABA4BD6"),
    ("8001010101010101", "0000000000000000", "95A8D72813DAA94D"),
    ("1046913489980131", "0000000000000000", "88D55E54F54C97B4"),
    ("0E329232EA6D0D73", "8787878787878787", "0000000000000000"),
    ("0101010101010101", "4000000000000000", "DD7F121CA5015619"),
    ("0101010101010101", "2000000000000000", "2E8653104F3834EA"),
    ("4001010101010101", "0000000000000000", "0EEC1487DD8C26D5"),
    ("2001010101010101", "0000000000000000", "7AD16FFB79C45926"),
    # FIPS 81 / NBS sample data (Rivest's validation set).
    ("7CA110454A1A6E57", "01A1D6D039776742", "690F5B0D9A26939B"),
    ("0131D9619DC1376E", "5CD54CA83DEF57DA", "7A389D10354BD271"),
]


@pytest.mark.parametrize(("key", "plain", "cipher"), VECTORS)
def test_known_vectors(key: str, plain: str, cipher: str) -> None:
    k, p, c = bytes.fromhex(key), bytes.fromhex(plain), bytes.fromhex(cipher)
    assert des_encrypt_block(k, p) == c
    assert des_decrypt_block(k, c) == p


def test_matches_an_independent_implementation() -> None:
    algorithms = pytest.importorskip("cryptography.hazmat.decrepit.ciphers.algorithms")
    from cryptography.hazmat.primitives.ciphers import Cipher, modes

    for _ in range(20):
        key, block = os.urandom(8), os.urandom(8)
        # K|K|K triple DES is single DES.
        enc = Cipher(algorithms.TripleDES(key * 3), modes.ECB()).encryptor()
        assert enc.update(block) + enc.finalize() == des_encrypt_block(key, block)


def test_bad_sizes_raise() -> None:
    with pytest.raises(ValueError):
        des_encrypt_block(b"short", b"12345678")
    with pytest.raises(ValueError):
        des_encrypt_block(b"12345678", b"1234")
    with pytest.raises(ValueError):
        vnc_response("pw", b"too short")


def test_vnc_key_reverses_bits_and_pads() -> None:
    assert vnc_key("a") == bytes([0x86]) + b"\0" * 7  # 'a' = 0x61 = 01100001 -> 10000110
    assert vnc_key("0123456789abcdef") == vnc_key("01234567")  # only 8 bytes count
    assert len(vnc_key(b"")) == 8


def test_vnc_response_is_des_ecb_with_the_vnc_key() -> None:
    challenge = bytes(range(16))
    pw = "a06db12a8683df96"
    key = vnc_key(pw)
    expected = des_encrypt_block(key, challenge[:8]) + des_encrypt_block(key, challenge[8:])
    assert vnc_response(pw, challenge) == expected
    assert vnc_response("other", challenge) != expected


def test_vnc_response_known_value() -> None:
    # The VNC convention rebuilt independently: key bytes bit-reversed, DES from the
    # cryptography package, each 8-byte half of the challenge encrypted on its own (ECB).
    algorithms = pytest.importorskip("cryptography.hazmat.decrepit.ciphers.algorithms")
    from cryptography.hazmat.primitives.ciphers import Cipher, modes

    key = bytes(int(f"{b:08b}"[::-1], 2) for b in b"password")
    enc = Cipher(algorithms.TripleDES(key * 3), modes.ECB()).encryptor()
    block = enc.update(b"\0" * 8) + enc.finalize()
    assert vnc_response("password", b"\0" * 16) == block * 2
