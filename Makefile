# Thin wrappers around the CLI; the CLI stays the real interface.
EDGEPORT_DATA_DIR ?= $(abspath ../shared/data)
export EDGEPORT_DATA_DIR
PY ?= .venv/bin/python

.PHONY: install pipeline test bench android

install:
	python3 -m venv .venv && $(PY) -m pip install -e ".[all]" -c constraints.txt

pipeline:
	$(PY) -m edgeport.cli run default

test:
	$(PY) -m pytest -q

bench:
	$(PY) benchmarks/peer_comparison.py runs/default

android:
	bash android-demo/run-jvm-tests.sh
