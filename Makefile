# Two commands set everything up on a fresh machine with Python >= 3.10:
#   make train   # creates .venv, installs rnn_apps, trains the forecasting pipeline, exports it
#   make test    # creates .venv, installs rnn_apps[dev], runs the test suite
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
TASK ?= forecast
OUT ?= runs/$(TASK)

.PHONY: install train test lint format notebooks models clean

$(BIN)/.rnn_apps-installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e ".[dev]"
	touch $@

install: $(BIN)/.rnn_apps-installed

train: install
	$(BIN)/rnn-apps $(TASK) train --output-dir $(OUT)

test: install
	$(BIN)/python -m pytest -n 2 --dist loadfile -q --durations=15

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Regenerates every committed model under saved_models/ from its recorded command (hours).
models: install
	$(BIN)/python benchmarks/regenerate_models.py

notebooks: install
	$(BIN)/python notebooks/execute.py

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache runs
