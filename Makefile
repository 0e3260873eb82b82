# The README's two commands are `make run` and `make test`; both set up what they need and are fast when
# nothing changed.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.advisor-installed
OFFLINE := HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_HUB_DISABLE_TELEMETRY=1 \
	LITELLM_LOCAL_MODEL_COST_MAP=True LITELLM_OFFLINE_MODE=true GRADIO_ANALYTICS_ENABLED=False \
	ANONYMIZED_TELEMETRY=False TOKENIZERS_PARALLELISM=false

.PHONY: setup run test bench eval lint index clean

setup: $(STAMP)

# torch goes first, pinned: its CPU build lies on this disk, and anything else would pull a multi-GB CUDA build.
$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check torch==2.13.0
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev,local]'
	@touch $(STAMP)

index: setup
	$(OFFLINE) $(VENV)/bin/advisor ingest

run: index
	$(OFFLINE) $(VENV)/bin/advisor search "We handle patient records and cannot send them to a third party. What are our options?"

test: setup
	$(OFFLINE) $(PY) -m pytest $(PYTEST_ARGS)

bench: setup
	$(OFFLINE) $(PY) benchmarks/bench_retrieval.py $(BENCH_ARGS)

eval: setup
	$(OFFLINE) $(PY) -m advisor.evaluation

lint: setup
	$(VENV)/bin/ruff check advisor tests benchmarks
	$(VENV)/bin/mypy advisor

clean:
	rm -rf .advisor-data .pytest_cache .mypy_cache .ruff_cache
