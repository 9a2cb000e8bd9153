# The README's two commands: `make demo` (main job on the embedded synthetic data) and `make test`.
# Both create the virtual environment .venv on first use, with pinned versions (constraints.txt).
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint venv clean

$(BIN)/ssrdepth: pyproject.toml constraints.txt
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e ".[all,dev]"
	touch $(BIN)/ssrdepth

venv: $(BIN)/ssrdepth

demo: venv
	$(BIN)/ssrdepth demo --out runs/demo

test: venv
	$(BIN)/pytest -n 2 --dist loadgroup

lint: venv
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) runs
