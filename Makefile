# genmnist developer tasks. `make test` is the README's test command; .ci/run calls it.
PY ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
# Offline project machines keep MNIST beside the checkout; elsewhere genmnist downloads it once.
ifneq ($(wildcard ../shared/data/MNIST/raw),)
export GENMNIST_DATA ?= $(abspath ../shared/data)
endif

.PHONY: install test lint demo bench clean

$(BIN)/genmnist: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[dev]"
	touch $@

install: $(BIN)/genmnist

test: install
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check src tests bench

demo: install
	$(BIN)/genmnist train cvae --epochs 30
	$(BIN)/genmnist generate --n 10000 --grid samples-grid.png

bench: install
	$(BIN)/python bench/speed.py

clean:
	rm -rf build dist .pytest_cache .ruff_cache src/*.egg-info
