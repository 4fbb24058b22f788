"""Where the root key is: a key file, or a private key in a PKCS#11 token (an HSM).

A `KeyRef` names the key without holding it; `open_signer` opens it with the secret the officer
typed (the key file's passphrase or the token's PIN) and wipes that buffer whatever happens.
The TUI's root screen builds a `KeyRef`; the key check and the signing both open it, and close
the signer as soon as they are done. Nothing here imports cryptography or python-pkcs11 at
import time, so the app's start-up stays fast.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar, Union

from byoroot_tui.core.errors import ByorootError, KeyUnusable
from byoroot_tui.core.secretbuf import wipe
from byoroot_tui.core.text import safe_text

if TYPE_CHECKING:  # pragma: no cover
    from cryptography.hazmat.primitives import hashes

    from byoroot_tui.core.issue import Issued, Plan, SignedCertificate
    from byoroot_tui.core.pkcs11 import KeyInfo, TokenInfo
    from byoroot_tui.core.root import RootCA
    from byoroot_tui.core.signer import RootSigner

# Where Debian and friends put PKCS#11 modules; the root screen offers the first one present.
MODULE_CANDIDATES = (
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so",
    "/usr/lib/aarch64-linux-gnu/opensc-pkcs11.so",
    "/usr/lib/opensc-pkcs11.so",
)


def default_module_path() -> str | None:
    """``$BYOROOT_PKCS11_MODULE``, else the first module of `MODULE_CANDIDATES` on this machine."""
    env = os.environ.get("BYOROOT_PKCS11_MODULE")
    if env:
        return env
    for path in MODULE_CANDIDATES:
        if os.path.isfile(path):
            return path
    return None


@dataclass(frozen=True)
class KeyFile:
    """A root private key in a PEM or DER file (maybe passphrase-protected)."""

    path: Path

    def describe(self) -> str:
        return f"key file {safe_text(str(self.path))}"


@dataclass(frozen=True)
class HsmKey:
    """A private key on one token of a PKCS#11 module, named by token label/serial and key label/id."""

    module: str
    token_label: str
    token_serial: str
    key_label: str
    key_id: bytes
    key_type: str = ""  # for display only: "ECDSA", "RSA", …
    key_size: str = ""  # for display only: "P-384", "3072 bits", …
    pin_pad: bool = False  # the token has a PIN pad: the PIN is entered on the device

    @classmethod
    def chosen(cls, module: str, token: TokenInfo, key: KeyInfo) -> HsmKey:
        return cls(module=module, token_label=token.label, token_serial=token.serial, key_label=key.label,
                   key_id=key.id, key_type=key.key_type, key_size=key.size, pin_pad=token.protected_auth)

    def uri(self) -> str:
        """The RFC 7512 URI of the key (never with a PIN), as `byoroot sign --pkcs11-uri` takes it."""
        from byoroot_tui.core.pkcs11 import format_pkcs11_uri

        return format_pkcs11_uri(token=self.token_label, serial=self.token_serial or None,
                                 object=self.key_label or None, id=self.key_id or None, type="private")

    def describe(self) -> str:
        what = " ".join(p for p in (self.key_type, self.key_size) if p)
        label = safe_text(self.key_label, 40) or "(no label)"
        return (f"{what + ' ' if what else ''}key {label!r} (id {self.key_id.hex() or 'none'}) on token "
                f"{safe_text(self.token_label, 40)!r} (serial {safe_text(self.token_serial, 40) or 'none'})")


KeyRef = Union[KeyFile, HsmKey]


def open_signer(ref: KeyRef, secret: bytearray | None) -> RootSigner:
    """Open the root key with ``secret`` (passphrase or PIN; None when none was typed).

    The buffer is wiped before this returns, whether the key opened or not. The caller closes
    the signer (it holds the key in memory, or a logged-in token session). Any refusal is raised
    as `KeyUnusable`, with the reason unchanged.
    """
    try:
        with _key_fault():
            if isinstance(ref, KeyFile):
                from byoroot_tui.core.signer import load_root_key

                return load_root_key(ref.path, lambda: secret)
            from byoroot_tui.core.pkcs11 import Pkcs11Signer, Pkcs11Uri

            # The PIN typed is given as the URI's pin-value (a copy, wiped below): like `--pin-file`,
            # a PIN typed for a token with a PIN pad logs in with it; with none typed, the pad is used.
            uri = Pkcs11Uri(token=ref.token_label, serial=ref.token_serial or None, object=ref.key_label or None,
                            id=ref.key_id or None, type="private", pin_value=bytearray(secret) if secret else None)
            try:
                return Pkcs11Signer(uri, module_path=ref.module)
            finally:
                uri.wipe()
    finally:
        wipe(secret)


@contextmanager
def _key_fault(failed: str | None = None) -> Iterator[None]:
    """A refusal inside is the key's: raised as `KeyUnusable`, with the reason unchanged. With
    ``failed``, any other error too (with that reason: its own text could hold anything)."""
    try:
        yield
    except KeyUnusable:
        raise
    except ByorootError as exc:
        raise KeyUnusable(str(exc)) from exc
    except Exception:
        if failed is None:
            raise
        raise KeyUnusable(failed) from None


class _KeyBlamed:
    """A signer whose refusals while signing are the key's (`KeyUnusable`): a token pulled or
    logged out mid-ceremony. Checks after the signature (verification, lint) keep their own type."""

    def __init__(self, signer: RootSigner) -> None:
        self._signer = signer

    def __getattr__(self, name: str) -> object:
        return getattr(self._signer, name)

    def sign(self, tbs: bytes, hash_algorithm: hashes.HashAlgorithm | None) -> bytes:
        with _key_fault("the root signer failed to sign"):
            return self._signer.sign(tbs, hash_algorithm)


def sign_with_key(ref: KeyRef, secret: bytearray | None, plan: Plan,
                  progress: Callable[[str], object] = lambda stage: None,
                  on_signed: Callable[[SignedCertificate], object] | None = None) -> Issued:
    """Open the key, sign the planned TBS (`issue.sign_tbs`: verified against the root), close
    the key, then ``on_signed`` (the caller records the certificate: `ledger.record_issued`; no
    signal cuts in between the signature and that record), then the lint after signing
    (`issue.lint_signed`), with the key already closed.

    ``progress`` hears "sign" once the key is open and "drop" once it is closed. The secret is
    wiped. A key that cannot be opened or used raises `KeyUnusable`; every other refusal (the
    signature does not verify, the record, the lint after signing) keeps its own type.
    """
    from byoroot_tui.core.issue import lint_signed, sign_tbs

    signed = sign_with(lambda: open_signer(ref, secret), plan.root, lambda signer: sign_tbs(plan, signer),
                       progress=progress, on_signed=on_signed)
    return lint_signed(signed)


S = TypeVar("S")


def sign_with(open_: Callable[[], RootSigner], root: RootCA, sign: Callable[[RootSigner], S],
              progress: Callable[[str], object] = lambda stage: None,
              on_signed: Callable[[S], object] | None = None) -> S:
    """The root key's whole life in one ceremony, for a certificate or a CRL: open it
    (``open_``), check it is the root's, ``sign`` with it (which verifies what it signed against
    the root), close it, then ``on_signed`` (the record: no signal cuts in between the signature
    and it). Returns what ``sign`` returned; the lint after signing is the caller's, with the key
    closed.

    ``progress`` hears "sign" once the key is open and "drop" once it is closed. Opening and
    using the key raise `KeyUnusable` when they fail; the checks after the signature and the
    record keep their own types.
    """
    from byoroot_tui.core.interrupts import deferred
    from byoroot_tui.core.signer import check_signer_matches

    signer = open_()
    open_now = True

    def drop() -> None:
        nonlocal open_now
        if open_now:
            open_now = False
            signer.close()
            progress("drop")

    try:
        with _key_fault():
            check_signer_matches(signer, root)  # the signing step checks again; a mismatch is the key's
        progress("sign")
        with deferred():
            try:
                signed = sign(_KeyBlamed(signer))  # type: ignore[arg-type]
            finally:
                drop()
            if on_signed is not None:
                on_signed(signed)
    finally:
        drop()
    return signed


def check_key(ref: KeyRef, root: RootCA, secret: bytearray | None) -> str:
    """Open the key, check it is the root certificate's, close it at once. Returns what was opened."""
    from byoroot_tui.core.signer import check_signer_matches

    signer = open_signer(ref, secret)
    try:
        check_signer_matches(signer, root)
        describe = getattr(signer, "describe", None)
        return describe() if callable(describe) else ref.describe()
    finally:
        signer.close()
