# The two commands of the README: `make demo` and `make test`. Each builds .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PIP := $(BIN)/python -m pip --disable-pip-version-check -q
DEMO_OUT ?= demo-output

.PHONY: demo test lint typecheck unit bench clean

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip
	# torch first and pinned: this picks the CPU wheel on disk instead of a multi-GB CUDA build.
	$(PIP) install torch==2.13.0
	# tinysoundfont's pyaudio dependency is for playback only and needs portaudio headers.
	$(PIP) install --no-deps "tinysoundfont>=0.3.7"
	# Two measured human heads (SOFA) for unseen-head tests: data only, so without the package's dependencies.
	$(PIP) install --no-deps "spatialaudiometrics==0.1.2"
	# The test extra brings the reference libraries; Ray (an optional extra) so the Ray executor is tested too;
	# deploy (onnx, onnxruntime) so the ONNX export and its runner are tested too.
	$(PIP) install -e ".[test,ray,deploy]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/spatialrep demo --out $(DEMO_OUT)

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks examples
	$(BIN)/ruff format --check src tests benchmarks examples
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	./.ci/install-browser
	$(BIN)/python -m pytest

test: lint typecheck unit

bench: $(STAMP)
	for script in benchmarks/bench_*.py; do $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) $(DEMO_OUT) .pytest_cache .mypy_cache .ruff_cache
