# canguard: `make run` reproduces the pipeline on the built-in synthetic vehicle, `make test` runs the tests.
# Both create (or reuse) the virtualenv in $(VENV) and install what pyproject.toml asks for.

VENV       ?= .venv
PYTHON     ?= python3
# torch goes in first and pinned: letting pip choose would pull a multi-GB CUDA build.
# GPU users: make TORCH_SPEC="torch==2.13.0 --index-url <your CUDA wheel index>"
TORCH_SPEC ?= torch==2.13.0
CORES      ?= all
CONFIG     ?=
SNAKEMAKE_ARGS ?=

BIN   := $(VENV)/bin
STAMP := $(VENV)/.canguard-installed

# every config file read first, as Snakemake reads it: a YAML syntax error or a top level that is not a mapping is
# one line naming the file and line (Snakemake's own message names neither); canguard.config_checks.files
CHECK_CONFIG = @$(BIN)/python -m canguard.config_checks config/config.yaml $(CONFIG)

.PHONY: run dry-run plan lint test test-slow test-faults test-slurm cluster-up cluster-down bench report clean-results

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q $(TORCH_SPEC)
	$(BIN)/python -m pip install -q -e '.[test,lint]'
	touch $@

run: $(STAMP)
	$(CHECK_CONFIG)
	$(BIN)/snakemake --profile profiles/default --cores $(CORES) $(if $(CONFIG),--configfile $(CONFIG)) $(SNAKEMAKE_ARGS)

dry-run: $(STAMP)
	$(CHECK_CONFIG)
	$(BIN)/snakemake --profile profiles/default --cores $(CORES) --dry-run $(if $(CONFIG),--configfile $(CONFIG)) $(SNAKEMAKE_ARGS)

# the size of a run before running it: the catalog of each dataset first (a checkpoint: until it exists a dry run
# sees only `catalog` and `all`; on the synthetic default this simulates the recordings), then the dry run of
# everything, whose job table counts the recordings (ingest) and every other job
plan: $(STAMP)
	$(CHECK_CONFIG)
	$(BIN)/snakemake --profile profiles/default --cores $(CORES) --until catalog --quiet rules $(if $(CONFIG),--configfile $(CONFIG))
	$(BIN)/snakemake --profile profiles/default --cores $(CORES) --dry-run --quiet rules $(if $(CONFIG),--configfile $(CONFIG)) $(SNAKEMAKE_ARGS)

# ruff (rules in pyproject.toml), snakefmt --check, snakemake --lint (.ci/snakemake_lint.py says what it accepts)
lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks workflow/scripts .ci
	$(BIN)/snakefmt --check Snakefile workflow/rules
	$(BIN)/python .ci/snakemake_lint.py

test: $(STAMP)
	$(BIN)/python -m pytest -q

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

test-faults: $(STAMP)
	$(BIN)/python -m pytest -q -m faults

test-slurm: $(STAMP)
	$(BIN)/python -m pytest -q -m slurm

# the single-node SLURM cluster that test-slurm needs (root; .ci/slurm/cluster.sh says what it runs)
cluster-up:
	bash .ci/slurm/cluster.sh up

cluster-down:
	bash .ci/slurm/cluster.sh down

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py --out benchmarks/results.json

clean-results:
	rm -rf results logs .snakemake
