"""Reusable widgets: QR code, fingerprint, step bar."""
