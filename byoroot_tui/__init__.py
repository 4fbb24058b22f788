"""byoroot_tui: sign a hosted CA's intermediate CSR with an offline root, safely."""

__version__ = "0.1.0"
