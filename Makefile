# wsol_tf: `make demo` (CAM vs ADL on the embedded synthetic set) and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

MODEL ?= tinyvgg
DATASET ?= synthetic
DATA_DIR ?=
METHOD ?= adl
EXPERIMENT ?= auto
WORKDIR ?= workdirs/$(MODEL)_$(DATASET)_$(METHOD)
ARGS ?=
PYTEST_ARGS ?=

export TF_CPP_MIN_LOG_LEVEL ?= 2
export PYTHONUNBUFFERED := 1

.DEFAULT_GOAL := install
.PHONY: help install test lint format demo reproduce train evaluate bench clean

help:
	@echo "make demo        CAM vs ADL on the embedded synthetic set (no downloads); ARGS=..."
	@echo "make test        ruff + the test suite (PYTEST_ARGS=..., PYTEST_WORKERS=2)"
	@echo "make train       MODEL=$(MODEL) DATASET=$(DATASET) METHOD=$(METHOD) DATA_DIR=... ARGS=..."
	@echo "make evaluate    WORKDIR=... ARGS=... (python -m wsol_tf.evaluate)"
	@echo "make reproduce   RESULTS.md's tables, resumable (REPRO_ARGS=..., REPRO_JOBS=1)"
	@echo "make bench       benchmarks into BENCHMARKS.md's tables (BENCH_FULL=1: the full set)"
	@echo "make install | lint | format | clean"
	@echo "Each command's flags: python -m wsol_tf.<train|evaluate|localize|export|reproduce|sweep> --help"

install: $(STAMP)

# Re-runs only when setup.py changes, so `make install` is quick when already done.
$(STAMP): setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test,lite12]"
	touch $(STAMP)

# Test files run in PYTEST_WORKERS processes (pytest-xdist), each file whole in one of them so
# the fixtures a file shares (trained runs) are built once.
PYTEST_WORKERS ?= 2
test: install
	$(PY) -m ruff check .
	$(PY) -m pytest -q -n $(PYTEST_WORKERS) --dist=loadfile $(PYTEST_ARGS)

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: install
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

demo: install
	$(PY) -m wsol_tf.demo $(ARGS)

# The ADL paper's claims at CPU scale (synthetic Tables 1-2, CAM vs ADL over 3 seeds, CUB mini
# and the EfficientNet-Lite0 real-bird table when ../shared/data has it): about 2.5 hours on 2
# cores. Writes RESULTS.md and results/*.png; run again to resume after an interruption.
# REPRO_ARGS="--epochs=1 --seeds=2" is a smoke run; REPRO_ARGS="--tables=methods" the method
# comparison (days on 2 cores).
REPRO_JOBS ?= 1
REPRO_ARGS ?=
reproduce: install
	$(PY) -m wsol_tf.reproduce --jobs=$(REPRO_JOBS) --results_md=RESULTS.md --figures_dir=results \
		$(REPRO_ARGS)

train: install
	$(PY) -m wsol_tf.train --experiment=$(EXPERIMENT) --model=$(MODEL) --dataset=$(DATASET) \
		$(if $(DATA_DIR),--data_dir=$(DATA_DIR)) --method=$(METHOD) --workdir=$(WORKDIR) $(ARGS)

evaluate: install
	$(PY) -m wsol_tf.evaluate --workdir=$(WORKDIR) $(ARGS)

# Benchmarks (bench/, results in BENCHMARKS.md). Quick by default (fits 20 minutes on 2 shared
# cores); `make bench BENCH_FULL=1` runs the full set (bigger batches, every backbone x 5 steps).
BENCH_FULL ?=
BENCH_OUT ?= workdirs/bench
comma := ,
BENCH_BACKBONES := --repeats=5 $(if $(BENCH_FULL),,--models=resnet50$(comma)mobilenetv1)

bench: install
	mkdir -p $(BENCH_OUT)
	@echo "== bench mode: $(if $(BENCH_FULL),full,quick) =="
	TF_CPP_MIN_LOG_LEVEL=3 $(PY) bench/bench_training.py $(if $(BENCH_FULL),,--quick)
	TF_CPP_MIN_LOG_LEVEL=3 $(PY) bench/bench_finetune.py --batch=8 --steps=2
	TF_CPP_MIN_LOG_LEVEL=3 $(PY) bench/bench_freeze.py --batch=16 --steps=2
	TF_CPP_MIN_LOG_LEVEL=3 $(PY) bench/bench_trace.py $(if $(BENCH_FULL),,--quick)
	TF_CPP_MIN_LOG_LEVEL=3 $(PY) bench/bench_adl_layer.py --repeats=7
	TF_CPP_MIN_LOG_LEVEL=3 $(PY) bench/bench_pipeline.py --repeats=5
	$(PY) bench/bench_evaluator.py --images=16 --repeats=5
	TF_CPP_MIN_LOG_LEVEL=3 $(PY) bench/bench_vs_tf_keras_vis.py --repeats=5
	TF_CPP_MIN_LOG_LEVEL=3 $(PY) bench/bench_backbones.py $(BENCH_BACKBONES) \
		--json_out=$(BENCH_OUT)/backbones.json
	$(PY) bench/scaling.py --backbones_json=$(BENCH_OUT)/backbones.json

clean:
	rm -rf workdirs .pytest_cache .ruff_cache *.egg-info
