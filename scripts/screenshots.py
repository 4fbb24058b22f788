#!/usr/bin/env python3
"""Write an SVG of every screen of a demo ceremony into screenshots/ (`make screenshots`).

The app is driven with a Textual Pilot exactly as an officer drives it, on throwaway demo
material, at 80x24 (the smallest supported terminal) and 160x48. Usage:

    python scripts/screenshots.py [OUTDIR] [--size 80x24 --size 160x48]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from byoroot_tui.core.demo import make_demo  # noqa: E402
from byoroot_tui.core.media import discover_media  # noqa: E402
from byoroot_tui.ui import drive  # noqa: E402
from byoroot_tui.ui.app import Services, make_app  # noqa: E402

PASSPHRASE = "correct horse battery staple"


LOG_DIR: Path | None = None  # a temporary folder for the station log: never the station's real one


def services() -> Services:
    assert LOG_DIR is not None
    return Services(discover=lambda roots: discover_media(roots, include_system=False), poll_interval=0,
                    log_path=LOG_DIR / "station-log.jsonl", clipboard=lambda text: False)


def read_only_tmpfs(path: Path) -> bool:
    """Mount a small tmpfs at ``path`` (root only). True when it worked."""
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        return False
    return subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(path)],
                          capture_output=True).returncode == 0


def remount(path: Path, mode: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{mode}", str(path)], check=True, capture_output=True)


def read_only_after_the_checks(stick: Path) -> None:
    """The stick turns read-only right after the checks made at SIGN (a read-only stick is refused
    there, before the key): the write fails after signing, as when a stick fails mid-ceremony."""
    from byoroot_tui.core import record

    real = record.preflight

    def checks_then_read_only(*args, **kwargs):  # type: ignore[no-untyped-def]
        notes = real(*args, **kwargs)
        record.preflight = real
        remount(stick, "ro")
        return notes

    record.preflight = checks_then_read_only


async def shoot(size: tuple[int, int], out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    shots: list[Path] = []

    def save(app, name: str) -> None:  # type: ignore[no-untyped-def]
        app.save_screenshot(f"{name}.svg", path=str(out))
        shots.append(out / f"{name}.svg")

    with tempfile.TemporaryDirectory(prefix="byoroot-shots-") as tmp:
        base = Path(tmp)
        m = make_demo(base / "demo")
        enc_key = base / "demo" / "station" / "demo-root-encrypted.key"
        drive.write_encrypted_key(m.root_key, enc_key, PASSPHRASE)
        ro = base / "ro-stick"
        have_ro = read_only_tmpfs(ro)

        # The main ceremony: demo stick, encrypted root key, output to a stick that turns read-only.
        app = make_app(media_roots=[m.stick], root_cert=m.root_cert, root_key=enc_key, demo=True,
                       out=ro if have_ro else None, services=services())
        try:
            async with app.run_test(size=size) as pilot:
                c = app.ceremony
                await drive.wait_for(pilot, lambda: c.csr is not None, "the demo CSR")
                save(app, "01-media")
                await drive.to_preview(pilot, app)
                save(app, "02-csr")
                await pilot.press("ctrl+n")
                await drive.wait_for(pilot, lambda: drive.step_of(app) == "profile", "profile")
                save(app, "03-profile")
                await pilot.press("ctrl+n")
                await drive.wait_for(pilot, lambda: drive.step_of(app) == "root", "root")
                await drive.check_key(pilot, app, "not the passphrase")
                save(app, "04a-root-wrong-passphrase")
                await drive.check_key(pilot, app, PASSPHRASE)
                save(app, "04-root")
                await pilot.press("ctrl+n")
                await drive.wait_for(pilot, lambda: c.plan_is_current(), "the plan")
                save(app, "05-review")
                await drive.type_into(pilot, app, "#officer1", "Alice Martin")
                await drive.type_into(pilot, app, "#officer2", "alice martin ")
                save(app, "05a-review-same-officer")
                await drive.type_into(pilot, app, "#officer2", "Bob Okafor")
                save(app, "05b-review-confirmed")
                if have_ro:
                    read_only_after_the_checks(ro)
                await drive.sign(pilot, app)
                if c.write_error:
                    save(app, "06-sign-write-failed")
                    await pilot.press("ctrl+o")
                    await pilot.pause(0.5)
                    save(app, "06a-pick-other-folder")
                    await pilot.press("ctrl+s")
                    await drive.wait_for(pilot, lambda: c.written is not None, "the write to the demo stick")
                    await drive.wait_for(pilot, lambda: drive.step_of(app) == "result", "result")
                save(app, "07-result")
                await pilot.press("v")
                await pilot.pause(0.2)
                save(app, "08-qr")
                await pilot.press("escape")
                await drive.wait_for(pilot, lambda: drive.step_of(app) == "result", "the result again")
                await pilot.press("c")
                await pilot.pause(0.2)
                save(app, "09-result-copied")
        finally:
            if have_ro:
                subprocess.run(["umount", str(ro)], capture_output=True)

        # A CSR the core refuses: shown in full, with the reason, and blocking.
        weak_stick = base / "weak-stick"
        weak_stick.mkdir()
        drive.write_weak_csr(weak_stick / "weak-1024.csr")
        app = make_app(media_roots=[weak_stick], services=services(), demo=True)
        async with app.run_test(size=size, notifications=True) as pilot:
            await drive.to_preview(pilot, app)
            await pilot.press("ctrl+n")  # refused: stays, says why
            await pilot.pause(0.2)
            save(app, "02a-csr-refused")

        await shoot_crl(size, base, m.root_cert, enc_key, save)
        await shoot_hsm(size, base, save)
    return shots


async def shoot_crl(size: tuple[int, int], base: Path, root_cert: Path, root_key: Path, save) -> None:  # type: ignore[no-untyped-def]
    """The first screen (no CSR on the stick), and the root CRL ceremony over the station log the
    main ceremony wrote: the CRL step, the revoke dialog, the review, the result."""
    stick = base / "crl-stick"
    stick.mkdir()
    app = make_app(media_roots=[stick], root_cert=root_cert, root_key=root_key, demo=True, services=services())
    async with app.run_test(size=size) as pilot:
        c = app.ceremony
        await drive.wait_for(pilot, lambda: c.ledger is not None, "the ledger")
        app.clear_notifications()
        await pilot.pause(0.1)
        save(app, "00-choose-ceremony")
        await drive.choose_kind(pilot, app, "crl")
        await drive.check_key(pilot, app, PASSPHRASE)
        await pilot.press("ctrl+n")
        await drive.wait_for(pilot, lambda: drive.step_of(app) == "crl", "the CRL step")
        await drive.wait_for(pilot, lambda: c.ledger is not None and c.ledger.rows, "the ledger")
        await pilot.pause(0.2)
        while app.screen.highlighted_row() is not None and app.screen.highlighted_row().revoked_at:
            await pilot.press("down")  # another size's run revoked the first one already (one log per run)
        save(app, "10-crl-entries")
        await pilot.press("r")
        await drive.wait_for(pilot, lambda: type(app.screen).__name__ == "RevokeModal", "the revoke dialog")
        await pilot.press("down", "down", "enter")
        await drive.type_into(pilot, app, "#revoke-officer1", "Alice Martin", submit=False)
        save(app, "10a-crl-revoke")
        await pilot.press("enter")
        await drive.type_into(pilot, app, "#revoke-officer2", "Bob Okafor")
        await drive.wait_for(pilot, lambda: drive.step_of(app) == "crl" and any(r.revoked_at for r in c.ledger.rows),
                             "the revocation")
        app.clear_notifications()
        await pilot.pause(0.2)
        save(app, "10b-crl-revoked")
        await pilot.press("ctrl+n")
        await drive.wait_for(pilot, lambda: c.plan_is_current(), "the CRL plan")
        await drive.confirm_officers(pilot, app)
        save(app, "11-crl-review")
        await drive.sign(pilot, app)
        app.clear_notifications()
        await pilot.pause(0.2)
        save(app, "12-crl-result")


async def shoot_hsm(size: tuple[int, int], base: Path, save) -> None:  # type: ignore[no-untyped-def]
    """The root screen with the key in a SoftHSM2 token (skipped, with a note, without SoftHSM2)."""
    sys.path.insert(0, str(ROOT / "tests"))
    import pytest

    from test_pkcs11_softhsm import PIN, SoftHsm, make_hsm_root, make_stick

    if not shutil.which("softhsm2-util"):
        print("softhsm2-util not found: no screenshot of the HSM root screen", file=sys.stderr)
        return
    from cryptography.hazmat.primitives import hashes

    with pytest.MonkeyPatch.context() as mp:
        hsm_dir = base / "hsm"
        hsm_dir.mkdir()
        hsm = SoftHsm(hsm_dir, mp)
        hsm.init_token("ceremony-root", PIN)
        key = hsm.generate("ceremony-root", PIN, "p384", "root-2026", b"\x01")
        hsm.generate("ceremony-root", PIN, "rsa3072", "root-2016", b"\x02")
        hsm.init_token("spare", PIN)
        root_pem = hsm_dir / "root.pem"
        make_hsm_root(hsm, "ceremony-root", PIN, key, root_pem, hashes.SHA384(), cn="Example Offline Root CA")
        stick = make_stick(hsm_dir, "p256")
        app = make_app(media_roots=[stick.folder], root_cert=root_pem, pkcs11_module=hsm.module, services=services())
        async with app.run_test(size=size) as pilot:
            c = app.ceremony
            await drive.to_root(pilot, app)
            await drive.wait_for(pilot, lambda: len(app.screen._tokens) > 1, "the token list")
            tokens = app.screen._tokens
            target = next(i for i, t in enumerate(tokens) if t.label == "ceremony-root")
            while app.screen.query_one("#hsm-tokens").highlighted != target:
                await pilot.press("down")
            await pilot.press("enter")
            await drive.wait_for(pilot, lambda: len(app.screen._keys) == 2, "the key list")
            save(app, "04b-root-hsm-keys")
            keys = app.screen._keys
            target = next(i for i, k in enumerate(keys) if k.label == "root-2026")
            while app.screen.query_one("#hsm-keys").highlighted != target:
                await pilot.press("down")
            await pilot.press("enter")
            await drive.type_into(pilot, app, "#pin", PIN)
            await drive.wait_for(pilot, lambda: c.key_checked or c.key_error is not None, "the key check")
            save(app, "04c-root-hsm-checked")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("outdir", nargs="?", default=str(ROOT / "screenshots"))
    ap.add_argument("--size", action="append", help="WIDTHxHEIGHT (repeatable; default 80x24 and 160x48)")
    args = ap.parse_args()
    sizes = args.size or ["80x24", "160x48"]
    outdir = Path(args.outdir).absolute()
    global LOG_DIR
    with tempfile.TemporaryDirectory(prefix="byoroot-shots-log-") as log_dir:
        LOG_DIR = Path(log_dir)
        for s in sizes:
            w, h = (int(x) for x in s.split("x"))
            target = outdir / s
            if target.exists():
                shutil.rmtree(target)
            shots = asyncio.run(shoot((w, h), target))
            for p in shots:
                print(p.relative_to(outdir.parent))
    return 0


if __name__ == "__main__":
    sys.exit(main())
