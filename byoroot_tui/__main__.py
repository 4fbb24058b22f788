import sys

from byoroot_tui.cli import main

if __name__ == "__main__":
    sys.exit(main())
