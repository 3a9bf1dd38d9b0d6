# Two targets do everything on a fresh machine: `make run` and `make test`.
# torch is installed first, from $(TORCH), so that pip does not pull a multi-GB CUDA build
# when gpytorch/botorch ask for torch. Override with e.g. `make test TORCH=torch==2.14.1`.
PYTHON ?= python3
TORCH ?= torch==2.13.0
VENV ?= .venv
PY := $(VENV)/bin/python
# The main job: every model on the default multi-fidelity data, production volumes held out.
DATA ?= data/bioreactor_multifidelity.csv
TARGET ?= titer_gL
OUT ?= outputs
ARGS ?= --ignore biomass_gL --holdout-largest 2 --model all --suggest-costs lab=1,pilot=20

.PHONY: run test lint format clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(TORCH)"
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

run: $(VENV)/.installed
	MPLBACKEND=Agg $(VENV)/bin/mfgp run --data $(DATA) --target $(TARGET) --out $(OUT) $(ARGS)

test: $(VENV)/.installed
	MPLBACKEND=Agg $(PY) -m pytest -q $(TEST_ARGS)

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check mfgp tests benchmarks scripts
	$(VENV)/bin/ruff format --check mfgp tests benchmarks scripts

format: $(VENV)/.installed
	$(VENV)/bin/ruff format mfgp tests benchmarks scripts
	$(VENV)/bin/ruff check --fix mfgp tests benchmarks scripts

clean:
	rm -rf $(VENV) outputs .pytest_cache .ruff_cache
