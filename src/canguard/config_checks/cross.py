"""Cross-key checks: what no single key can say, and what this machine can say about the GPU asked for."""

from __future__ import annotations

import importlib.util
import re
import sys
from collections.abc import Callable, Mapping
from functools import lru_cache

from canguard.config_checks.errors import ERROR, WARNING
from canguard.config_checks.schema import as_json, show_value
from canguard.detectors import FAMILIES, evaluated_detectors
from canguard.models.sizes import DEFAULT_SIZES

GPU_ACCELERATORS = ("cuda", "gpu")
# heads keys of each family's sizes: `hidden` must be divisible by each
HEADS = {"gat": ("heads",), "vgae": ("encoder_heads", "decoder_heads")}
# Fabric strategies of the DDP family: one process per device, none of them on MPS
_PARALLEL = re.compile(r"^(ddp|dp|fsdp|deepspeed)")


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
    _check_incidents(config, error)
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


def _check_incidents(config, error) -> None:
    rule = config["evaluation"]["incidents"]
    if rule["k"] > rule["n"]:
        error("evaluation.incidents.k", f"{rule['k']} > evaluation.incidents.n {rule['n']}: an incident needs k "
                                        f"alarming windows among the last n")


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
        error("models.families", f"empty (allowed: a non-empty list of: {', '.join(map(as_json, FAMILIES))})")
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
        error("training.devices", f"{show_value(devices)} is not valid with training.accelerator 'cpu' (allowed: "
                                  '"auto", a positive integer (a number of processes))')
    indices = _device_indices(devices)
    if indices and len(set(indices)) != len(indices):
        error("training.devices", f"{show_value(devices)} names a device twice")
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
        warn(key, f"{show_value(value)} asks for a GPU but this machine has none (torch.cuda.is_available() is false): "
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
