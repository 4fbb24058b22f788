"""Secrets in wipeable buffers: a passphrase or a PIN is held in a `bytearray`, never a `str`
where it can be avoided, and overwritten as soon as it has been used."""

from __future__ import annotations

import os

from byoroot_tui.core.errors import InputRefused
from byoroot_tui.core.files import read_input_file


def wipe(buf: bytearray | None) -> None:
    """Overwrite ``buf`` with zero bytes (None is fine)."""
    if buf is not None:
        buf[:] = b"\x00" * len(buf)


def read_secret_file(path: str | os.PathLike[str], what: str, cap: int) -> bytearray:
    """The first line of a passphrase or PIN file (trailing CR/LF removed), as a wipeable bytearray.

    ``what`` names the file in messages ("passphrase file", "PIN file"). The rest of the file is
    overwritten before it is dropped."""
    data = bytearray(read_input_file(path, what, cap=cap))
    end = data.find(b"\n")
    if end != -1:
        data[end:] = b"\x00" * (len(data) - end)
        del data[end:]
    if data.endswith(b"\r"):
        data[-1:] = b"\x00"
        del data[-1:]
    if not data:
        raise InputRefused(f"the {what} is empty")
    return data
