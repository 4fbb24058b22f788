"""Unit tests: core.export.write_new_file, core.fingerprint, core.text.safe_text, core.files."""

from __future__ import annotations

import errno
import hashlib
import os
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import factories as f
from byoroot_tui.core import export
from byoroot_tui.core.errors import ByorootError, ExportFailed, InputRefused
from byoroot_tui.core.files import read_input_file
from byoroot_tui.core.fingerprint import grouped_hex, parse_fingerprint, sha256_hex
from byoroot_tui.core.text import safe_text

DATA = b"-----BEGIN CERTIFICATE-----\nnot really\n-----END CERTIFICATE-----\n"


def _entries(folder: Path) -> list[str]:
    return sorted(os.listdir(folder))


# ----------------------------------------------------------------------------- write_new_file


def test_write_new_file_creates_exactly_the_data(tmp_path) -> None:  # type: ignore[no-untyped-def]
    p = export.write_new_file(tmp_path, "intermediate.crt", DATA)
    assert p == tmp_path / "intermediate.crt"
    assert p.read_bytes() == DATA
    assert _entries(tmp_path) == ["intermediate.crt"]
    assert p.stat().st_nlink == 1, "the temp link is gone"


def test_write_new_file_mode_0644_whatever_the_umask(tmp_path) -> None:  # type: ignore[no-untyped-def]
    old = os.umask(0o077)
    try:
        p = export.write_new_file(tmp_path, "intermediate.crt", DATA)
    finally:
        os.umask(old)
    assert p.stat().st_mode & 0o777 == 0o644


def test_write_new_file_other_mode(tmp_path) -> None:  # type: ignore[no-untyped-def]
    p = export.write_new_file(tmp_path, "secret", DATA, mode=0o600)
    assert p.stat().st_mode & 0o777 == 0o600


def test_write_new_file_is_exclusive(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "intermediate.crt").write_bytes(b"old")
    with pytest.raises(ExportFailed, match="already exists"):
        export.write_new_file(tmp_path, "intermediate.crt", DATA)
    assert (tmp_path / "intermediate.crt").read_bytes() == b"old"
    assert _entries(tmp_path) == ["intermediate.crt"]


def test_write_new_file_overwrite(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "intermediate.crt").write_bytes(b"old")
    export.write_new_file(tmp_path, "intermediate.crt", DATA, overwrite=True)
    assert (tmp_path / "intermediate.crt").read_bytes() == DATA
    assert _entries(tmp_path) == ["intermediate.crt"]


def test_write_new_file_missing_folder(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ExportFailed, match="not an existing folder"):
        export.write_new_file(tmp_path / "gone", "intermediate.crt", DATA)
    assert _entries(tmp_path) == []


def test_write_new_file_large_data_round_trips(tmp_path) -> None:  # type: ignore[no-untyped-def]
    blob = os.urandom(3 * 1024 * 1024 + 17)
    p = export.write_new_file(tmp_path, "big.bin", blob)
    assert hashlib.sha256(p.read_bytes()).digest() == hashlib.sha256(blob).digest()


def test_write_new_file_io_error_leaves_nothing(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The medium fails at fsync (e.g. pulled out): ExportFailed, temp file removed."""
    real_fsync = os.fsync

    def failing_fsync(fd: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(ExportFailed, match="I/O error"):
        export.write_new_file(tmp_path, "intermediate.crt", DATA)
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert _entries(tmp_path) == []


def test_write_new_file_target_appears_meanwhile(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Someone creates intermediate.crt between the check and the link: it is not overwritten."""
    real_fsync = os.fsync
    target = tmp_path / "intermediate.crt"

    def racing_fsync(fd: int) -> None:
        real_fsync(fd)
        if not target.exists():
            target.write_bytes(b"theirs")

    monkeypatch.setattr(os, "fsync", racing_fsync)
    with pytest.raises(ExportFailed, match="meanwhile"):
        export.write_new_file(tmp_path, "intermediate.crt", DATA)
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert target.read_bytes() == b"theirs"
    assert _entries(tmp_path) == ["intermediate.crt"]


def test_write_new_file_without_hard_links(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """FAT sticks have no hard links: the rename fallback still writes exactly once."""

    def no_link(src, dst) -> None:  # type: ignore[no-untyped-def]
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_link)
    p = export.write_new_file(tmp_path, "intermediate.crt", DATA)
    assert p.read_bytes() == DATA
    assert _entries(tmp_path) == ["intermediate.crt"]


def test_write_new_file_full_medium(tmpfs) -> None:  # type: ignore[no-untyped-def]
    mp = tmpfs.mount("full", size="8k")
    tmpfs.fill(mp)
    with pytest.raises(ExportFailed, match="full"):
        export.write_new_file(mp, "intermediate.crt", DATA * 50)
    assert _entries(mp) == ["filler"]


def test_write_new_file_read_only_medium(tmpfs) -> None:  # type: ignore[no-untyped-def]
    mp = tmpfs.mount("ro")
    tmpfs.remount_readonly(mp)
    with pytest.raises(ExportFailed, match="read-only"):
        export.write_new_file(mp, "intermediate.crt", DATA)
    assert _entries(mp) == []


def test_write_new_file_message_escapes_the_folder(tmp_path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "evil\x1b[31m\u202e"
    folder.mkdir()
    (folder / "intermediate.crt").write_bytes(b"x")
    with pytest.raises(ExportFailed) as exc:
        export.write_new_file(folder, "intermediate.crt", DATA)
    assert f.unsafe_chars(str(exc.value)) == []


# ----------------------------------------------------------------------------- fingerprints

HEX = hashlib.sha256(b"byoroot").hexdigest()


@pytest.mark.parametrize(
    "text",
    [
        HEX,
        HEX.upper(),
        ":".join(HEX[i : i + 2] for i in range(0, 64, 2)).upper(),
        " ".join(HEX[i : i + 4] for i in range(0, 64, 4)),
        "SHA256:" + HEX,
        "sha256:" + HEX.upper(),
        "  SHA256: " + " ".join(HEX[i : i + 4] for i in range(0, 64, 4)).upper() + " \n",
        "-".join(HEX[i : i + 8] for i in range(0, 64, 8)),
        "\t".join(HEX[i : i + 16] for i in range(0, 64, 16)),
        grouped_hex(HEX, per_line=8),
    ],
)
def test_parse_fingerprint_accepts(text: str) -> None:
    assert parse_fingerprint(text) == HEX


@pytest.mark.parametrize(
    "text",
    ["", "   ", "SHA256:", HEX[:-1], HEX + "0", HEX[:-1] + "g", "0x" + HEX, HEX[:40], "SHA1:" + HEX,
     HEX.replace("a", "\u0430"), "MD5:" + HEX[:32], HEX[:32] + "." + HEX[32:]],
)
def test_parse_fingerprint_refuses(text: str) -> None:
    with pytest.raises(ByorootError, match="64 hex"):
        parse_fingerprint(text)


@settings(max_examples=200, deadline=None)
@given(
    digest=st.binary(min_size=32, max_size=32),
    upper=st.booleans(),
    sep=st.sampled_from(["", ":", " ", "-", "  "]),
    group=st.sampled_from([1, 2, 4, 8]),
    prefix=st.sampled_from(["", "SHA256:", "sha256:", "Sha256:"]),
)
def test_parse_fingerprint_round_trip(digest: bytes, upper: bool, sep: str, group: int, prefix: str) -> None:
    h = digest.hex()
    text = sep.join(h[i : i + group] for i in range(0, 64, group))
    text = prefix + (text.upper() if upper else text)
    assert parse_fingerprint(text) == h


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80))
def test_parse_fingerprint_only_byoroot_errors(text: str) -> None:
    try:
        out = parse_fingerprint(text)
    except ByorootError:
        return
    assert len(out) == 64 and set(out) <= set("0123456789abcdef")


def test_sha256_hex_and_grouping() -> None:
    assert sha256_hex(b"abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"  # FIPS 180-2 vector
    g = grouped_hex(sha256_hex(b"abc"))
    assert g.split() == [g[i : i + 4] for i in range(0, len(g), 5)] and len(g.split()) == 16
    assert g.replace(" ", "").lower() == sha256_hex(b"abc")
    assert len(grouped_hex(sha256_hex(b"abc"), per_line=8).splitlines()) == 2


# ----------------------------------------------------------------------------- safe_text

CONTROLS = [chr(c) for c in range(0x00, 0x20)] + [chr(0x7F)] + [chr(c) for c in range(0x80, 0xA0)]
BIDI = ["\u061c", "\u200e", "\u200f", "\u202a", "\u202b", "\u202c", "\u202d", "\u202e",
        "\u2066", "\u2067", "\u2068", "\u2069"]


@pytest.mark.parametrize("ch", CONTROLS + BIDI + ["\u200b", "\ufeff", "\u2028", "\u2029", "\U000e0041"],
                         ids=lambda c: f"U+{ord(c):04X}")
def test_safe_text_escapes(ch: str) -> None:
    out = safe_text(f"a{ch}b")
    assert ch not in out
    assert f.unsafe_chars(out) == []
    code = ord(ch)
    expected = f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"
    assert out == f"a{expected}b"


@pytest.mark.parametrize("text", ["Example Org", "Grüße, Zürich", "東京認証局", "Ελληνικά", "emoji 🔐", "a\\b", "tab-free"])
def test_safe_text_keeps_printable_text(text: str) -> None:
    assert safe_text(text) == text


def test_safe_text_limit() -> None:
    out = safe_text("x" * 100, limit=10)
    assert out.startswith("x" * 10) and "90 more characters" in out
    assert safe_text("short", limit=10) == "short"


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=60))
def test_safe_text_never_emits_unsafe_characters(text: str) -> None:
    out = safe_text(text)
    assert f.unsafe_chars(out) == []
    assert all(unicodedata.category(c) not in ("Cc", "Cf", "Cs", "Co", "Cn") for c in out)
    # printable characters pass through unchanged, in order
    kept = [c for c in text if unicodedata.category(c) not in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp")]
    it = iter(out)
    assert all(any(c == o for o in it) for c in kept)


# ----------------------------------------------------------------------------- read_input_file


def test_read_input_file_cap_boundary(tmp_path) -> None:  # type: ignore[no-untyped-def]
    p = tmp_path / "x"
    p.write_bytes(b"a" * 100)
    assert read_input_file(p, "CSR", cap=100) == b"a" * 100
    with pytest.raises(InputRefused, match="limit"):
        read_input_file(p, "CSR", cap=99)


def test_read_input_file_refuses_special_files(tmp_path) -> None:  # type: ignore[no-untyped-def]
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(InputRefused, match="FIFO"):
        read_input_file(fifo, "CSR")
    with pytest.raises(InputRefused, match="directory"):
        read_input_file(tmp_path, "CSR")
    with pytest.raises(InputRefused, match="device"):
        read_input_file("/dev/zero", "CSR")
    with pytest.raises(InputRefused, match="no such file"):
        read_input_file(tmp_path / "nope", "CSR")


def test_read_input_file_follows_a_symlink_to_a_regular_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "real").write_bytes(b"data")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    assert read_input_file(tmp_path / "link", "CSR") == b"data"
