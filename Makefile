# The two commands of the course.  `make course` runs every notebook in the default preset
# (cpu without CUDA) and prints the results table; `make test` runs pytest (unit tests and
# every notebook in the smoke preset).  Both create .venv when it is missing.
#
#   make course PRESET=smoke          # any preset: smoke, cpu, gpu
#   make course NOTEBOOKS="01 03"     # a subset
#   make test TORCH=torch             # another PyTorch requirement (default: a known-good CPU build)

PYTHON   ?= python3
VENV     ?= .venv
PY       := $(VENV)/bin/python
TORCH    ?= torch==2.13.0
PRESET   ?=
NOTEBOOKS ?=

.PHONY: course test install dev clean

$(PY):
	$(PYTHON) -m venv $(VENV)

# PyTorch first (only when the venv has none), so that the project's lower bound never
# pulls a multi-GB CUDA build onto a CPU machine.
$(VENV)/.torch: | $(PY)
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install "$(TORCH)"
	@touch $@

$(VENV)/.installed: pyproject.toml $(VENV)/.torch
	$(PY) -m pip install -e .
	@touch $@

$(VENV)/.dev: pyproject.toml $(VENV)/.installed
	$(PY) -m pip install -e ".[dev]"
	@touch $@

install: $(VENV)/.installed

dev: $(VENV)/.dev

course: install
	$(PY) -m gan_tutorial run $(NOTEBOOKS) $(if $(PRESET),--preset $(PRESET))

test: dev
	GAN_TUTORIAL_PRESET=smoke $(PY) -m pytest

clean:
	rm -rf runs .pytest_cache
