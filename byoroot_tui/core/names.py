"""Names: comparing distinguished names and people's names, and spotting names that deceive.

- `same_dn`: RFC 5280 §7.1 comparison of two distinguished names, with the string preparation
  of RFC 4518 (case folded, NFKC, invisible characters dropped, blanks folded, string type
  ignored), attribute by attribute within each RDN. OpenSSL's subject hash folds case and
  blanks too, so a CSR whose subject differs from the root's only so would be taken for the
  root itself (a self-issued certificate).
- `is_blank`: text with nothing visible in it (spaces, no-break spaces, zero-width and filler
  characters such as U+200B, U+3164, U+2800).
- `person_key`: the form in which two officers' names are compared (NFKC, case folded).
- `text_findings`: `warn` findings for a value that mixes scripts (a Cyrillic "а" among Latin
  letters) or holds invisible characters; `san_findings` does the same for a CSR's requested
  subjectAltName.

Imports no cryptography (ceremony.py uses it and must stay light); names are read by duck typing.
"""

from __future__ import annotations

import unicodedata
from typing import Any, Iterable

from byoroot_tui.core.findings import Finding
from byoroot_tui.core.text import is_unsafe_char, safe_text

# Unicode's Default_Ignorable_Code_Point (DerivedCoreProperties.txt): drawn as nothing, or as an
# empty cell (the Hangul fillers).
_IGNORABLE_RANGES = (
    (0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160), (0x17B4, 0x17B5),
    (0x180B, 0x180F), (0x200B, 0x200F), (0x202A, 0x202E), (0x2060, 0x206F), (0x3164, 0x3164),
    (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF), (0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8), (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A), (0xE0000, 0xE0FFF),
)
_BLANK_GLYPHS = {0x2800}  # BRAILLE PATTERN BLANK: a visible-width cell with nothing in it


def is_ignorable(ch: str) -> bool:
    cp = ord(ch)
    return any(lo <= cp <= hi for lo, hi in _IGNORABLE_RANGES)


def is_invisible(ch: str) -> bool:
    """A character that shows nothing, or only blank space where a reader expects none: the
    ignorables, format and control characters, line/paragraph separators, the braille blank and
    every space except the ASCII one."""
    if ch == " ":
        return False
    cat = unicodedata.category(ch)
    return is_ignorable(ch) or ord(ch) in _BLANK_GLYPHS or cat in ("Cc", "Cf", "Zs", "Zl", "Zp")


def is_blank(value: str) -> bool:
    """True when ``value`` has no visible character at all (empty, spaces, invisible characters)."""
    return all(ch == " " or ch.isspace() or is_invisible(ch) for ch in value)


def shown(value: str, limit: int | None = 80) -> str:
    r"""``value`` for an officer's eyes: `safe_text`, and every invisible character as ``\uNNNN``
    too (safe_text leaves fillers such as U+3164 and U+2800, and no-break spaces, as they are)."""
    out = []
    for ch in value:
        cp = ord(ch)
        if is_invisible(ch) and not is_unsafe_char(ch):
            out.append(f"\\x{cp:02x}" if cp < 0x100 else f"\\u{cp:04x}" if cp < 0x10000 else f"\\U{cp:08x}")
        else:
            out.append(ch)
    return safe_text("".join(out), limit)


def _code(ch: str) -> str:
    name = unicodedata.name(ch, "")
    return f"U+{ord(ch):04X}" + (f" {name}" if name else "")


# ---------------------------------------------------------------------------- comparing names


def prepare(value: str) -> str:
    """RFC 4518 string preparation, for comparison only: invisible characters dropped, every
    other blank made a space, case folded, NFKC, leading/trailing blanks removed and inner runs
    made one space."""
    mapped = []
    for ch in unicodedata.normalize("NFKC", value):
        if ch == " " or ch.isspace() or unicodedata.category(ch) in ("Zs", "Zl", "Zp") or ord(ch) in _BLANK_GLYPHS:
            mapped.append(" ")
        elif is_ignorable(ch) or unicodedata.category(ch) in ("Cc", "Cf"):
            continue  # RFC 4518 §2.2: mapped to nothing
        else:
            mapped.append(ch)
    folded = unicodedata.normalize("NFKC", "".join(mapped).casefold())
    folded = unicodedata.normalize("NFKC", folded.casefold())  # casefold and NFKC may each undo the other once
    return " ".join(folded.split())


def _attribute_key(attribute: Any) -> tuple[str, object]:
    value = attribute.value
    if isinstance(value, str):
        return attribute.oid.dotted_string, prepare(value)
    return attribute.oid.dotted_string, bytes(value)  # not a string (e.g. a BIT STRING): its bytes


def dn_key(name: Any) -> tuple[frozenset[tuple[str, object]], ...]:
    """A distinguished name (cryptography's `x509.Name`) in the form RFC 5280 §7.1 compares: the
    RDNs in order, each the set of its attributes' (type, prepared value)."""
    return tuple(frozenset(_attribute_key(a) for a in rdn) for rdn in name.rdns)


def same_dn(a: Any, b: Any) -> bool:
    """True when RFC 5280 §7.1 (with RFC 4518's preparation) says the two names are the same:
    case, blanks, invisible characters, Unicode normal form and string type make no difference."""
    return dn_key(a) == dn_key(b)


def person_key(name: str) -> str:
    """An officer's name as compared with another's: NFKC (full-width "Ａ" is "A"; NFC and NFD are
    one), case folded, invisible characters dropped, blanks folded."""
    return prepare(name)


# ---------------------------------------------------------------------------- scripts

# unicodedata names a letter after its script ("CYRILLIC SMALL LETTER A"); these first words
# are not script names.
_FIRST_WORD_SCRIPT = {
    "CJK": "Han", "IDEOGRAPHIC": "Han", "KANGXI": "Han",
    "FEMININE": "Latin", "MASCULINE": "Latin", "KELVIN": "Latin", "ANGSTROM": "Latin", "OHM": "Greek",
    "MODIFIER": None, "MICRO": None, "KATAKANA-HIRAGANA": None,
}
_WIDTH_WORDS = ("FULLWIDTH", "HALFWIDTH")
# Script mixes that are normal in one word (UTS #39, "highly restrictive"): Japanese, Chinese, Korean with Latin.
_ALLOWED_MIXES = (
    frozenset({"Latin", "Han", "Hiragana", "Katakana"}),
    frozenset({"Latin", "Han", "Bopomofo"}),
    frozenset({"Latin", "Han", "Hangul"}),
)


def script_of(ch: str) -> str | None:
    """The script of a letter ("Latin", "Cyrillic", "Greek", "Han", ...), None for anything else
    (digits, marks, punctuation, symbols, and letters common to all scripts)."""
    if not unicodedata.category(ch).startswith("L") or is_invisible(ch):
        return None
    cp = ord(ch)
    letterlike = 0x2100 <= cp <= 0x214F and unicodedata.name(ch, "").split(" ")[0] not in _FIRST_WORD_SCRIPT
    if 0x1D400 <= cp <= 0x1D7FF or letterlike:
        return "Mathematical/letterlike"  # 𝐀, ℂ: look like Latin or Greek letters and are neither
    words = unicodedata.name(ch, "").split(" ")
    if words[0] in _WIDTH_WORDS and len(words) > 1:
        words = words[1:]
    if not words[0]:
        return None
    if words[0] in _FIRST_WORD_SCRIPT:
        return _FIRST_WORD_SCRIPT[words[0]]
    return words[0].title()


def mixed_scripts(value: str) -> dict[str, list[str]] | None:
    """The letters of each script in ``value`` when it mixes scripts that are not normally
    written together in one name, else None."""
    letters: dict[str, list[str]] = {}
    for ch in value:
        script = script_of(ch)
        if script is not None:
            letters.setdefault(script, [])
            if ch not in letters[script]:
                letters[script].append(ch)
    scripts = frozenset(letters)
    if len(scripts) <= 1 or any(scripts <= allowed for allowed in _ALLOWED_MIXES):
        return None
    return letters


def _mix_detail(letters: dict[str, list[str]], value: str) -> str:
    counts = {s: sum(1 for ch in value if script_of(ch) == s) for s in letters}
    main = max(counts, key=lambda s: (counts[s], s == "Latin"))
    others = [s for s in letters if s != main]
    parts = []
    for s in others:
        chars = letters[s]
        listed = ", ".join(_code(ch) for ch in chars[:3]) + (f" and {len(chars) - 3} more" if len(chars) > 3 else "")
        parts.append(f"{s} {listed}")
    return f"{main} letters with " + "; ".join(parts)


def text_findings(code: str, label: str, value: str, *, words: Iterable[str] | None = None) -> list[Finding]:
    """`warn` findings for one value an officer reads: mixed scripts, invisible characters.

    ``words``: the parts checked for mixed scripts one by one (a DNS name's labels), default the
    whole value."""
    findings: list[Finding] = []
    hidden = [ch for ch in dict.fromkeys(value) if is_invisible(ch)]
    if hidden:
        listed = ", ".join(_code(ch) for ch in hidden[:4]) + (f" and {len(hidden) - 4} more" if len(hidden) > 4 else "")
        findings.append(Finding("warn", f"{code}.invisible_chars",
                                f'{label} "{shown(value)}" holds invisible characters ({listed})'))
    for part in (words if words is not None else [value]):
        letters = mixed_scripts(part)
        if letters:
            findings.append(Finding("warn", f"{code}.mixed_scripts",
                                    f'{label} "{shown(value)}" mixes scripts ({_mix_detail(letters, part)}): '
                                    "letters that look alike may stand for others"))
            break
    return findings


def officer_findings(which: int, name: str) -> list[Finding]:
    return text_findings("officer.name", f"officer {which}'s name", name)


# ---------------------------------------------------------------------------- a CSR's names


def name_attribute_findings(code: str, where: str, name: Any) -> list[Finding]:
    """`warn` findings for the string values of a distinguished name (cryptography's x509.Name)."""
    from byoroot_tui.core.extensions import oid_name

    findings: list[Finding] = []
    for attribute in name:
        value = attribute.value
        if isinstance(value, str) and not is_blank(value):
            findings += text_findings(code, f"{where} {safe_text(oid_name(attribute.oid))}", value)
    return findings


def _decode_label(label: str) -> str:
    """An IDNA A-label ("xn--...") as the Unicode it shows; any other label as it is."""
    if label[:4].lower() == "xn--":
        try:
            return label[4:].encode("ascii").decode("punycode")
        except (UnicodeError, ValueError):
            pass
    return label


def _labels(text: str) -> list[str]:
    """The labels of a host name or mail address, each decoded to what it shows."""
    return [_decode_label(label) for label in text.replace("@", ".").split(".")]


def san_findings(extensions: Any) -> list[Finding]:
    """`warn` findings for the names a CSR's requested subjectAltName holds."""
    from urllib.parse import urlsplit

    from cryptography import x509

    try:
        san = extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    findings: list[Finding] = []
    for gn in san:
        if isinstance(gn, x509.DNSName):
            decoded = ".".join(_decode_label(label) for label in gn.value.split("."))
            what = "the requested SAN DNS name" + (f' "{shown(gn.value)}", shown as' if decoded != gn.value else "")
            findings += text_findings("csr.san", what, decoded, words=_labels(gn.value))
        elif isinstance(gn, x509.RFC822Name):
            findings += text_findings("csr.san", "the requested SAN e-mail address", gn.value, words=_labels(gn.value))
        elif isinstance(gn, x509.UniformResourceIdentifier):
            try:
                host = urlsplit(gn.value).hostname or ""
            except ValueError:
                host = ""
            findings += text_findings("csr.san", "the requested SAN URI", gn.value, words=_labels(host))
        elif isinstance(gn, x509.DirectoryName):
            findings += name_attribute_findings("csr.san", "the requested SAN directory name's", gn.value)
    return findings
