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
   none of its defaults: a spec sets only what differs from ``synthetic``).
2. **Cross-key checks** (:func:`cross_check`), once the schema holds: what no single key can say
   (a stride longer than the window, a dataset in ``run`` that ``datasets`` lacks, an attack both
   known and unknown, hidden widths not divisible by the head count, ...), and what the machine
   building the DAG can say about the GPU the config asks for.

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

import copy
import difflib
import importlib.util
import json
import os
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from pathlib import Path

import yaml

from canguard.detectors import FAMILIES, evaluated_detectors
from canguard.models.sizes import DEFAULT_SIZES

ERROR = "config error"
WARNING = "config warning"
GPU_ACCELERATORS = ("cuda", "gpu")
# heads keys of each family's sizes: `hidden` must be divisible by each
HEADS = {"gat": ("heads",), "vgae": ("encoder_heads", "decoder_heads")}
# Fabric strategies of the DDP family: one process per device, none of them on MPS
_PARALLEL = re.compile(r"^(ddp|dp|fsdp|deepspeed)")


class ConfigError(ValueError):
    """Every mistake of a config, one line each (``lines``); the message is those lines."""

    def __init__(self, lines: list[str]):
        self.lines = list(lines)
        super().__init__("\n".join(self.lines))


# --------------------------------------------------------------------------------------------
# schema validation


@lru_cache(maxsize=8)
def _load_schema(path: str) -> dict:
    schema = yaml.safe_load(Path(path).read_text())
    # datasets.<name>.spec: the keys and bounds of `synthetic`, without its defaults
    synthetic = _without_defaults(schema["properties"]["synthetic"])
    synthetic.pop("description", None)
    entry = schema["properties"]["datasets"]["additionalProperties"]["properties"]
    entry["spec"] = {**synthetic, **{k: v for k, v in entry["spec"].items() if k != "type"}}
    return schema


def load_schema(path: str | Path) -> dict:
    """The config schema at ``path`` (a fresh copy: validation never changes the cached one)."""
    return copy.deepcopy(_load_schema(str(Path(path).resolve())))


def _without_defaults(node):
    if isinstance(node, dict):
        return {k: _without_defaults(v) for k, v in node.items() if k != "default"}
    if isinstance(node, list):
        return [_without_defaults(v) for v in node]
    return node


def _validator(schema: dict):
    """A Draft 2020-12 validator that fills in defaults as snakemake.utils.validate does (the FAQ recipe
    of jsonschema), here with a copy of each default and only into mappings."""
    from jsonschema import Draft202012Validator, validators

    validate_properties = Draft202012Validator.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, sub in properties.items():
                if isinstance(sub, dict) and "default" in sub:
                    instance.setdefault(name, copy.deepcopy(sub["default"]))
        yield from validate_properties(validator, properties, instance, schema)

    return validators.extend(Draft202012Validator, {"properties": set_defaults})(schema)


def validate_config(config: dict, schema: dict | str | Path) -> list[str]:
    """Validate ``config`` against ``schema`` (a path or the loaded schema), filling in its defaults in
    place; one ``config error: <key path>: ...`` line per mistake, in schema order (none: valid)."""
    if not isinstance(schema, dict):
        schema = load_schema(schema)
    if not isinstance(config, dict):
        return [f"{ERROR}: (top level): {_show(config)} is not valid (allowed: a mapping of config sections)"]
    lines: list[str] = []
    seen_paths: set[str] = set()
    for error in _validator(schema).iter_errors(config):
        for line, path in _error_lines(error, schema):
            if line in lines or (path is not None and path in seen_paths):
                continue
            lines.append(line)
            if path is not None:
                seen_paths.add(path)
    return lines


def _error_lines(error, root: dict):
    """(line, path) for one jsonschema error; path None where several lines may share it."""
    path = key_path(error.absolute_path)
    keyword = error.validator
    schema = error.schema if isinstance(error.schema, dict) else {}
    if keyword == "additionalProperties" and error.validator_value is False and isinstance(error.instance, dict):
        allowed = _allowed_keys(schema)
        patterns = list(schema.get("patternProperties", {}))
        for key in error.instance:
            if key in allowed or any(re.search(p, str(key)) for p in patterns):
                continue
            close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.7)
            hint = f", did you mean {close[0]}?" if close else ""
            yield (f"{ERROR}: {_join(path, key)}: unknown key{hint} (allowed: {', '.join(allowed) or 'none'})", None)
    elif "propertyNames" in error.relative_schema_path:  # a key of a mapping keyed by names (datasets)
        yield (f"{ERROR}: {path or '(top level)'}: the name {_show(error.instance)} is not valid "
               f"(allowed: {describe(schema, root)})", None)
    elif keyword == "required":
        missing = [k for k in error.validator_value if isinstance(error.instance, dict) and k not in error.instance]
        for key in missing:
            yield f"{ERROR}: {_join(path, key)}: missing (required)", None
    else:
        hint = _yaml_hint(error.instance, schema, root)
        yield (f"{ERROR}: {path or '(top level)'}: {_show(error.instance)} is not valid "
               f"(allowed: {describe(schema, root)}){hint}", path)


def key_path(parts: Iterable) -> str:
    """``["models", "families", 0]`` -> ``models.families[0]``."""
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _join(path: str, key) -> str:
    return f"{path}.{key}" if path else str(key)


def _allowed_keys(schema: dict) -> list[str]:
    """Keys a mapping may have: its properties and the names its patternProperties spell out."""
    keys = list(schema.get("properties", {}))
    for pattern in schema.get("patternProperties", {}):
        m = re.fullmatch(r"\^\(?([\w|-]+)\)?\$", pattern)
        keys += m.group(1).split("|") if m else [f"<{pattern}>"]
    return keys


def _resolve(schema: dict, root: dict) -> dict:
    """``schema`` with its local ``$ref`` (``#/$defs/...``) merged in under its own keywords."""
    ref = schema.get("$ref")
    if not isinstance(ref, str) or not ref.startswith("#/"):
        return schema
    target = root
    for part in ref[2:].split("/"):
        target = target[part]
    return {**_resolve(target, root), **{k: v for k, v in schema.items() if k != "$ref"}}


def describe(schema, root: dict | None = None) -> str:
    """What a (sub-)schema allows, in words: its ``title`` where it has one."""
    if not isinstance(schema, dict):
        return "anything" if schema is True else "nothing"
    schema = _resolve(schema, root or {})
    if "title" in schema:
        return schema["title"]
    if "const" in schema:
        return _json(schema["const"])
    if "enum" in schema:
        return ", ".join(_json(v) for v in schema["enum"])
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return _either([describe(s, root) for s in schema[key]])
    kind = schema.get("type")
    if isinstance(kind, list):
        return _either([describe({**schema, "type": k}, root) for k in kind])
    if kind in ("integer", "number"):
        return _number(schema, "an integer" if kind == "integer" else "a number")
    if kind == "boolean":
        return "true or false"
    if kind == "null":
        return "null"
    if kind == "string":
        if "pattern" in schema:
            return f"a string matching {schema['pattern']}"
        return "a non-empty string" if schema.get("minLength", 0) >= 1 else "a string"
    if kind == "array":
        least = schema.get("minItems", 0)
        text = "a non-empty list" if least == 1 else f"a list of at least {least}" if least else "a list"
        if "items" in schema:
            text += f" of: {describe(schema['items'], root)}"
        return text + ("; no repeats" if schema.get("uniqueItems") else "")
    if kind == "object":
        keys = _allowed_keys(schema)
        return f"a mapping with keys {', '.join(keys)}" if keys else "a mapping"
    return "anything"


def _number(schema: dict, name: str) -> str:
    lo, lo_in = (schema["minimum"], True) if "minimum" in schema else (schema.get("exclusiveMinimum"), False)
    hi, hi_in = (schema["maximum"], True) if "maximum" in schema else (schema.get("exclusiveMaximum"), False)
    if lo is not None and hi is not None:
        return f"{name} in {'[' if lo_in else '('}{lo}, {hi}{']' if hi_in else ')'}"
    if lo is not None:
        return f"{name} {'>=' if lo_in else '>'} {lo}"
    if hi is not None:
        return f"{name} {'<=' if hi_in else '<'} {hi}"
    return name


def _either(options: list[str]) -> str:
    return options[0] if len(options) == 1 else f"{', '.join(options[:-1])}, or {options[-1]}"


def _json(value) -> str:
    return json.dumps(value)


def _show(value) -> str:
    """A config value as the line shows it: 'banana', 0, [], true, null."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _yaml_hint(value, schema: dict, root: dict) -> str:
    """'1e-3' where a number is expected: YAML 1.1 reads exponents without a dot as strings."""
    kinds = _resolve(schema, root).get("type")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    if isinstance(value, str) and ({"number", "integer"} & set(kinds)):
        try:
            float(value)
        except ValueError:
            return ""
        return f"; YAML reads {value} as a string: write it with a dot, e.g. 1.0e-3"
    return ""


# --------------------------------------------------------------------------------------------
# cross-key checks


def cross_check(config: dict, *, executor: str = "local", main_process: bool = True,
                gpu_available: Callable[[], bool] | None = None, platform: str = sys.platform,
                resources: Mapping | None = None,
                module_available: Callable[[str], bool] | None = None) -> tuple[list[str], list[str]]:
    """(errors, warnings) of a config that the schema validated (its defaults filled in).

    ``executor``: Snakemake's executor (:func:`detect_executor`); ``main_process``: False in a job's
    own Snakemake process (nothing of the machine is checked there); ``gpu_available``: whether this
    machine has a CUDA GPU (called only where one is asked for; default: torch); ``resources``:
    Snakemake's set-resources by rule (``workflow.resource_settings.overwrite_resources``).
    """
    gpu_available = gpu_available or cuda_available
    module_available = module_available or _module_available
    errors: list[str] = []
    warnings: list[str] = []

    def error(path: str, text: str) -> None:
        line = f"{ERROR}: {path}: {text}"
        if line not in errors:
            errors.append(line)

    def warn(path: str, text: str) -> None:
        line = f"{WARNING}: {path}: {text}"
        if line not in warnings:
            warnings.append(line)

    _check_windows(config, warn)
    _check_datasets(config, error, warn)
    _check_synthetic(config, error)
    _check_split(config, error, warn)
    _check_enrollment(config, error, warn)
    _check_models(config, error, warn)
    _check_training(config, error, warn, module_available)
    if main_process:
        _check_devices(config, error, warn, executor=executor, gpu_available=gpu_available, platform=platform,
                       resources=resources or {})
    return errors, warnings


def _check_windows(config, warn) -> None:
    size, stride = config["windows"]["size"], config["windows"]["stride"]
    if stride > size:
        gap = stride - size
        warn("windows.stride", f"{stride} > windows.size {size}: after each window {gap} "
                               f"message{'s are' if gap > 1 else ' is'} in no window (never scored)")


def _check_datasets(config, error, warn) -> None:
    datasets = config["datasets"]
    defined = ", ".join(datasets) or "none"
    for i, name in enumerate(config["run"]):
        if name not in datasets:
            error(f"run[{i}]", f"{name!r} is not a dataset (defined under datasets: {defined})")
    for name, entry in datasets.items():
        for i, other in enumerate(entry.get("train_with", [])):
            if other == name:
                error(f"datasets.{name}.train_with[{i}]", f"{other!r} is the dataset itself")
            elif other not in datasets:
                error(f"datasets.{name}.train_with[{i}]", f"{other!r} is not a dataset (defined under datasets: "
                                                          f"{defined})")
        if entry.get("spec") and not entry.get("synthetic", False):
            warn(f"datasets.{name}.spec", "set on a dataset that is not synthetic (synthetic: false): unused")


def _check_synthetic(config, error) -> None:
    """The synthetic vehicle of every synthetic dataset: `synthetic`, updated with the dataset's spec."""
    for name, entry in config["datasets"].items():
        if entry.get("synthetic", False):
            _check_synthetic_spec(name, entry.get("spec", {}), config["synthetic"], error)


def _check_synthetic_spec(name: str, spec: dict, synthetic: dict, error) -> None:
    s = {**synthetic, **spec}

    def where(key):
        return f"datasets.{name}.spec.{key}" if key in spec else f"synthetic.{key}"

    def pair(first, second):  # (the key to blame: the one the spec sets, else the second; the other)
        return (first, second) if first in spec and second not in spec else (second, first)

    both = [a for a in s["unknown_attacks"] if a in s["known_attacks"]]
    if both:
        key, other = pair("known_attacks", "unknown_attacks")
        error(where(key), f"{both} also in {where(other)} (an attack is known or unknown, not both)")
    both = [v for v in s["unknown_vehicles"] if v in s["vehicles"]]
    if both:
        key, other = pair("vehicles", "unknown_vehicles")
        error(where(key), f"{both} also in {where(other)} (a vehicle is known or unknown, not both)")
    stray = [v for v in s["short_dlc_vehicles"] if v not in s["vehicles"] + s["unknown_vehicles"]]
    if stray:
        error(where("short_dlc_vehicles"), f"{stray} not among the vehicles ({where('vehicles')}, "
                                           f"{where('unknown_vehicles')})")
    fleet = {f"fleet{i:02d}" for i in range(s["fleet"])}  # canguard.simulate.SyntheticSpec.fleet_vehicles
    taken = [v for v in s["vehicles"] + s["unknown_vehicles"] if v in fleet]
    if taken:
        error(where("fleet"), f"{s['fleet']} fleet vehicles take the names fleet00.. but {taken} are vehicles "
                              "of their own")


def _check_split(config, error, warn) -> None:
    split = config["split"]
    if split["method"] == "recording" and not split["val_recordings"]:
        error("split.val_recordings", "empty, but split.method is 'recording' (allowed: a non-empty list of "
                                      "training recordings <split>/<name>)")
    elif split["method"] != "recording" and split["val_recordings"]:
        warn("split.val_recordings", f"set, but split.method is {split['method']!r}: unused")


def _check_enrollment(config, error, warn) -> None:
    enrollment = config["enrollment"]
    for vehicle, own in enrollment["vehicles"].items():
        source = own.get("source", enrollment["source"])
        path = f"enrollment.vehicles.{vehicle}"
        if source == "recordings" and not own.get("recordings"):
            error(f"{path}.recordings", "missing, but the source is 'recordings' (allowed: a non-empty list of "
                                        "recordings <split>/<name>)")
        elif source != "recordings" and own.get("recordings"):
            warn(f"{path}.recordings", f"set, but the source is {source!r} (not 'recordings'): unused")


def _check_models(config, error, warn) -> None:
    models = config["models"]
    families = models["families"]
    if not families:  # the schema's minItems says the same; kept for configs validated elsewhere
        error("models.families", f"empty (allowed: a non-empty list of: {', '.join(map(_json, FAMILIES))})")
    for family, by_architecture in models["sizes"].items():
        if family not in families:
            warn(f"models.sizes.{family}", f"{family} is not trained (models.families: {families}): these sizes "
                                           "are unused")
            continue
        for architecture, own in by_architecture.items():
            sizes = {**DEFAULT_SIZES[family][architecture], **own}
            for heads in HEADS[family]:
                if sizes["hidden"] % sizes[heads]:
                    key = heads if heads in own else "hidden"
                    error(f"models.sizes.{family}.{architecture}.{key}",
                          f"hidden {sizes['hidden']} is not divisible by {heads} {sizes[heads]} (each head has "
                          "hidden / heads channels)")
    evaluated = {d.name for d in evaluated_detectors(families)}
    chosen = config["figures"]["score_models"]
    if chosen and not evaluated & set(chosen):
        warn("figures.score_models", f"none of {chosen} is evaluated with models.families {families}: no score "
                                     "histogram or timeline is drawn")


def _check_training(config, error, warn, module_available) -> None:
    t = config["training"]
    accelerator, devices, precision, strategy = t["accelerator"], t["devices"], t["precision"], t["strategy"]
    if t["scheduler"] != "none" and t["warmup_epochs"] >= t["max_epochs"]:
        warn("training.warmup_epochs", f"{t['warmup_epochs']} >= training.max_epochs {t['max_epochs']}: "
                                       f"training ends within the warm-up (no {t['scheduler']} schedule)")
    if accelerator == "cpu" and _device_indices(devices) is not None:
        error("training.devices", f"{_show(devices)} is not valid with training.accelerator 'cpu' (allowed: "
                                  '"auto", a positive integer (a number of processes))')
    indices = _device_indices(devices)
    if indices and len(set(indices)) != len(indices):
        error("training.devices", f"{_show(devices)} names a device twice")
    if accelerator == "cpu" and precision == "16-mixed":
        warn("training.precision", "'16-mixed' with training.accelerator 'cpu': Fabric has no fp16 AMP on CPU and "
                                   "uses bf16-mixed instead")
    if accelerator == "mps" and _PARALLEL.match(strategy):
        error("training.strategy", f"{strategy!r} is not valid with training.accelerator 'mps' (allowed: \"auto\")")
    if strategy.startswith("deepspeed") and not module_available("deepspeed"):
        error("training.strategy", f"{strategy!r} needs the deepspeed package, which is not installed")
    if precision.startswith("transformer-engine") and not module_available("transformer_engine"):
        error("training.precision", f"{precision!r} needs the transformer_engine package, which is not installed")


def _device_indices(devices) -> list[int] | None:
    """The GPU indices ``devices`` names (a list, "0,1", -1 = every GPU as []); None for auto or a count."""
    if isinstance(devices, list):
        return devices
    if devices == -1 or (isinstance(devices, str) and devices.strip() == "-1"):
        return []
    if isinstance(devices, str) and "," in devices:
        return [int(x) for x in devices.split(",") if x.strip()]
    return None


def _check_devices(config, error, warn, *, executor, gpu_available, platform, resources) -> None:
    """What this machine says about the GPUs the config asks for (see the module docstring)."""
    t = config["training"]
    accelerator = t["accelerator"]
    device = config["evaluation"]["efficiency"]["device"]
    slurm = executor == "slurm"
    if accelerator == "mps" and platform != "darwin":
        warn("training.accelerator", "'mps' (Apple GPUs) on a machine that is not a Mac: the train jobs will fail "
                                     "(allowed here: auto, cpu, cuda, gpu)")
    indices = _device_indices(t["devices"])
    gpu_training = accelerator in GPU_ACCELERATORS or (accelerator == "auto" and indices is not None)
    if accelerator == "gpu" and platform == "darwin":
        gpu_training = False  # gpu is mps there
    if gpu_training and not slurm and not gpu_available():
        key, value = ("training.accelerator", accelerator) if accelerator != "auto" else ("training.devices",
                                                                                          t["devices"])
        warn(key, f"{_show(value)} asks for a GPU but this machine has none (torch.cuda.is_available() is false): "
                  "train and tuner jobs run here will fail; use auto or cpu, or run on SLURM "
                  "(--profile profiles/slurm)")
    if device.startswith("cuda"):
        if slurm:
            own = resources.get("efficiency", {}) or {}
            if not any(k in own for k in ("gpu", "gpus", "gres")) and "gpu" not in str(own.get("slurm_extra", "")):
                warn("evaluation.efficiency.device", f"{device!r}, but rule efficiency is given no GPU on SLURM (the "
                     "profiles send it to the cpu partition): its jobs will fail unless set-resources gives "
                     "efficiency a GPU (gpu=1, slurm_partition=gpu)")
        elif not gpu_available():
            error("evaluation.efficiency.device", f"{device!r}, but this machine has no CUDA GPU "
                  "(torch.cuda.is_available() is false) and the efficiency jobs run here (allowed here: \"cpu\")")


@lru_cache(maxsize=1)
def cuda_available() -> bool:
    """Whether torch sees a CUDA GPU here (imports torch: call it only where a GPU is asked for)."""
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def _module_available(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


# --------------------------------------------------------------------------------------------
# the executor, as Snakemake will choose it


def detect_executor(argv: list[str] | None = None, environ: Mapping[str, str] | None = None,
                    cwd: str | Path | None = None, snakefile_dir: str | Path | None = None) -> str:
    """The Snakemake executor of this run: ``--executor``/``-e``, else the ``executor`` of the workflow
    profile (``--workflow-profile``, else ``profiles/default`` beside the Snakefile), else of the
    ``--profile``s (the last wins; ``$SNAKEMAKE_PROFILE`` without one), else ``local``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    environ = os.environ if environ is None else environ
    cwd = Path.cwd() if cwd is None else Path(cwd)
    given = _options(argv, ("--executor", "-e"))
    if given:
        return given[-1]
    workflow_profiles = _options(argv, ("--workflow-profile",))
    if not workflow_profiles:
        base = Path(snakefile_dir) if snakefile_dir else cwd
        workflow_profiles = [str(p) for p in (base / "workflow/profiles/default", base / "profiles/default")
                             if p.is_dir()][:1]
    profiles = _options(argv, ("--profile",)) or [p for p in [environ.get("SNAKEMAKE_PROFILE")] if p]
    for profile in [*workflow_profiles[-1:], *reversed(profiles)]:
        executor = _profile_executor(profile, cwd)
        if executor:
            return executor
    return "local"


def _options(argv: list[str], names: tuple[str, ...]) -> list[str]:
    """Every value given to an option: ``--name value``, ``--name=value``, ``-e value``."""
    values = []
    for i, arg in enumerate(argv):
        for name in names:
            if arg == name and i + 1 < len(argv):
                values.append(argv[i + 1])
            elif arg.startswith(name + "=") and name.startswith("--"):
                values.append(arg.split("=", 1)[1])
    return [v for v in values if v.lower() != "none"]


def _profile_executor(profile: str, cwd: Path) -> str | None:
    """The ``executor`` a Snakemake profile (a folder, a name or a YAML file) sets, if any."""
    given = Path(profile).expanduser()
    candidates = [given if given.is_absolute() else cwd / given]
    if not given.is_absolute():
        home = Path(os.environ.get("XDG_CONFIG_HOME", Path.home() / ".config"))
        candidates += [home / "snakemake" / given, Path("/etc/xdg/snakemake") / given]
    for place in candidates:
        if place.is_file():
            files = [place]
        elif place.is_dir():
            versioned = sorted([*place.glob("profile.v*+.yaml"), *place.glob("config.v*+.yaml")], reverse=True)
            files = [*versioned, place / "profile.yaml", place / "config.yaml"]
        else:
            continue
        for f in files:
            if f.is_file():
                try:
                    settings = yaml.safe_load(f.read_text()) or {}
                except (OSError, yaml.YAMLError):
                    return None
                value = settings.get("executor") if isinstance(settings, dict) else None
                return str(value) if value else None
    return None


# --------------------------------------------------------------------------------------------
# what the workflow calls


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
