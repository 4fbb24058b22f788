"""`byoroot profiles [--json]` lists intermediate-ca with its settings."""

from __future__ import annotations

import json

import factories as f


def test_profiles_text(cli) -> None:  # type: ignore[no-untyped-def]
    r = cli("profiles")
    assert r.rc == 0, r.err
    out = r.out
    assert "intermediate-ca" in out
    block = out.split("\n\n")[0]  # intermediate-ca comes first
    assert block.startswith("intermediate-ca (built-in)")
    lines = {ln.split(":", 1)[0].strip(): ln.split(":", 1)[1].strip() for ln in block.splitlines() if ln.startswith("  ") and ":" in ln}
    assert lines["path length"] == "0"
    assert lines["validity"] == "3650 days, capped to the root's notAfter"
    assert lines["signature hash"].startswith("SHA-512")
    assert lines["key usage"] == "digital_signature, key_cert_sign, crl_sign (critical)"
    assert lines["backdate"] == "5 minutes"
    assert f.unsafe_chars(out) == []


def test_profiles_json(cli) -> None:  # type: ignore[no-untyped-def]
    r = cli("profiles", "--json")
    assert r.rc == 0, r.err
    profiles = {p["name"]: p for p in json.loads(r.out)["profiles"]}
    p = profiles["intermediate-ca"]
    assert p["validity_days"] == 3650
    assert p["path_length"] == 0
    assert p["signature_hash"] == "sha512"
    assert p["key_usage"] == ["digital_signature", "key_cert_sign", "crl_sign"]
    assert p["cap_to_issuer"] is True
    assert p["backdate_minutes"] == 5
    assert p["description"]


def test_profiles_json_through_the_console_script() -> None:
    p = f.run_proc([f.byoroot_exe(), "profiles", "--json"])
    assert p.returncode == 0
    assert "intermediate-ca" in {x["name"] for x in json.loads(p.stdout)["profiles"]}


def test_the_listed_settings_are_what_sign_does(ceremony, cli) -> None:  # type: ignore[no-untyped-def]
    """The listed profile is the one applied: pathlen, key usage and validity of a signed certificate."""
    from cryptography import x509

    p = {q["name"]: q for q in json.loads(cli("profiles", "--json").out)["profiles"]}["intermediate-ca"]
    c = ceremony()
    t0 = f.utcnow()
    assert cli(*c.sign_argv("--profile", "intermediate-ca")).rc == 0
    cert = c.issued()
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.path_length == p["path_length"]
    assert cert.extensions.get_extension_for_class(x509.KeyUsage).value == f.key_usage(*p["key_usage"])
    days = (cert.not_valid_after_utc - t0).total_seconds() / 86400
    assert abs(days - p["validity_days"]) < 0.01
