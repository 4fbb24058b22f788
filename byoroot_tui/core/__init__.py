"""The domain core: plain Python over `cryptography`. Never imports textual or rich."""
