# GPT Studio: `make run` starts the app, `make test` runs the tests. Both set everything up on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# CPU users and CI: the pinned CPU wheel. GPU users: see README (install CUDA torch first, then `make run`).
TORCH_SPEC ?= torch==2.13.0
# e.g. https://download.pytorch.org/whl/cpu for the small CPU-only wheel on Linux (PyPI's default is the CUDA build)
TORCH_INDEX ?=
STAMP := $(VENV)/.installed
PACKAGE_STAMP := $(VENV)/.installed-package

.PHONY: run test lint bench clean venv package package-test

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install --quiet "$(TORCH_SPEC)" \
		$(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/gpt-studio

test: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check gpt_studio tests benchmarks

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_data.py

$(PACKAGE_STAMP): $(STAMP) pyproject.toml
	$(BIN)/python -m pip install --quiet -e ".[package]"
	touch $(PACKAGE_STAMP)

# The one-folder app in dist/gpt-studio/ (PyInstaller; see packaging/README.md). --clean: no stale cache.
package: $(PACKAGE_STAMP)
	@start=$$(date +%s); \
	$(BIN)/pyinstaller --noconfirm --clean --log-level WARN --distpath dist --workpath build/pyinstaller \
		packaging/gpt-studio.spec && \
	echo "package: dist/gpt-studio built in $$(( $$(date +%s) - start )) s"

# Before each release: build, then run the bundle's self-check (offscreen); record the figures in
# docs/BENCHMARKS.md ("Packaging").
package-test: package
	packaging/smoke.sh dist/gpt-studio

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache
