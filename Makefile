# The README's two set-up commands: `make demo` (main job) and `make test` (the suite). Both bootstrap.
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: bootstrap demo test lint bench
bootstrap:
	@bash scripts/bootstrap.sh

demo: bootstrap
	$(VENV)/bin/smflow run include/pipelines/diabetes/pipeline.yaml --dag train
	$(PY) scripts/demo_batch.py
	$(PY) scripts/demo_monitor.py
	$(PY) scripts/demo_deploy.py

test: bootstrap
	$(PY) -m pytest -q -p no:cacheprovider -n 2 --dist loadgroup --durations=20 tests

lint: bootstrap
	$(VENV)/bin/ruff check plugins tests bench dags
	$(VENV)/bin/mypy

bench: bootstrap
	$(PY) bench/parse.py
	$(PY) bench/local.py
	$(PY) bench/batch.py
	$(PY) bench/serving.py
	$(PY) bench/drift.py
