"""Describe public keys and decide which are acceptable."""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa, x448, x25519

ALLOWED_CURVES = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}
MIN_RSA_BITS = 2048
MIN_RSA_EXPONENT = 65537


def describe_key(key: object) -> tuple[str, str]:
    """(algorithm, size or curve) for display, e.g. ("RSA", "4096 bits"), ("ECDSA", "P-384")."""
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA", f"{key.key_size} bits"
    if isinstance(key, ec.EllipticCurvePublicKey):
        name = key.curve.name
        return "ECDSA", ALLOWED_CURVES.get(name, name)
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519", "256 bits"
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448", "456 bits"
    if isinstance(key, dsa.DSAPublicKey):
        return "DSA", f"{key.key_size} bits"
    if isinstance(key, (x25519.X25519PublicKey, x448.X448PublicKey)):
        return type(key).__name__.replace("PublicKey", ""), "key agreement only"
    return type(key).__name__, "unknown"


def key_problem(key: object) -> str | None:
    """Why this public key may not be certified or used as a CA key, or None if it is fine."""
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < MIN_RSA_BITS:
            return f"RSA key of {key.key_size} bits is too small (minimum {MIN_RSA_BITS})"
        e = key.public_numbers().e
        if e < MIN_RSA_EXPONENT or e % 2 == 0:
            return f"RSA public exponent {e} is not allowed (must be odd and at least {MIN_RSA_EXPONENT})"
        return None
    if isinstance(key, ec.EllipticCurvePublicKey):
        if key.curve.name not in ALLOWED_CURVES:
            return f"elliptic curve {key.curve.name} is not allowed (use P-256, P-384 or P-521)"
        return None
    if isinstance(key, ed25519.Ed25519PublicKey):
        return None
    if isinstance(key, dsa.DSAPublicKey):
        return "DSA keys are not allowed"
    algorithm, _ = describe_key(key)
    return f"{algorithm} keys are not supported (use RSA, ECDSA P-256/P-384/P-521 or Ed25519)"


def spki_der(key: object) -> bytes:
    """The SubjectPublicKeyInfo DER of a public key (for comparing keys)."""
    return key.public_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
