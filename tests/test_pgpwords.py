"""PGP words (the PGPfone even/odd word lists): the published vector and table entries, the lists
themselves, the round trip, refusals that name the position, fingerprints typed as 32 words, and
`byoroot verify --fingerprint` given the words."""

from __future__ import annotations

import contextlib
import hashlib
import io
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import factories as f
from byoroot_tui.core.errors import ByorootError
from byoroot_tui.core.fingerprint import parse_fingerprint, pgp_words
from byoroot_tui.core.pgpwords import EVEN_WORDS, ODD_WORDS, from_words, to_words

# The known vector published with the word list (PGPfone manual; Wikipedia "PGP word list").
VECTOR_HEX = "E58294F2E9A227486E8B061B31CC528FD7FA3F19"
VECTOR_WORDS = (
    "topmost Istanbul Pluto vagabond treadmill Pacific brackish dictator goldfish Medusa "
    "afflict bravado chatter revolver Dupont midsummer stopwatch whimsical cowbell bottomless"
)

# Entries transcribed from the published table (byte: even word, odd word), not from the code.
PUBLISHED = {
    0x00: ("aardvark", "adroitness"),
    0x01: ("absurd", "adviser"),
    0x10: ("assume", "autopsy"),
    0x3F: ("cowbell", "customer"),
    0x40: ("crackdown", "Dakota"),
    0x7F: ("lockup", "integrate"),
    0x80: ("merit", "intention"),
    0xA5: ("reindeer", "paperweight"),
    0xC0: ("slowdown", "recipe"),
    0xE5: ("topmost", "travesty"),
    0xFE: ("woodlark", "yesteryear"),
    0xFF: ("Zulu", "Yucatan"),
}

SEPARATORS = (" ", "  ", ", ", ",", "-", " - ", "\n", "\t", " \n ")


# ----------------------------------------------------------------------------- the lists


def test_published_vector_to_words() -> None:
    assert to_words(bytes.fromhex(VECTOR_HEX)) == VECTOR_WORDS.split()
    assert pgp_words(VECTOR_HEX.lower()) == VECTOR_WORDS.split()


def test_published_vector_from_words() -> None:
    assert from_words(VECTOR_WORDS) == bytes.fromhex(VECTOR_HEX)


@pytest.mark.parametrize("byte", sorted(PUBLISHED), ids=lambda b: f"{b:02X}")
def test_published_table_entries(byte: int) -> None:
    even, odd = PUBLISHED[byte]
    assert EVEN_WORDS[byte] == even
    assert ODD_WORDS[byte] == odd
    assert to_words(bytes([byte, byte, byte])) == [even, odd, even]
    assert from_words(f"{even} {odd}") == bytes([byte, byte])


def test_first_and_last_entries_of_each_list() -> None:
    assert to_words(b"\x00\x00") == ["aardvark", "adroitness"]
    assert to_words(b"\xff\xff") == ["Zulu", "Yucatan"]
    assert (EVEN_WORDS[0], EVEN_WORDS[-1]) == ("aardvark", "Zulu")
    assert (ODD_WORDS[0], ODD_WORDS[-1]) == ("adroitness", "Yucatan")


def test_each_list_has_256_distinct_words_and_none_is_in_both() -> None:
    for words in (EVEN_WORDS, ODD_WORDS):
        assert len(words) == 256
        assert len({w.casefold() for w in words}) == 256
    assert not {w.casefold() for w in EVEN_WORDS} & {w.casefold() for w in ODD_WORDS}


def test_words_are_plain_ascii_letters() -> None:
    """No word can be split by a separator or look like hex digits only."""
    for w in EVEN_WORDS + ODD_WORDS:
        assert w.isascii() and w.isalpha(), w


def test_even_positions_use_the_even_list_and_odd_positions_the_odd_list() -> None:
    data = bytes(range(256))
    words = to_words(data)
    assert len(words) == 256
    for i, (b, w) in enumerate(zip(data, words)):
        assert w == (EVEN_WORDS if i % 2 == 0 else ODD_WORDS)[b]


# ----------------------------------------------------------------------------- round trip


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(min_size=1, max_size=64), draw=st.data())
def test_round_trip_random_bytes_any_case_any_separator(data: bytes, draw) -> None:  # type: ignore[no-untyped-def]
    words = to_words(data)
    assert len(words) == len(data)
    assert from_words(" ".join(words)) == data
    cased = [draw.draw(st.sampled_from([w, w.lower(), w.upper(), w.swapcase(), w.title()])) for w in words]
    text = cased[0]
    for w in cased[1:]:
        text += draw.draw(st.sampled_from(SEPARATORS)) + w
    assert from_words(text) == data


def test_from_words_is_case_insensitive() -> None:
    want = bytes.fromhex(VECTOR_HEX)
    assert from_words(VECTOR_WORDS.lower()) == want
    assert from_words(VECTOR_WORDS.upper()) == want
    assert from_words(VECTOR_WORDS.swapcase()) == want
    assert from_words("\n  " + VECTOR_WORDS.replace(" ", ",  ") + "  \n") == want


# ----------------------------------------------------------------------------- refusals


def _refusal(text: str) -> str:
    with pytest.raises(ByorootError) as info:
        from_words(text)
    message = str(info.value)
    assert not f.unsafe_chars(message), message
    return message


def test_unknown_word_is_refused_naming_its_position() -> None:
    words = VECTOR_WORDS.split()
    words[4] = "treadmil"  # a typo
    message = _refusal(" ".join(words))
    assert "PGP word 5" in message and "not in the PGP word list" in message
    assert "treadmil" in message


def test_dropped_word_is_caught_as_a_word_from_the_wrong_list() -> None:
    words = VECTOR_WORDS.split()
    del words[2]  # "Pluto" dropped: "vagabond" (odd list) now stands at word 3 (even position)
    message = _refusal(" ".join(words))
    assert "PGP word 3" in message and "wrong list" in message
    assert "vagabond" in message


def test_repeated_word_is_caught_as_a_word_from_the_wrong_list() -> None:
    words = VECTOR_WORDS.split()
    words.insert(7, words[7])  # "dictator" said twice: the second one is word 9, an even position
    message = _refusal(" ".join(words))
    assert "PGP word 9" in message and "wrong list" in message


def test_swapped_words_are_caught() -> None:
    words = VECTOR_WORDS.split()
    words[0], words[1] = words[1], words[0]
    message = _refusal(" ".join(words))
    assert "PGP word 1" in message and "wrong list" in message


def test_no_words_is_refused() -> None:
    for text in ("", "   ", " , - "):
        _refusal(text)


@pytest.mark.parametrize("word", ["\x1b[2J", "Pluto\u202eotulP", "a" * 300])
def test_hostile_or_huge_word_never_reaches_the_message_raw(word: str) -> None:
    message = _refusal("topmost " + word)
    assert "PGP word 2" in message
    assert "\x1b" not in message and "\u202e" not in message
    assert len(message) < 200


# ----------------------------------------------------------------------------- fingerprints as words


def _digest(seed: bytes) -> str:
    return hashlib.sha256(seed).hexdigest()


def test_parse_fingerprint_accepts_the_32_words() -> None:
    digest = _digest(b"an intermediate")
    words = pgp_words(digest)
    assert len(words) == 32
    assert parse_fingerprint(" ".join(words)) == digest
    assert parse_fingerprint(" ".join(words).upper()) == digest
    assert parse_fingerprint(", ".join(w.lower() for w in words)) == digest
    assert parse_fingerprint("\n".join(" ".join(words[i : i + 8]) for i in range(0, 32, 8))) == digest


def test_parse_fingerprint_still_accepts_hex() -> None:
    digest = _digest(b"hex")
    assert parse_fingerprint(digest.upper()) == digest
    assert parse_fingerprint(":".join(digest[i : i + 2] for i in range(0, 64, 2))) == digest
    assert parse_fingerprint("SHA256:" + digest) == digest
    assert parse_fingerprint(" ".join(digest[i : i + 4] for i in range(0, 64, 4))) == digest


@pytest.mark.parametrize("count", [31, 33])
def test_parse_fingerprint_refuses_31_or_33_words(count: int) -> None:
    words = pgp_words(_digest(b"count"))
    words = words[:31] if count == 31 else words + [EVEN_WORDS[0x42]]  # word 33 stands at an even position
    with pytest.raises(ByorootError) as info:
        parse_fingerprint(" ".join(words))
    assert f"not {count}" in str(info.value) and "32 PGP words" in str(info.value)


def test_parse_fingerprint_refuses_a_wrong_list_word_naming_it() -> None:
    words = pgp_words(_digest(b"wrong list"))
    words[10] = ODD_WORDS[0]  # word 11 is at an even position
    with pytest.raises(ByorootError, match="PGP word 11"):
        parse_fingerprint(" ".join(words))


def test_parse_fingerprint_refuses_neither_hex_nor_words() -> None:
    for text in ("abc", "z" * 64, _digest(b"x")[:-1], "topmost 1stanbul"):
        with pytest.raises(ByorootError):
            parse_fingerprint(text)


# ----------------------------------------------------------------------------- byoroot verify --fingerprint WORDS


@pytest.fixture(scope="module")
def issued(tmp_path_factory):  # type: ignore[no-untyped-def]
    """One real signing through the CLI; returns (ceremony, certificate SHA-256 hex)."""
    from byoroot_tui import cli as cli_module

    base = tmp_path_factory.mktemp("pgp")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_DATA_HOME", str(base / "data"))
        mp.setenv("XDG_CONFIG_HOME", str(base / "config"))
        c = f.make_ceremony(base)
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = cli_module.main(c.sign_argv("--log", base / "log.jsonl"))
        assert rc == 0, err.getvalue()
    cert = x509.load_pem_x509_certificate(c.cert_path.read_bytes())
    digest = hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()
    # independently: openssl's own fingerprint
    r = subprocess.run([f.openssl(), "x509", "-in", str(c.cert_path), "-noout", "-fingerprint", "-sha256"],
                       capture_output=True, text=True, check=True)
    assert r.stdout.strip().split("=", 1)[1].replace(":", "").lower() == digest
    return c, digest


def _verify(cli, c, fingerprint: str):  # type: ignore[no-untyped-def]
    return cli("verify", c.cert_path, "--root-cert", c.root_cert, "--fingerprint", fingerprint)


@pytest.mark.parametrize("case", ["as-is", "lower", "upper", "swapcase", "lines", "commas"])
def test_verify_accepts_the_words_in_any_case(cli, issued, case: str) -> None:  # type: ignore[no-untyped-def]
    c, digest = issued
    words = pgp_words(digest)
    text = {
        "as-is": " ".join(words),
        "lower": " ".join(words).lower(),
        "upper": " ".join(words).upper(),
        "swapcase": " ".join(words).swapcase(),
        "lines": "\n".join(" ".join(words[i : i + 8]) for i in range(0, 32, 8)),
        "commas": ", ".join(words),
    }[case]
    r = _verify(cli, c, text)
    assert r.rc == 0, r.text
    assert "SHA-256 fingerprint: matches" in r.out
    assert "Verified." in r.out


def test_verify_with_one_word_changed_fails_the_fingerprint_check(cli, issued) -> None:  # type: ignore[no-untyped-def]
    c, digest = issued
    words = pgp_words(digest)
    byte = bytes.fromhex(digest)[20]
    words[20] = EVEN_WORDS[byte ^ 0x01]  # word 21 (even position): another word from the right list
    r = _verify(cli, c, " ".join(words))
    assert r.rc == 1, r.text
    assert "FAILED  SHA-256 fingerprint" in r.out
    assert f"is {digest}" in r.out
    assert "NOT verified: SHA-256 fingerprint failed." in r.out
    # the other checks still pass: only the fingerprint is named
    assert r.out.count("FAILED") == 1


def test_verify_with_one_word_changed_json(cli, issued) -> None:  # type: ignore[no-untyped-def]
    c, digest = issued
    words = pgp_words(digest)
    words[31] = ODD_WORDS[bytes.fromhex(digest)[31] ^ 0x80]
    r = cli("verify", c.cert_path, "--root-cert", c.root_cert, "--fingerprint", " ".join(words), "--json")
    assert r.rc == 1
    import json

    data = json.loads(r.out)
    failed = [ch["check"] for ch in data["checks"] if not ch["ok"]]
    assert failed == ["SHA-256 fingerprint"]


def test_verify_with_a_dropped_word_is_refused_naming_the_position(cli, issued) -> None:  # type: ignore[no-untyped-def]
    c, digest = issued
    words = pgp_words(digest)
    del words[5]
    r = _verify(cli, c, " ".join(words))
    f.assert_refusal(r, "PGP word 6", "wrong list")


def test_verify_with_31_words_is_refused(cli, issued) -> None:  # type: ignore[no-untyped-def]
    c, digest = issued
    words = pgp_words(digest)[:-1]
    r = _verify(cli, c, " ".join(words))
    f.assert_refusal(r, "32 PGP words", "not 31")
