# Two targets do everything on a fresh machine: `make run` and `make test`.
# torch is installed first, from $(TORCH), so that pip does not pull a multi-GB CUDA build
# when gpytorch/botorch ask for torch. Override with e.g. `make test TORCH=torch==2.14.1`.
# Every other package is pinned by $(CONSTRAINTS), a known-good set that `make lock` remakes
# from the newest releases pyproject.toml allows (`make test CONSTRAINTS=` installs unpinned).
PYTHON ?= python3
TORCH ?= torch==2.13.0
CONSTRAINTS ?= constraints.txt
VENV ?= .venv
PY := $(VENV)/bin/python
PIN := $(if $(CONSTRAINTS),-c $(CONSTRAINTS))
LOCK_VENV := .lock-venv
# The main job: auto and every model on the default multi-fidelity data, production volumes
# held out.
DATA ?= mfgp/datasets/bioreactor_multifidelity.csv
TARGET ?= titer_gL
OUT ?= outputs
ARGS ?= --ignore biomass_gL --holdout-largest 2 --model auto,all --suggest-costs lab=1,pilot=20

.PHONY: run test lint format clean lock

$(VENV)/.installed: pyproject.toml $(CONSTRAINTS)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade $(PIN) pip
	$(PY) -m pip install --quiet $(PIN) "$(TORCH)"
	$(PY) -m pip install --quiet $(PIN) -e ".[dev]"
	touch $@

# Remake constraints.txt: a fresh venv with the newest releases that pyproject.toml allows,
# frozen (torch and its CUDA wheels left out, so that TORCH stays free to choose them).
lock:
	rm -rf $(LOCK_VENV)
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(LOCK_VENV)/bin/python -m pip install --quiet "$(TORCH)"
	$(LOCK_VENV)/bin/python -m pip install --quiet -e ".[dev]"
	{ echo "# Known-good versions for make run / make test (pip install -c constraints.txt)."; \
	  echo "# Made by make lock with $$($(LOCK_VENV)/bin/python --version) and $(TORCH)."; \
	  $(LOCK_VENV)/bin/python -m pip freeze --all --exclude-editable \
	    | grep -v -i -E '^(torch|triton|nvidia-|cuda-|mfgp)([=<> @]|$$)'; } > constraints.txt.tmp
	mv constraints.txt.tmp constraints.txt
	rm -rf $(LOCK_VENV)
	@echo "wrote constraints.txt; run make clean test to check it"

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
	rm -rf $(VENV) $(LOCK_VENV) outputs .pytest_cache .ruff_cache
