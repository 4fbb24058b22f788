"""The Textual front end. Imported only when the TUI starts (never by `byoroot inspect/sign`)."""
