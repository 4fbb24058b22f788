"""Import, in a background thread, what a command needs only at its end.

`byoroot sign` and `byoroot crl` spend part of their run waiting for the lint helper
(core/lintproc.py), which loads pkilint in its own process: the main thread is blocked on a
pipe then and holds no interpreter lock. fpdf2 (the PDF sheet; 150-350 ms to import, fonts and
all) and qrcode are imported meanwhile, so the export at the end does not wait for them. Start
it after the lint helper is forked (no fork while another thread runs). Imports only: nothing
here reads a file of the ceremony, a key or a secret. Best effort: a failure here is met again,
and reported, where the module is really used.
"""

from __future__ import annotations

import importlib
import threading

MODULES = ("fpdf", "qrcode")


def _import_all() -> None:
    for name in MODULES:
        try:
            importlib.import_module(name)
        except Exception:  # reported where the module is used
            pass


def in_background() -> threading.Thread:
    thread = threading.Thread(target=_import_all, name="byoroot-preload", daemon=True)
    thread.start()
    return thread
