"""Root keys in a PKCS#11 token (an HSM, a smart card, SoftHSM2).

* `parse_pkcs11_uri` reads an RFC 7512 URI (``pkcs11:token=…;object=…;id=%01?module-path=…``).
* `Pkcs11Signer` implements the `RootSigner` protocol: the token only ever sees the TBS bytes
  (or their hash), exactly like a key file does in `FileSigner`.
* `list_tokens` and `list_private_keys` describe what a module offers, for the app's pickers.

python-pkcs11 is imported inside the functions that need it, so signing with a key file never
loads it. Every failure is a one-line `ByorootError`; a PIN never appears in a message, a
``repr`` or a log line.

About wiping the PIN: we read it into a bytearray and wipe that, but python-pkcs11's
``Token.open(user_pin=…)`` takes a ``str`` (it encodes it itself), so one short-lived ``str``
copy exists for the duration of the C_Login call. Python cannot wipe a ``str``.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import re
import stat
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from byoroot_tui.core.errors import ByorootError, InputRefused
from byoroot_tui.core.keys import describe_key, key_problem
from byoroot_tui.core.secretbuf import read_secret_file, wipe
from byoroot_tui.core.text import safe_text

# A PIN source is asked only when the token wants a PIN typed in (not for PIN pads). It returns
# the PIN as a bytearray, which is wiped after use, or None when there is none.
PinSource = Callable[[], bytearray | None]
Notice = Callable[[str], None]

MAX_URI_CHARS = 4096
MAX_PIN_BYTES = 4096

PATH_ATTRIBUTES = ("token", "object", "id", "serial", "manufacturer", "model", "type")
QUERY_ATTRIBUTES = ("module-path", "pin-value", "pin-source")
OBJECT_TYPES = ("private", "public", "cert", "secret-key", "data")

# RFC 7512 section 2.3: characters allowed unencoded in a path and in a query attribute value.
_UNRESERVED = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_RES_AVAIL = set(":[]@!$'()*+,=")
_PATH_CHARS = frozenset(_UNRESERVED | _RES_AVAIL | {"&"})
_QUERY_CHARS = frozenset(_UNRESERVED | _RES_AVAIL | {"/", "?", "|"})
# RFC 7512 lets '?' stand unencoded in a query value; byoroot refuses that (it is nearly always a
# '&' typed as '?', which would swallow the next attribute, PIN included), so it always encodes it.
_QUERY_OUT = _QUERY_CHARS - {"?"}
_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_HEX = set("0123456789abcdefABCDEF")


# ----------------------------------------------------------------------------- the URI


@dataclass(frozen=True, eq=False)
class Pkcs11Uri:
    """A parsed PKCS#11 URI. ``pin_value`` never shows in ``repr`` or ``describe()``."""

    token: str | None = None
    object: str | None = None
    id: bytes | None = None
    serial: str | None = None
    manufacturer: str | None = None
    model: str | None = None
    type: str | None = None
    module_path: str | None = None
    pin_source: str | None = None
    pin_value: bytearray | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        return f"Pkcs11Uri({self.describe()!r})"

    __str__ = __repr__

    def selectors(self) -> dict[str, object]:
        """The path attributes that are set, in RFC order (no secrets in them)."""
        out: dict[str, object] = {}
        for name in PATH_ATTRIBUTES:
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        return out

    def describe(self, with_query: bool = True) -> str:
        """Terminal-safe text of the URI; a pin-value shows as ``pin-value=(hidden)``."""
        text = format_pkcs11_uri(**{k: v for k, v in self.selectors().items()})  # type: ignore[arg-type]
        if with_query:
            query = []
            if self.module_path is not None:
                query.append("module-path=" + _encode(self.module_path.encode("utf-8"), _QUERY_OUT))
            if self.pin_source is not None:
                query.append("pin-source=" + _encode(self.pin_source.encode("utf-8"), _QUERY_OUT))
            if self.pin_value is not None:
                query.append("pin-value=(hidden)")
            if query:
                text += "?" + "&".join(query)
        return safe_text(text, 300)

    def wipe(self) -> None:
        """Overwrite the pin-value held by this URI (if any)."""
        if self.pin_value is not None:
            self.pin_value[:] = b"\x00" * len(self.pin_value)


def _refuse(reason: str) -> InputRefused:
    return InputRefused(f"malformed PKCS#11 URI: {reason}")


def _decode_value(raw: str, allowed: frozenset[str], where: str) -> bytearray:
    """Strict percent-decoding; ``where`` names the attribute (never its value)."""
    out = bytearray()
    i = 0
    n = len(raw)
    while i < n:
        ch = raw[i]
        if ch == "%":
            pair = raw[i + 1 : i + 3]
            if len(pair) != 2 or not set(pair) <= _HEX:
                raise _refuse(f"a bad percent escape in {where} (write %XX with two hex digits)")
            out.append(int(pair, 16))
            i += 3
            continue
        if ch not in allowed:
            if "pin-value" in where:  # not even a hint about which character: it is part of the PIN
                raise _refuse(f"a character in {where} must be percent-encoded")
            code = ord(ch)
            hint = f"%{code:02X}" if code < 0x80 else "its UTF-8 bytes as %XX"
            raise _refuse(f"a character in {where} must be percent-encoded (write {hint})")
        out += ch.encode("ascii")
        i += 1
    return out


def _text(value: bytearray, where: str) -> str:
    try:
        return bytes(value).decode("utf-8")
    except UnicodeDecodeError:
        raise _refuse(f"{where} is not valid UTF-8 once percent-decoded") from None


def _split(part: str, sep: str, where: str) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    if part == "":
        return pairs
    for index, item in enumerate(part.split(sep), start=1):
        name, eq, value = item.partition("=")
        if not eq or not name:
            raise _refuse(f"{where} attribute {index} is not of the form name=value")
        if not _NAME.fullmatch(name):
            raise _refuse(f"{where} attribute {index} has an invalid name")
        pairs.append((name, value))
    return pairs


_PIN_INSIDE = re.compile(r"pin-(value|source)(=|%3[dD])")


def _wipe_all(values: dict[str, bytearray]) -> None:
    for value in values.values():
        value[:] = b"\x00" * len(value)


def _read_attributes(
    path_pairs: list[tuple[str, str]], query_pairs: list[tuple[str, str]],
    values: dict[str, bytearray], unknown: list[str],
) -> None:
    seen: set[str] = set()
    for pairs, known, allowed in (
        (path_pairs, PATH_ATTRIBUTES, _PATH_CHARS),
        (query_pairs, QUERY_ATTRIBUTES, _QUERY_CHARS),
    ):
        for name, raw in pairs:
            if name in seen:
                raise _refuse(f"attribute {name} appears more than once")
            seen.add(name)
            if name not in known:
                if name in PATH_ATTRIBUTES:
                    name += " (belongs before '?')"
                elif name in QUERY_ATTRIBUTES:
                    name += " (belongs after '?')"
                unknown.append(name)
                continue
            if name != "pin-value" and _PIN_INSIDE.search(raw):
                # e.g. "object=k&pin-value=1234" or "module-path=/m.so?pin-value=1234": a typo that
                # would otherwise put the PIN into this attribute, and into messages that show it.
                raise _refuse(f"attribute {name} holds 'pin-…=': put query attributes after '?' and separate "
                              "them with '&'")
            if allowed is _QUERY_CHARS and "?" in raw:
                raise _refuse(f"a second '?' in attribute {name}: separate query attributes with '&' "
                              "(write %3F for a '?' in a value)")
            values[name] = _decode_value(raw, allowed, f"attribute {name}")


def parse_pkcs11_uri(text: str) -> Pkcs11Uri:
    """Parse an RFC 7512 PKCS#11 URI. Raises `InputRefused` (one line, never the PIN)."""
    if not isinstance(text, str):
        raise _refuse("not text")
    if len(text) > MAX_URI_CHARS:
        raise _refuse(f"longer than {MAX_URI_CHARS} characters")
    if text[:7].lower() != "pkcs11:":
        raise InputRefused("not a PKCS#11 URI: it must start with 'pkcs11:' (RFC 7512)")
    rest = text[7:]
    if "#" in rest:
        raise _refuse("a '#' must be percent-encoded (%23)")
    path, _, query = rest.partition("?")
    path_pairs = _split(path, ";", "path")
    query_pairs = _split(query, "&", "query")

    unknown: list[str] = []
    values: dict[str, bytearray] = {}
    try:
        _read_attributes(path_pairs, query_pairs, values, unknown)
    except ByorootError:
        _wipe_all(values)  # a pin-value decoded before the refusal is overwritten before it leaves
        raise
    if unknown:
        _wipe_all(values)
        listed = ", ".join(unknown[:8]) + (f" and {len(unknown) - 8} more" if len(unknown) > 8 else "")
        raise InputRefused(
            f"unsupported PKCS#11 URI attribute(s): {listed} "
            f"(byoroot reads {', '.join(PATH_ATTRIBUTES)} in the path; {', '.join(QUERY_ATTRIBUTES)} in the query)"
        )
    pin_value = values.pop("pin-value", None)
    try:
        if pin_value is not None and "pin-source" in values:
            raise _refuse("give either pin-value or pin-source, not both")
        if pin_value is not None:
            _text(pin_value, "attribute pin-value")  # a PIN is text; checked here, kept as bytes
        kwargs: dict[str, Any] = {}
        for name, value in values.items():
            key = name.replace("-", "_")
            kwargs[key] = bytes(value) if name == "id" else _text(value, f"attribute {name}")
        if kwargs.get("type") is not None and kwargs["type"] not in OBJECT_TYPES:
            raise _refuse(f"type must be one of {', '.join(OBJECT_TYPES)}")
        for name in ("module_path", "pin_source"):
            if kwargs.get(name) == "":
                raise _refuse(f"attribute {name.replace('_', '-')} is empty")
    except ByorootError:
        if pin_value is not None:
            pin_value[:] = b"\x00" * len(pin_value)
        raise
    return Pkcs11Uri(pin_value=pin_value, **kwargs)


def _encode(value: bytes, allowed: frozenset[str]) -> str:
    return "".join(chr(b) if chr(b) in allowed and b < 0x80 else f"%{b:02X}" for b in value)


def format_pkcs11_uri(
    *,
    token: str | None = None,
    object: str | None = None,  # noqa: A002 - the RFC's name
    id: bytes | None = None,  # noqa: A002
    serial: str | None = None,
    manufacturer: str | None = None,
    model: str | None = None,
    type: str | None = None,  # noqa: A002
    module_path: str | None = None,
) -> str:
    """Build a PKCS#11 URI (percent-encoding what needs it). Never takes a PIN."""
    parts = []
    for name, value in (
        ("token", token), ("object", object), ("id", id), ("serial", serial),
        ("manufacturer", manufacturer), ("model", model), ("type", type),
    ):
        if value is None:
            continue
        data = value if isinstance(value, bytes) else value.encode("utf-8")
        if name == "id":
            parts.append("id=" + "".join(f"%{b:02X}" for b in data))
        else:
            parts.append(f"{name}={_encode(data, _PATH_CHARS)}")
    uri = "pkcs11:" + ";".join(parts)
    if module_path is not None:
        uri += "?module-path=" + _encode(module_path.encode("utf-8"), _QUERY_OUT)
    return uri


# ----------------------------------------------------------------------------- PINs


def read_pin_file(path: str | os.PathLike[str]) -> bytearray:
    """The first line of a PIN file (trailing CR/LF removed), as a wipeable bytearray."""
    return read_secret_file(path, "PIN file", MAX_PIN_BYTES)


def _pin_text(pin: bytearray) -> str:
    """python-pkcs11 wants the PIN as str (see the module docstring about wiping)."""
    try:
        return bytes(pin).decode("utf-8")
    except UnicodeDecodeError:
        raise InputRefused("the PIN is not valid UTF-8 text") from None


def _pin_source_path(source: str) -> str:
    """RFC 7512 pin-source: a file (``file:`` URI or path). Commands (``|prog``) are refused."""
    if source.startswith("|"):
        raise InputRefused("the URI's pin-source names a command; byoroot only reads a PIN from a file")
    if source.lower().startswith("file:"):
        rest = source[5:]
        if rest.startswith("//"):
            host, slash, rest2 = rest[2:].partition("/")
            if host not in ("", "localhost") or not slash:
                raise InputRefused("the URI's pin-source must be a local file (file:/path or file:///path)")
            return "/" + rest2
        return rest
    if re.match(r"[A-Za-z][A-Za-z0-9+.-]*:", source):
        raise InputRefused("the URI's pin-source must be a file (file:/path or a path)")
    return source


# ----------------------------------------------------------------------------- the module


_modules_lock = threading.RLock()
_module_users: dict[str, int] = {}


def _module_label(path: str) -> str:
    return repr(safe_text(Path(path).name or path, 80))


def resolve_module_path(path: str | os.PathLike[str]) -> str:
    """Check a module path before anything is loaded; return its real path."""
    text = os.fspath(path)
    label = f"PKCS#11 module {_module_label(text)}"
    if not text:
        raise InputRefused("no PKCS#11 module given")
    try:
        st = os.stat(text)
    except FileNotFoundError:
        raise InputRefused(f"{label}: no such file") from None
    except OSError as exc:
        raise InputRefused(f"{label}: cannot read it ({exc.strerror or 'error'})") from None
    if not stat.S_ISREG(st.st_mode):
        raise InputRefused(f"{label} is not a regular file (give the path of the .so)")
    return os.path.realpath(text)


def _acquire_module(path: str) -> tuple[Any, str]:
    """Load and initialise a module (shared, reference-counted). Returns (lib, real path)."""
    real = resolve_module_path(path)
    label = f"PKCS#11 module {_module_label(path)}"
    import pkcs11

    with _modules_lock:
        try:
            lib = pkcs11.lib(real)
        except Exception as exc:
            detail = str(exc)
            if "C_GetFunctionList" in detail:
                why = "it is not a PKCS#11 library (no C_GetFunctionList)"
            elif "wrong ELF class" in detail:
                why = "it is built for another architecture"
            elif "ELF" in detail or "file too short" in detail or "cannot read file data" in detail:
                why = "it is not a shared library"
            elif isinstance(exc, pkcs11.PKCS11Error) and type(exc) is not pkcs11.PKCS11Error:
                why = f"its initialisation failed ({type(exc).__name__})"
            else:
                why = "it could not be loaded"
            raise InputRefused(f"cannot load {label}: {why}") from None
        _module_users[real] = _module_users.get(real, 0) + 1
    return lib, real


def _release_module(real: str, lib: Any) -> None:
    """Drop one user; the last one finalises the module (C_Finalize: every session closes)."""
    with _modules_lock:
        users = _module_users.get(real, 0) - 1
        if users > 0:
            _module_users[real] = users
            return
        _module_users.pop(real, None)
        try:
            lib.finalize()
        except Exception:
            pass


# ----------------------------------------------------------------------------- tokens


@dataclass(frozen=True)
class TokenInfo:
    slot_id: int
    label: str
    serial: str
    manufacturer: str
    model: str
    flags: int

    @property
    def initialized(self) -> bool:
        return bool(self.flags & 0x400)

    @property
    def login_required(self) -> bool:
        return bool(self.flags & 0x4)

    @property
    def protected_auth(self) -> bool:
        """A PIN pad (CKF_PROTECTED_AUTHENTICATION_PATH): the PIN is entered on the device."""
        return bool(self.flags & 0x100)

    @property
    def pin_locked(self) -> bool:
        return bool(self.flags & 0x40000)

    @property
    def pin_count_low(self) -> bool:
        return bool(self.flags & 0x10000)

    @property
    def pin_final_try(self) -> bool:
        return bool(self.flags & 0x20000)

    @property
    def state(self) -> list[str]:
        """Short words for the app: "PIN pad", "PIN locked", …"""
        words = []
        if not self.initialized:
            words.append("not initialised")
        if self.protected_auth:
            words.append("PIN pad")
        if self.pin_locked:
            words.append("PIN locked")
        elif self.pin_final_try:
            words.append("one PIN try left")
        elif self.pin_count_low:
            words.append("a wrong PIN was entered")
        return words

    def uri(self) -> str:
        return format_pkcs11_uri(token=self.label, serial=self.serial or None)

    def display(self) -> str:
        return f"token {safe_text(self.label, 40)!r} (serial {safe_text(self.serial, 40) or 'none'})"


def _token_info(tok: Any) -> TokenInfo:
    serial = bytes(tok.serial).decode("ascii", "replace")
    return TokenInfo(
        slot_id=int(tok.slot.slot_id),
        label=str(tok.label),
        serial=serial,
        manufacturer=str(tok.manufacturer_id),
        model=str(tok.model),
        flags=int(tok.flags),
    )


def _present_tokens(lib: Any) -> list[tuple[Any, TokenInfo]]:
    import pkcs11

    out = []
    for slot in lib.get_slots(token_present=True):
        try:
            tok = slot.get_token()
        except (pkcs11.TokenNotPresent, pkcs11.TokenNotRecognised):
            continue
        out.append((tok, _token_info(tok)))
    return out


def _token_matches(info: TokenInfo, uri: Pkcs11Uri) -> bool:
    # CK_TOKEN_INFO fields are blank-padded; python-pkcs11 strips the padding, so do the same here.
    def same(wanted: str | None, have: str) -> bool:
        return wanted is None or wanted.rstrip(" ") == have

    return (same(uri.token, info.label) and same(uri.serial, info.serial)
            and same(uri.manufacturer, info.manufacturer) and same(uri.model, info.model))


def _token_selector(uri: Pkcs11Uri) -> str:
    parts = [f"{k}={safe_text(str(v), 40)!r}" for k, v in uri.selectors().items()
             if k in ("token", "serial", "manufacturer", "model")]
    return ", ".join(parts) or "(any token)"


def _choose_token(lib: Any, uri: Pkcs11Uri, module: str) -> tuple[Any, TokenInfo]:
    tokens = [(t, i) for t, i in _present_tokens(lib) if i.initialized]
    found = [(t, i) for t, i in tokens if _token_matches(i, uri)]
    if not found:
        names = ", ".join(repr(safe_text(i.label, 32)) for _, i in tokens[:6]) or "none"
        raise InputRefused(
            f"no token matches {_token_selector(uri)} in PKCS#11 module {_module_label(module)} "
            f"(initialised tokens: {names})"
        )
    if len(found) > 1:
        raise InputRefused(
            f"{len(found)} tokens match {_token_selector(uri)}; add token= or serial= to the PKCS#11 URI"
        )
    return found[0]


def list_tokens(module_path: str | os.PathLike[str]) -> list[TokenInfo]:
    """Every token present in the module's slots (initialised or not)."""
    import pkcs11

    lib, real = _acquire_module(os.fspath(module_path))
    try:
        return [info for _, info in _present_tokens(lib)]
    except pkcs11.PKCS11Error as exc:
        raise _mapped(exc, "listing the tokens") from None
    finally:
        _release_module(real, lib)


# ----------------------------------------------------------------------------- errors


def _mapped(exc: BaseException, doing: str, token: TokenInfo | None = None) -> ByorootError:
    """One officer-readable line for a python-pkcs11 exception. Never carries the PIN."""
    import pkcs11

    tok = token.display() if token is not None else "the token"
    table: list[tuple[type[BaseException], str]] = [
        (pkcs11.PinIncorrect, f"wrong PIN for {tok}"),
        (pkcs11.PinLocked, f"the user PIN of {tok} is locked (too many wrong PINs); "
                           "its security officer must unlock it"),
        (pkcs11.PinExpired, f"the user PIN of {tok} has expired; change it with the token's tools first"),
        (pkcs11.PinLenRange, f"the PIN's length is outside what {tok} accepts"),
        (pkcs11.PinInvalid, f"the PIN holds characters {tok} does not accept"),
        (pkcs11.UserPinNotInitialized, f"{tok} has no user PIN yet; set one with the token's tools"),
        (pkcs11.TokenNotPresent, f"{tok} was removed"),
        (pkcs11.DeviceRemoved, f"{tok} was removed"),
        (pkcs11.FunctionCancelled, f"{doing} was cancelled on {tok}"),
        (pkcs11.UserNotLoggedIn, f"{tok} says nobody is logged in; the key needs a login"),
    ]
    for kind, message in table:
        if isinstance(exc, kind):
            return InputRefused(message)
    return ByorootError(f"the PKCS#11 module failed while {doing} on {tok} ({type(exc).__name__})")


# ----------------------------------------------------------------------------- keys


_CURVE_OIDS = {
    "1.2.840.10045.3.1.7": ("P-256", ec.SECP256R1),
    "1.3.132.0.34": ("P-384", ec.SECP384R1),
    "1.3.132.0.35": ("P-521", ec.SECP521R1),
}
_OTHER_CURVES = {
    "1.3.132.0.10": "secp256k1",
    "1.2.840.10045.3.1.1": "P-192",
    "1.3.132.0.33": "P-224",
    "1.3.36.3.3.2.8.1.1.7": "brainpoolP256r1",
    "1.3.36.3.3.2.8.1.1.11": "brainpoolP384r1",
    "1.3.36.3.3.2.8.1.1.13": "brainpoolP512r1",
    "1.3.101.112": "Ed25519",
    "1.3.101.113": "Ed448",
}
_PRINTABLE_CURVE_NAMES = {"prime256v1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}


def _oid_from_der(data: bytes) -> str | None:
    """Dotted text of a DER OBJECT IDENTIFIER, or None if ``data`` is not exactly one."""
    if len(data) < 3 or data[0] != 0x06 or data[1] & 0x80 or data[1] != len(data) - 2:
        return None
    arcs: list[int] = []
    value = 0
    for byte in data[2:]:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(value)
            value = 0
    if data[-1] & 0x80 or not arcs:
        return None
    first = arcs[0]
    head = [min(first // 40, 2), first - 40 * min(first // 40, 2)]
    return ".".join(str(a) for a in head + arcs[1:])


def _printable_curve(params: bytes) -> str | None:
    """Some tokens give CKA_EC_PARAMS as a PrintableString curve name (PKCS#11 3.0)."""
    if len(params) >= 2 and params[0] == 0x13 and params[1] == len(params) - 2:
        name = params[2:].decode("ascii", "replace")
        return _PRINTABLE_CURVE_NAMES.get(name, name)
    return None


def _curve(params: bytes) -> tuple[str, type[ec.EllipticCurve]]:
    oid = _oid_from_der(params)
    if oid in _CURVE_OIDS:
        return _CURVE_OIDS[oid]
    printable = _printable_curve(params)
    if printable is not None:
        for name, cls in _CURVE_OIDS.values():
            if name == printable:
                return name, cls
    name = _OTHER_CURVES.get(oid or "", oid) if oid else printable
    if name is None:
        name = "with explicit parameters" if params[:1] == b"\x30" else "of unknown form"
    raise InputRefused(f"elliptic curve {safe_text(name, 60)} is not supported (use P-256, P-384 or P-521)")


def _ec_point(raw: bytes, curve: type[ec.EllipticCurve]) -> ec.EllipticCurvePublicKey:
    """CKA_EC_POINT is a DER OCTET STRING around the point; a few tokens give the bare point."""
    candidates = []
    if len(raw) >= 2 and raw[0] == 0x04:
        try:
            from byoroot_tui.core.der import read_tlv

            tlv = read_tlv(raw)
            if tlv.end == len(raw):
                candidates.append(tlv.value(raw))
        except ByorootError:
            pass
    candidates.append(raw)
    for point in candidates:
        try:
            return ec.EllipticCurvePublicKey.from_encoded_point(curve(), point)
        except (ValueError, TypeError):
            continue
    raise InputRefused("the token's EC public key (CKA_EC_POINT) is not a valid point on its curve")


def _int(data: object) -> int:
    return int.from_bytes(bytes(data), "big")  # type: ignore[arg-type]


_KEY_TYPE_NAMES = {
    0: "RSA", 1: "DSA", 2: "DH", 3: "ECDSA", 0x40: "EdDSA (Ed25519/Ed448)", 0x41: "Montgomery (X25519/X448)",
}


def _raw_key_type(obj: Any) -> int | None:
    import pkcs11

    try:
        return int(obj[pkcs11.Attribute.KEY_TYPE])
    except ValueError:  # python-pkcs11 could not map a vendor-defined CKK_ value
        return -1
    except pkcs11.PKCS11Error:
        return None


def _attr(obj: Any, attribute: Any, default: Any = None) -> Any:
    import pkcs11

    try:
        return obj[attribute]
    except (pkcs11.PKCS11Error, ValueError, UnicodeDecodeError):
        return default


def _label_of(obj: Any) -> str:
    import pkcs11

    value = _attr(obj, pkcs11.Attribute.LABEL)
    return value if isinstance(value, str) else ""


def _id_of(obj: Any) -> bytes:
    import pkcs11

    value = _attr(obj, pkcs11.Attribute.ID)
    return bytes(value) if value is not None else b""


def _key_display(label: str, key_id: bytes) -> str:
    shown = f"{safe_text(label, 40)!r}" if label else "(no label)"
    return f"{shown} (id {key_id.hex() if key_id else 'none'})"


def _public_half(session: Any, priv: Any) -> Any | None:
    """The public-key object that pairs with a private key (same id, else same label), or else
    the public key of the certificate with the same id (a `cryptography` key), or None."""
    import pkcs11
    from cryptography import x509

    A, OC = pkcs11.Attribute, pkcs11.ObjectClass
    key_id, label = _id_of(priv), _label_of(priv)
    selectors = ([(A.ID, key_id)] if key_id else []) + ([(A.LABEL, label)] if label else [])
    for attribute, value in selectors:
        pubs = list(itertools.islice(session.get_objects({A.CLASS: OC.PUBLIC_KEY, attribute: value}), 2))
        if len(pubs) == 1:
            return pubs[0]
    if key_id:
        certs = list(itertools.islice(session.get_objects({A.CLASS: OC.CERTIFICATE, A.ID: key_id}), 2))
        if len(certs) == 1:
            try:
                return x509.load_der_x509_certificate(bytes(certs[0][A.VALUE])).public_key()
            except Exception:
                return None
    return None


def _rsa_from(obj: Any) -> object | None:
    import pkcs11

    n, e = _attr(obj, pkcs11.Attribute.MODULUS), _attr(obj, pkcs11.Attribute.PUBLIC_EXPONENT)
    if not n or not e:
        return None
    try:
        return rsa.RSAPublicNumbers(_int(e), _int(n)).public_key()
    except ValueError:
        raise InputRefused("the token's RSA public key is not valid") from None


def _public_key(session: Any, obj: Any, key_type: int | None) -> object:
    """A `cryptography` public key for a key object on the token (RSA or EC), or a refusal.

    ``obj`` may be a private key (its public half is found next to it) or a public key.
    """
    import pkcs11

    A = pkcs11.Attribute
    is_public = isinstance(obj, pkcs11.PublicKey)
    if key_type == 0:  # RSA: private key objects usually carry n and e too
        public = _rsa_from(obj)
        if public is not None:
            return public
        half = None if is_public else _public_half(session, obj)
        if isinstance(half, rsa.RSAPublicKey):
            return half
        public = _rsa_from(half) if isinstance(half, pkcs11.PublicKey) else None
        if public is None:
            raise InputRefused("cannot read the RSA public key: neither the key nor a public key or "
                               "certificate with the same id on the token shows it")
        return public
    if key_type == 3:  # EC: the curve is on both halves, the point on the public one
        params = _attr(obj, A.EC_PARAMS)
        half = obj if is_public else _public_half(session, obj)
        if params is None and isinstance(half, pkcs11.PublicKey):
            params = _attr(half, A.EC_PARAMS)
        if params is None and isinstance(half, ec.EllipticCurvePublicKey):
            params = b""  # only the certificate tells the curve; checked below
        if params is None:
            raise InputRefused("cannot read the EC key's curve (CKA_EC_PARAMS) from the token")
        curve = _curve(bytes(params))[1] if params else None
        if isinstance(half, ec.EllipticCurvePublicKey):
            if curve is not None and not isinstance(half.curve, curve):
                raise InputRefused("the certificate next to the EC key on the token is for another curve")
            _curve_from_name(half.curve.name)
            return half
        point = _attr(half, A.EC_POINT) if isinstance(half, pkcs11.PublicKey) else None
        if point is None or curve is None:
            raise InputRefused("cannot read the EC public key: no public key or certificate with the same "
                               "id as the private key on the token")
        return _ec_point(bytes(point), curve)
    name = _KEY_TYPE_NAMES.get(key_type if key_type is not None else -2, "vendor-defined")
    raise InputRefused(f"{name} keys are not supported; byoroot signs with RSA or ECDSA (P-256, P-384, P-521) keys")


def _curve_from_name(name: str) -> None:
    if name not in ("secp256r1", "secp384r1", "secp521r1"):
        raise InputRefused(f"elliptic curve {safe_text(name, 40)} is not supported (use P-256, P-384 or P-521)")


# ----------------------------------------------------------------------------- the signer


_DIGEST_INFO = {
    "sha256": bytes.fromhex("3031300d060960864801650304020105000420"),
    "sha384": bytes.fromhex("3041300d060960864801650304020205000430"),
    "sha512": bytes.fromhex("3051300d060960864801650304020305000440"),
}
_HASHES = {"sha256": hashlib.sha256, "sha384": hashlib.sha384, "sha512": hashlib.sha512}


class Pkcs11Signer:
    """A root key in a PKCS#11 token. Implements `core.signer.RootSigner`.

    Opening it loads the module, finds the one token and the one private key the URI names,
    logs in, and reads the public key, so a mismatch with the root certificate is found before
    anything is signed. ``close()`` logs out and closes the session.
    """

    def __init__(
        self,
        uri: str | Pkcs11Uri,
        *,
        module_path: str | os.PathLike[str] | None = None,
        pin_file: str | os.PathLike[str] | None = None,
        pin_prompt: PinSource | None = None,
        notice: Notice | None = None,
    ) -> None:
        self._session: Any = None
        self._lib: Any = None
        self._real: str | None = None
        self._key: Any = None
        self._pin_for_each_signature: bytearray | None = None
        self._public: object | None = None
        self._mechanisms: set[Any] = set()
        self.token: TokenInfo | None = None
        self.key_label, self.key_id = "", b""
        parsed = parse_pkcs11_uri(uri) if isinstance(uri, str) else uri
        try:
            self._open(parsed, module_path, pin_file, pin_prompt, notice)
        except BaseException:
            self.close()
            raise
        finally:
            if isinstance(uri, str):
                parsed.wipe()

    # -- opening

    def _open(
        self,
        uri: Pkcs11Uri,
        module_path: str | os.PathLike[str] | None,
        pin_file: str | os.PathLike[str] | None,
        pin_prompt: PinSource | None,
        notice: Notice | None,
    ) -> None:
        import pkcs11

        module = os.fspath(module_path) if module_path is not None else uri.module_path
        if not module:
            raise InputRefused("no PKCS#11 module: give --pkcs11-module or module-path= in the URI")
        if uri.type not in (None, "private"):
            raise InputRefused(f"the PKCS#11 URI names type={uri.type}; name the private key (type=private)")
        if pin_file is not None and (uri.pin_value is not None or uri.pin_source is not None):
            raise InputRefused("give the PIN once: a PIN file or the URI's pin-value/pin-source, not both")

        self._lib, self._real = _acquire_module(module)
        try:
            tok, info = _choose_token(self._lib, uri, module)
        except pkcs11.PKCS11Error as exc:
            raise _mapped(exc, "looking for the token") from None
        self.token = info
        if info.pin_locked:
            raise _mapped(pkcs11.PinLocked(), "logging in", info)

        pin: bytearray | None = None
        try:
            if not info.login_required:
                self._session = self._open_session(tok, info, None)
            elif info.protected_auth and pin_file is None and uri.pin_value is None and uri.pin_source is None:
                # A PIN pad: the PIN is entered on the device, never asked for here. (A PIN given
                # explicitly still goes through C_Login: some readers with a pad accept both.)
                if notice is not None:
                    notice(f"Enter the PIN on the PIN pad of {info.display()}")
                self._session = self._open_session(tok, info, pkcs11.PROTECTED_AUTH)
            else:
                pin = self._get_pin(uri, pin_file, pin_prompt, info)
                self._session = self._open_session(tok, info, pin)
            self._find_key(uri, info)
            if self._pin_for_each_signature is not None and pin is not None:
                self._pin_for_each_signature = bytearray(pin)
            elif self._pin_for_each_signature is not None:
                raise InputRefused(
                    f"the key on {info.display()} wants its PIN before each signature "
                    "(CKA_ALWAYS_AUTHENTICATE); byoroot supports that only with a typed PIN"
                )
        finally:
            wipe(pin)

    @staticmethod
    def _get_pin(
        uri: Pkcs11Uri, pin_file: str | os.PathLike[str] | None, prompt: PinSource | None, info: TokenInfo
    ) -> bytearray:
        if pin_file is not None:
            return read_pin_file(pin_file)
        if uri.pin_value is not None:
            if not uri.pin_value:
                raise InputRefused("the URI's pin-value is empty")
            return bytearray(uri.pin_value)
        if uri.pin_source is not None:
            return read_pin_file(_pin_source_path(uri.pin_source))
        pin = prompt() if prompt is not None else None
        if not pin:
            wipe(pin)
            raise InputRefused(f"{info.display()} needs a PIN and none was given")
        return pin

    def _open_session(self, tok: Any, info: TokenInfo, pin: bytearray | object | None) -> Any:
        import pkcs11

        user_pin: object = _pin_text(pin) if isinstance(pin, bytearray) else pin
        try:
            return tok.open(user_pin=user_pin)
        except pkcs11.UserAlreadyLoggedIn:
            # Login state is per application and token: another session of ours is logged in.
            try:
                return tok.open()
            except pkcs11.PKCS11Error as exc:
                raise _mapped(exc, "opening a session", info) from None
        except pkcs11.PKCS11Error as exc:
            doing = "logging in with the PIN pad" if pin is pkcs11.PROTECTED_AUTH else "logging in"
            raise _mapped(exc, doing, info) from None
        finally:
            user_pin = None  # drop our reference to the PIN text as soon as we can

    def _find_key(self, uri: Pkcs11Uri, info: TokenInfo) -> None:
        import pkcs11

        A, OC = pkcs11.Attribute, pkcs11.ObjectClass
        template: dict[Any, Any] = {A.CLASS: OC.PRIVATE_KEY}
        if uri.object is not None:
            template[A.LABEL] = uri.object
        if uri.id is not None:
            template[A.ID] = uri.id
        wanted = ", ".join(
            f"{k}={safe_text(v, 40)!r}" if isinstance(v, str) else f"{k}={v.hex() or '(empty)'}"  # type: ignore[union-attr]
            for k, v in (("object", uri.object), ("id", uri.id)) if v is not None
        ) or "the URI (it names no object= or id=)"
        try:
            found = list(itertools.islice(self._session.get_objects(template), 50))
            if not found:
                present = [_key_display(_label_of(k), _id_of(k)) for k in
                           itertools.islice(self._session.get_objects({A.CLASS: OC.PRIVATE_KEY}), 6)]
                listed = ", ".join(present[:5]) + (" …" if len(present) > 5 else "") if present else "none"
                raise InputRefused(f"no private key matches {wanted} on {info.display()} (private keys: {listed})")
            if len(found) > 1:
                more = "50 or more" if len(found) == 50 else str(len(found))
                add = "id=" if uri.object is not None and uri.id is None else "object= or id="
                raise InputRefused(f"{more} private keys match {wanted} on {info.display()}; add {add} to the PKCS#11 URI")
            key = found[0]
            self.key_label, self.key_id = _label_of(key), _id_of(key)
            where = f"key {_key_display(self.key_label, self.key_id)} on {info.display()}"
            try:
                public = _public_key(self._session, key, _raw_key_type(key))
            except InputRefused as exc:
                raise InputRefused(f"{where}: {exc}") from None
            problem = key_problem(public)
            if problem:
                raise InputRefused(f"{where}: {problem}")
            if _attr(key, A.SIGN, True) is False:
                raise InputRefused(f"{where} may not sign (its CKA_SIGN is false)")
            if _attr(key, A.ALWAYS_AUTHENTICATE, False):
                self._pin_for_each_signature = bytearray()
            try:
                self._mechanisms = set(self._session.token.slot.get_mechanisms())
            except (pkcs11.PKCS11Error, ValueError):
                self._mechanisms = set()  # then RSA falls back to CKM_RSA_PKCS over a DigestInfo
        except pkcs11.PKCS11Error as exc:
            raise _mapped(exc, "reading the key", info) from None
        self._key = key
        self._public = public

    # -- RootSigner

    def public_key(self) -> object:
        if self._key is None or self._public is None:
            raise ByorootError("the token session has already been closed")
        return self._public

    def describe(self) -> str:
        """e.g. "ECDSA P-384 key 'root' (id 01) on token 'ca' (serial 1234)"."""
        algorithm, size = describe_key(self.public_key())
        where = self.token.display() if self.token is not None else "a token"
        return f"{algorithm} {size} key {_key_display(self.key_label, self.key_id)} on {where}"

    def sign(self, tbs: bytes, hash_algorithm: hashes.HashAlgorithm | None) -> bytes:
        """Sign ``tbs``; returns the signature in X.509 form (ECDSA: DER Ecdsa-Sig-Value)."""
        import pkcs11

        key, public = self._key, self._public
        if key is None or public is None:
            raise ByorootError("the token session has already been closed")
        name = hash_algorithm.name if hash_algorithm is not None else "none"
        if hash_algorithm is None or name not in _HASHES:
            raise InputRefused(f"a key in a token signs with SHA-256, SHA-384 or SHA-512, not {safe_text(name, 20)}")
        digest = _HASHES[name](tbs).digest()
        pin_text = _pin_text(self._pin_for_each_signature) if self._pin_for_each_signature is not None else None
        try:
            if isinstance(public, rsa.RSAPublicKey):
                combined = getattr(pkcs11.Mechanism, f"{name.upper()}_RSA_PKCS")
                if combined in self._mechanisms:
                    signature = bytes(key.sign(tbs, mechanism=combined, pin=pin_text))
                else:  # hash here, and sign the DigestInfo with the raw PKCS#1 v1.5 mechanism
                    signature = bytes(key.sign(_DIGEST_INFO[name] + digest, mechanism=pkcs11.Mechanism.RSA_PKCS,
                                               pin=pin_text))
            elif isinstance(public, ec.EllipticCurvePublicKey):
                # Hash here and use raw CKM_ECDSA (SoftHSM2 has no CKM_ECDSA_SHA512). The digest is cut
                # to the length of the curve order, as X9.62 does (the P-256 and P-384 orders are whole
                # bytes; SHA-512 fits P-521's order); a few tokens refuse longer input.
                size = (public.curve.key_size + 7) // 8
                raw = bytes(key.sign(digest[:size], mechanism=pkcs11.Mechanism.ECDSA, pin=pin_text))
                if len(raw) != 2 * size:
                    raise ByorootError(f"the token returned an ECDSA signature of {len(raw)} bytes, not {2 * size}")
                r, s = int.from_bytes(raw[:size], "big"), int.from_bytes(raw[size:], "big")
                signature = encode_dss_signature(r, s)
            else:  # pragma: no cover - refused when the key was opened
                raise ByorootError("the key type is not supported")
        except pkcs11.PKCS11Error as exc:
            raise _mapped(exc, "signing", self.token) from None
        finally:
            pin_text = None
        try:  # a wrong signature never leaves here (sign_plan checks again against the root)
            if isinstance(public, rsa.RSAPublicKey):
                public.verify(signature, tbs, padding.PKCS1v15(), hash_algorithm)
            else:
                public.verify(signature, tbs, ec.ECDSA(hash_algorithm))
        except InvalidSignature:
            raise ByorootError("the token's signature does not verify with the key's public key") from None
        return signature

    def close(self) -> None:
        """Log out, close the session, release the module. Safe to call twice."""
        wipe(self._pin_for_each_signature)
        self._pin_for_each_signature = None
        self._key = None
        session, self._session = self._session, None
        if session is not None:
            try:
                session.close()  # C_Logout (when logged in) and C_CloseSession
            except Exception:
                pass
        lib, real = self._lib, self._real
        self._lib = self._real = None
        if lib is not None and real is not None:
            _release_module(real, lib)

    def __enter__(self) -> Pkcs11Signer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "open" if self._key is not None else "closed"
        return f"<Pkcs11Signer {state}>"


# ----------------------------------------------------------------------------- key listing


@dataclass(frozen=True)
class KeyInfo:
    label: str
    id: bytes
    key_type: str  # "RSA", "ECDSA", "EdDSA (Ed25519/Ed448)", …
    size: str  # "3072 bits", "P-384", "" when unknown
    problem: str | None  # why byoroot would refuse this key, or None
    source: str  # "private key" or "public key" (listed without a PIN: the public half)

    @property
    def id_hex(self) -> str:
        return self.id.hex()

    @property
    def usable(self) -> bool:
        return self.problem is None

    def uri(self, token: TokenInfo) -> str:
        return format_pkcs11_uri(token=token.label, serial=token.serial or None,
                                 object=self.label or None, id=self.id or None, type="private")


def _describe_object(session: Any, obj: Any, source: str) -> KeyInfo:
    label, key_id = _label_of(obj), _id_of(obj)
    key_type = _raw_key_type(obj)
    type_name = _KEY_TYPE_NAMES.get(key_type if key_type is not None else -2, "vendor-defined")
    size, problem = "", None
    try:
        public = _public_key(session, obj, key_type)
        type_name, size = describe_key(public)
        problem = key_problem(public)
    except ByorootError as exc:
        problem = str(exc)
    except Exception as exc:  # an odd object must not hide the others
        problem = f"cannot read this key ({type(exc).__name__})"
    return KeyInfo(label=label, id=key_id, key_type=type_name, size=size, problem=problem, source=source)


def list_private_keys(
    module_path: str | os.PathLike[str],
    token: str | Pkcs11Uri | TokenInfo,
    pin: PinSource | None = None,
    limit: int = 200,
) -> list[KeyInfo]:
    """The signing keys on one token, for a picker.

    With a PIN source (or on a token that needs no login) this logs in and lists the private keys.
    Without one (and on PIN-pad tokens, where a login would wait for the pad) the public keys are
    listed instead: tokens hide private keys before a login, and the public halves share label and
    id with them (``KeyInfo.source`` says which was listed).
    """
    import pkcs11

    if isinstance(token, TokenInfo):
        uri = Pkcs11Uri(token=token.label, serial=token.serial or None)
    elif isinstance(token, str):
        uri = parse_pkcs11_uri(token) if token.lower().startswith("pkcs11:") else Pkcs11Uri(token=token)
    else:
        uri = token
    lib, real = _acquire_module(os.fspath(module_path))
    session = None
    secret: bytearray | None = None
    try:
        try:
            tok, info = _choose_token(lib, uri, os.fspath(module_path))
        except pkcs11.PKCS11Error as exc:
            raise _mapped(exc, "looking for the token") from None
        login = info.login_required and pin is not None
        if login and info.pin_locked:
            raise _mapped(pkcs11.PinLocked(), "logging in", info)
        try:
            if login:
                secret = pin() if pin is not None else None
                if not secret:
                    raise InputRefused(f"{info.display()} needs a PIN and none was given")
                session = tok.open(user_pin=_pin_text(secret))
            else:
                session = tok.open()
            logged_in = login or not info.login_required
            cls = pkcs11.ObjectClass.PRIVATE_KEY if logged_in else pkcs11.ObjectClass.PUBLIC_KEY
            source = "private key" if logged_in else "public key"
            objects = list(itertools.islice(session.get_objects({pkcs11.Attribute.CLASS: cls}), limit))
            return [_describe_object(session, obj, source) for obj in objects]
        except pkcs11.PKCS11Error as exc:
            raise _mapped(exc, "listing the keys", info) from None
    finally:
        wipe(secret)
        if session is not None:
            try:
                session.close()
            except Exception:
                pass
        _release_module(real, lib)

