# The two set-up commands of the README. Both are idempotent.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# On this kind of machine torch and torchvision come from local disk; elsewhere an existing torch >= 2.5 is kept.
TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1

.PHONY: demo test venv docs

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

venv: $(PY)
	@$(PY) -c "import torch, torchvision" 2>/dev/null || $(PY) -m pip install --quiet $(TORCH_SPEC)
	$(PY) -m pip install --quiet -e ".[test]"

demo: venv
	$(VENV)/bin/cogvision demo --overwrite

test: venv
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -n 2 --nbmake tests experiments
	$(PY) -m pytest -q -p no:cacheprovider --doctest-modules cogvision data_loaders
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --quiet

docs: venv
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict
