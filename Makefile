# The README's two commands: `make demo` and `make test`. Both build .venv themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bundle bench bench-crl bench-tui bench-media screenshots clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/byoroot demo

test: $(STAMP)
	$(BIN)/python -m pytest

# One file to carry to the airgapped station: dist/byoroot-station-<version>.tar.gz (byoroot's wheel and
# every dependency's, for CPython 3.11/3.13 on x86_64/aarch64, install.sh, MANIFEST.json), from the last
# commit, reproducibly. Needs the network (the wheels locked in bundle/requirements.txt).
bundle: $(STAMP)
	$(BIN)/python scripts/bundle.py

bench: $(STAMP)
	$(BIN)/python bench/sign_bench.py

# `byoroot crl` (every check) against `openssl ca -gencrl`, and against openssl + pkilint's lint_crl by hand.
bench-crl: $(STAMP)
	$(BIN)/python bench/crl_bench.py

# The app's speed and memory against issue #7's goals (PASS/MISS): cold start vs a bare Textual app,
# key press to repaint per screen, SIGN to fingerprint, peak RSS of a whole ceremony. 3–4 minutes.
bench-tui: $(STAMP)
	$(BIN)/python bench/tui_bench.py

# The media screen on a 10,000-file stick: key press to repaint while the CSR search runs, and after.
bench-media: $(STAMP)
	$(BIN)/python bench/media_bench.py

# An SVG of every screen of a demo ceremony, at 80x24 and 160x48, into screenshots/.
screenshots: $(STAMP)
	$(BIN)/python scripts/screenshots.py screenshots

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
