"""One exception family. Its message is exactly what the officer reads: one line, no secrets."""

from __future__ import annotations


class ByorootError(Exception):
    """Something was refused or failed. ``str(err)`` is a single line meant for the officer."""

    def __init__(self, message: str) -> None:
        # One line, always: a multi-line reason would let hostile text spoof output.
        message = " ".join(str(message).split())
        super().__init__(message)

    @property
    def reason(self) -> str:
        return str(self)


class InputRefused(ByorootError):
    """A file given to us (CSR, root certificate, root key, passphrase) was refused."""


class KeyUnusable(InputRefused):
    """The root key could not be opened or used: a wrong passphrase or PIN, a locked or missing
    token, a key that is not the root's, a token error while signing. The officer fixes the key
    (the root step), not the request."""


class PassphraseNeeded(KeyUnusable):
    """The root key file is encrypted and no passphrase was given: the app asks for one."""


class LogRefused(ByorootError):
    """The station log cannot take an entry (not a regular file, not a station log, damaged,
    read-only). Nothing is signed while this is so, and a refusal cannot be logged either."""


class PolicyRefused(ByorootError):
    """The request is well formed but issuing it would break a rule."""


class ExportFailed(ByorootError):
    """The certificate could not be written to the medium; nothing partial was left."""


class TargetExists(ExportFailed):
    """A file of that name is already in the folder (or appeared there while writing); nothing
    was replaced. The CLI adds how to replace it (--force); the app asks the officers."""


class VerifyFailed(ByorootError):
    """A certificate did not pass `verify`."""


class SignedNotExported(ByorootError):
    """The root key signed and the station log holds what it signed, but it was then refused
    (the lint after signing) or not exported: the message says where it is."""
