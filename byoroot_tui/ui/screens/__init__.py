"""One module per ceremony step, plus the modal dialogs."""
