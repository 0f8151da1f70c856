# Everyday commands. Every target that runs dlbook depends on the install stamp, so on a fresh
# clone `make train` or `make test` sets up the virtual environment first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ARGS ?=
SWEEP ?= model.units=32,64
PORT ?= 6006

.DEFAULT_GOAL := help
.PHONY: help install test train sweep tensorboard bench lint clean

help: ## List the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,jax]'
	touch $(STAMP)

install: $(STAMP) ## Create .venv and install dlbook with its dev tools and the JAX backend
	@echo "dlbook is installed in $(VENV): run $(BIN)/dlbook --help (or source $(BIN)/activate)"

test: $(STAMP) ## Run the whole test suite (offline, on every core with pytest-xdist)
	$(BIN)/pytest -n auto --dist worksteal

train: $(STAMP) ## Train the default experiment (Boston housing, offline); ARGS="experiment=imdb ..." for others
	$(BIN)/dlbook train $(ARGS)

sweep: $(STAMP) ## A multirun sweep of the default experiment; SWEEP="model.units=16,32 seed=0,1"
	$(BIN)/dlbook train -m $(SWEEP) $(ARGS)

tensorboard: $(STAMP) ## Serve TensorBoard for every run under outputs/ on 127.0.0.1 (PORT=6006)
	$(BIN)/tensorboard --logdir outputs --host 127.0.0.1 --port $(PORT)

bench: $(STAMP) ## Benchmarks (minutes): writes bench/results/*.json and bench/results.md
	$(BIN)/python bench/image_pipeline.py
	$(BIN)/python bench/runner_overhead.py
	$(BIN)/python bench/jena_windows.py
	$(BIN)/python bench/speed_features.py
	$(BIN)/python bench/sweep_throughput.py
	$(BIN)/python bench/soak.py
	$(BIN)/python bench/bad_values.py
	$(BIN)/python bench/startup.py
	$(BIN)/python bench/memory.py
	$(BIN)/python bench/backends.py
	$(BIN)/python bench/runs_table.py
	$(BIN)/python bench/report.py

lint: $(STAMP) ## Check style with ruff
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

clean: ## Remove run outputs and build artefacts (keeps .venv)
	rm -rf outputs multirun build dist .pytest_cache .ruff_cache src/*.egg-info
