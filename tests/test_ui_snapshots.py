"""Snapshots of every screen: an SVG per screen (Textual's save_screenshot) and the key text on it.

pytest-textual-snapshot pins pytest below 9 (it would downgrade this venv's pytest 9), so instead
of pixel-exact snapshots each screen is saved as SVG and checked for what an officer must see.
Random serials, keys and dates make byte-exact snapshots meaningless anyway.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from byoroot_tui.core.demo import DEMO_CSR_NAME, make_demo
from byoroot_tui.ui import drive
from byoroot_tui.ui.app import make_app
from test_ui_ceremony import PASSPHRASE, run, services  # noqa: E402

SCREENS: dict[str, list[str]] = {
    "01-media": ["1 Media", "Media", DEMO_CSR_NAME, "DEMO", "^n Next", "Rescan", "^q Quit"],
    "02-csr": ["ACCEPTABLE", "SHA-256 (DER)", "Subject", "Public key", "ECDSA (P-256)", "Self-signature",
               "verifies", "Requested extensions", "basicConstraints", "kept", "Findings", "esc Back"],
    "03-profile": ["intermediate-ca", "(default)", "path length 0", "Validity", "3650 days", "Signature hash",
                   "SHA-512", "Key usage", "key_cert_sign", "Root expiry"],
    "04-root": ["Root cert", "Root key", "Demo Offline Root CA", "ECDSA (P-384)", "Passphrase", "•",
                "matches the root certificate", "^o Browse"],
    "05-review": ["Certificate to be issued", "Subject", "Issuer", "Serial", "Not before", "Not after",
                  "Signature", "ecdsa-with-SHA512", "basicConstraints", "Officer 1", "Officer 2", "Type SIGN"],
    "06-result": ["ISSUED AND WRITTEN", "SHA-256 fingerprint of intermediate.crt", "Copy fingerprint",
                  "QR full screen", "█"],
    "07-qr": ["█", "▀", "▄", "Close"],
}


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
def test_every_screen_snapshot(tmp_path: Path, size: tuple[int, int]) -> None:
    m = make_demo(tmp_path / "demo")
    enc = tmp_path / "demo" / "station" / "root-encrypted.key"
    drive.write_encrypted_key(m.root_key, enc, PASSPHRASE)
    out = tmp_path / "svg"
    out.mkdir()
    app = make_app(media_roots=[m.stick], root_cert=m.root_cert, root_key=enc, demo=True, services=services())
    texts: dict[str, str] = {}

    def snap(name: str) -> None:
        app.save_screenshot(f"{name}.svg", path=str(out))
        texts[name] = drive.screen_text(app)

    async def script(pilot: Any) -> None:
        c = app.ceremony
        await drive.wait_for(pilot, lambda: c.csr is not None, "the CSR")
        snap("01-media")
        await drive.to_preview(pilot, app)
        snap("02-csr")
        await pilot.press("ctrl+n")
        await drive.wait_for(pilot, lambda: drive.step_of(app) == "profile", "profile")
        snap("03-profile")
        await pilot.press("ctrl+n")
        await drive.wait_for(pilot, lambda: drive.step_of(app) == "root", "root")
        await drive.check_key(pilot, app, PASSPHRASE)
        snap("04-root")
        await pilot.press("ctrl+n")
        await drive.wait_for(pilot, c.plan_is_current, "the plan")
        await drive.confirm_officers(pilot, app)
        snap("05-review")
        await drive.sign(pilot, app)
        snap("06-result")
        await pilot.press("v")
        await drive.wait_for(pilot, lambda: type(app.screen).__name__ == "QrModal", "the QR")
        snap("07-qr")

    run(app, size, script)
    for name, expected in SCREENS.items():
        svg = (out / f"{name}.svg").read_text()
        assert svg.startswith("<svg") and len(svg) > 5000, name
        missing = [e for e in expected if e not in texts[name]]
        assert not missing, f"{name} at {size} lacks {missing}:\n{texts[name]}"
        # every screen but the QR one keeps its Footer with Quit; the step bar is on every step
        if name != "07-qr":
            assert "^q Quit" in texts[name] and "byoroot" in texts[name].splitlines()[0]
    assert PASSPHRASE not in "".join(texts.values())
