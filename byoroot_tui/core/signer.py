"""Root signers: whatever holds the root key signs TBS bytes and nothing else.

`FileSigner` wraps a key loaded from a PEM/DER file. An HSM signer (PKCS#11) implements the
same protocol, so the issuing pipeline has one code path for both.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from byoroot_tui.core.errors import ByorootError, InputRefused, PassphraseNeeded
from byoroot_tui.core.files import read_input_file
from byoroot_tui.core.keys import key_problem, spki_der
from byoroot_tui.core.secretbuf import read_secret_file, wipe
from byoroot_tui.core.root import RootCA
from byoroot_tui.core.text import safe_text

MAX_PASSPHRASE_BYTES = 4096
_BEGIN = re.compile(rb"-----BEGIN ([^\r\n-]{0,80})-----")

# A passphrase source is asked only when the key turns out to be encrypted. It returns the
# passphrase as a bytearray (which the loader wipes after use) or None when there is none.
PassphraseSource = Callable[[], bytearray | None]


class RootSigner(Protocol):
    def public_key(self) -> object: ...

    def sign(self, tbs: bytes, hash_algorithm: hashes.HashAlgorithm | None) -> bytes:
        """Signature over ``tbs`` in X.509 form (ECDSA: DER Ecdsa-Sig-Value)."""
        ...

    def close(self) -> None:
        """Drop the key. Signing after close is an error."""
        ...


SupportedKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey


class FileSigner:
    def __init__(self, key: SupportedKey) -> None:
        self._key: SupportedKey | None = key

    def public_key(self) -> object:
        if self._key is None:
            raise ByorootError("the root key has already been dropped")
        return self._key.public_key()

    def sign(self, tbs: bytes, hash_algorithm: hashes.HashAlgorithm | None) -> bytes:
        key = self._key
        if key is None:
            raise ByorootError("the root key has already been dropped")
        if isinstance(key, rsa.RSAPrivateKey):
            assert hash_algorithm is not None
            signature = key.sign(tbs, padding.PKCS1v15(), hash_algorithm)
            # The key was loaded without cryptography's full RSA check (see `_load`): a signature that
            # does not verify (a damaged key) never leaves here, so it cannot leak the key's factors.
            try:
                key.public_key().verify(signature, tbs, padding.PKCS1v15(), hash_algorithm)
            except InvalidSignature:
                raise ByorootError("the root key made a signature that does not verify: "
                                   "the key file is damaged; nothing was signed") from None
            return signature
        if isinstance(key, ec.EllipticCurvePrivateKey):
            assert hash_algorithm is not None
            return key.sign(tbs, ec.ECDSA(hash_algorithm))
        return key.sign(tbs)

    def close(self) -> None:
        self._key = None

    def __enter__(self) -> FileSigner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_passphrase_file(path: str | os.PathLike[str]) -> bytearray:
    """The first line of a passphrase file (trailing CR/LF removed), as a wipeable bytearray."""
    return read_secret_file(path, "passphrase file", MAX_PASSPHRASE_BYTES)


def _label_problem(data: bytes, label: str) -> None:
    if b"-----BEGIN" not in data:
        return
    labels = [m.group(1).decode("ascii", "replace").strip() for m in _BEGIN.finditer(data)]
    if len(labels) != 1:
        raise InputRefused(f"{label} holds {len(labels)} PEM blocks; give exactly one private key")
    if "PRIVATE KEY" not in labels[0]:
        raise InputRefused(f"{label} holds a PEM block of type {safe_text(labels[0], 40)!r}, not a private key")


def _load(data: bytes, password: bytes | bytearray | None) -> object:
    # cryptography's RSA check on load tests p and q for primality: ~350 ms for a 4096-bit key,
    # which `openssl x509 -req` does not pay. What that check guards against is a damaged key
    # leaking itself through a faulty signature; here every RSA signature is verified with the
    # public key before it leaves `FileSigner.sign` (and OpenSSL re-checks each CRT result), and the
    # key must match the root certificate, so the check is skipped.
    if b"-----BEGIN" in data:
        return serialization.load_pem_private_key(data, password, unsafe_skip_rsa_key_validation=True)
    return serialization.load_der_private_key(data, password, unsafe_skip_rsa_key_validation=True)


def load_root_key(path: str | os.PathLike[str], passphrase: PassphraseSource | None = None) -> FileSigner:
    """Load a root private key (PEM or DER, PKCS#8 or traditional, encrypted or not)."""
    label = f"root key {safe_text(Path(path).name)!r}"
    data = read_input_file(path, "root key")
    _label_problem(data, label)
    try:
        key = _load(data, None)
    except TypeError:  # encrypted, and we gave no passphrase
        secret = passphrase() if passphrase else None
        if not secret:
            raise PassphraseNeeded(f"{label} is encrypted and no passphrase was given") from None
        try:
            key = _load(data, secret)
        except Exception:
            raise InputRefused(f"wrong passphrase for {label} (or the key file is damaged)") from None
        finally:
            wipe(secret)
    except Exception:
        raise InputRefused(f"{label} is not a private key (PEM or DER, PKCS#8 or traditional)") from None
    finally:
        data = b""
    if not isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey, ed25519.Ed25519PrivateKey)):
        raise InputRefused(f"{label}: this key type is not supported (use RSA, ECDSA or Ed25519)")
    problem = key_problem(key.public_key())
    if problem:
        raise InputRefused(f"{label}: {problem}")
    return FileSigner(key)


def check_signer_matches(signer: RootSigner, root: RootCA) -> None:
    if spki_der(signer.public_key()) != root.spki:
        raise InputRefused("the root key does not match the root certificate's public key")


def sign_as_root(signer: RootSigner, root: RootCA, tbs: bytes, hash_algorithm: object) -> bytes:
    """The root key's signature over ``tbs`` (a certificate's or a CRL's): the signer is checked
    to hold the root's key first; a failure of the signer itself is one line, never its traceback."""
    check_signer_matches(signer, root)
    try:
        return signer.sign(tbs, hash_algorithm)  # type: ignore[arg-type]
    except ByorootError:
        raise
    except Exception:
        raise ByorootError("the root signer failed to sign") from None
