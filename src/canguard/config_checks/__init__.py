"""Config errors before any job: the workflow config validated and checked across keys at DAG build.

:func:`check_workflow_config` is what ``workflow/rules/common.smk`` calls first thing, before any
rule reads the config:

1. **Schema** (``workflow/schemas/config.schema.yaml``, the one source of every default): the config
   is validated with ``jsonschema`` and its defaults are filled in exactly as
   ``snakemake.utils.validate`` fills them (a missing key takes its schema default, nested sections
   included). Every error becomes one line naming the key path and what is allowed::

       config error: models.sizes.gat.teacher.hiden: unknown key, did you mean hidden? (allowed: hidden, ...)
       config error: training.devices: 'banana' is not valid (allowed: "auto", a positive integer (a device count), ...)

   ``datasets.<name>.spec`` is validated against the ``synthetic`` section (same keys and bounds,
   none of its defaults: a spec sets only what differs from ``synthetic``). Numbers are finite: a NaN or an
   infinity (YAML ``.nan``, ``.inf``, ``-.inf``; JSON ``NaN``, ``Infinity``), which JSON Schema's ``number``
   takes and which passes every bound, is refused unless the key's schema entry says ``allowNonFinite: true``
   (none does)::

       config error: training.grad_clip: nan is not a finite number (allowed: a number >= 0)
2. **Cross-key checks** (:func:`cross_check`), once the schema holds: what no single key can say
   (a stride longer than the window, a dataset in ``run`` that ``datasets`` lacks, an attack both
   known and unknown, hidden widths not divisible by the head count, ...), and what the machine
   building the DAG can say about the GPU the config asks for.

Before either, the config files themselves (:mod:`canguard.config_checks.files`, ``python -m
canguard.config_checks FILE...``): a YAML syntax error or a top level that is not a mapping, one line naming
the file, line and column (Snakemake's own message names neither).

All errors are reported at once, then :class:`ConfigError` (its message: those lines) stops the run:
Snakemake prints it while it parses the workflow, before it builds the DAG or runs any job.
Warnings come back as lines for the caller to print.

GPU requests and where jobs run. Snakemake tells a Snakefile nothing about its executor while the
Snakefile is parsed, so :func:`detect_executor` reads it from the command line and the profiles, as
Snakemake does (``--executor``, ``--profile`` / ``$SNAKEMAKE_PROFILE``, ``--workflow-profile``):

* with the SLURM executor, the training and tuner rules declare ``gpu=1`` and go to a GPU partition
  (``profiles/slurm``): a login node without a GPU is normal, so ``training.accelerator: cuda`` is
  not questioned; ``evaluation.efficiency.device: cuda`` is warned about unless ``set-resources``
  gives rule ``efficiency`` a GPU (the profiles send it to the cpu partition);
* locally, ``training.accelerator`` cuda or gpu (or device indices with ``auto``) on a machine without
  a CUDA GPU is a **warning**: the train jobs would fail, but the run may never reach them (an ingest
  target, a dry run to look at the DAG) and the executor may have been set in a way not read here;
  ``evaluation.efficiency.device: cuda`` is an **error**: it can only fail, on SLURM too unless the
  efficiency rule is given a GPU;
* job processes (Snakemake's remote or subprocess mode) check nothing of the machine.

``torch`` is imported only where a GPU is actually asked for (it costs seconds at every start).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from canguard.config_checks.cross import cross_check, cuda_available
from canguard.config_checks.errors import ERROR, WARNING, ConfigError
from canguard.config_checks.executor import detect_executor
from canguard.config_checks.files import check_config_files, load_config_file
from canguard.config_checks.schema import load_schema, validate_config

__all__ = ["ERROR", "WARNING", "ConfigError", "check_config_files", "check_workflow_config", "cross_check",
           "cuda_available", "detect_executor", "load_config_file", "load_schema", "validate_config"]


def check_workflow_config(config: dict, schema: str | Path, *, main_process: bool = True,
                          resources: Mapping | None = None, executor: str | None = None,
                          snakefile_dir: str | Path | None = None,
                          gpu_available: Callable[[], bool] | None = None) -> list[str]:
    """Validate ``config`` (defaults filled in place) and check it across keys; raise :class:`ConfigError`
    with every error line, else return the warning lines (none in a job's own process)."""
    errors = validate_config(config, schema)
    if errors:
        raise ConfigError(errors)
    if executor is None:
        executor = detect_executor(snakefile_dir=snakefile_dir)
    errors, warnings = cross_check(config, executor=executor, main_process=main_process,
                                   gpu_available=gpu_available, resources=resources)
    if errors:
        raise ConfigError(errors + warnings)
    return warnings if main_process else []
