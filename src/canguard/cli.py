"""canguard's command line, for people who train one model by hand (the workflow runs the rest).

    canguard train --model gat --dataset synthetic --type teacher
    canguard train --model gat --dataset synthetic --type student \\
        --teacher results/default/models/synthetic/gat_teacher/seed0/best.ckpt
    canguard train --model vgae --dataset hcrl_sa --type teacher --optimize-batch-size --enable-profiler \\
        --config '{"max_epochs": 5, "lr": 3e-4, "sizes": {"hidden": 128}}'
    canguard train --model gat --dataset synthetic --hardware large-gpu --config '{"epochs": 50, "learning_rate": 1e-3}'
    canguard train --model gat --dataset hcrl_sa --use-slurm --nodes 1 --gpus-per-node 4
    canguard train --list-configs
    canguard compare results/hcrl_sa/summary.csv results/hcrl_sa_fleet/summary.csv --metric f1
    canguard status                 # the SLURM jobs of the newest cluster run, and their states
    canguard export | enroll | detect | replay | keygen   # deploying a detector (canguard.deploy.cli)

Shards come from the workflow (``results/<run>/shards/<dataset>``, run ``default`` unless
``--run``, or ``--shards DIR``); training defaults from ``config/config.yaml``
(``--configfile``), then ``--config``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import yaml

from canguard.deploy.cli import add_commands as add_deploy_commands
from canguard.hardware import load_preset, merge_under
from canguard.logs import setup_logging
from canguard.models.factory import DEFAULT_SIZES
from canguard.training.config import TrainConfig, nonfinite_values


def _training_defaults(configfile: str | None) -> dict:
    """The ``training`` section of ``configfile`` (none where it does not exist); ValueError (ConfigError) with
    one line naming the file, its line and the key, for a YAML error, a top level or section that is not a
    mapping, a NaN or an infinity."""
    from canguard.config_checks.errors import ERROR, ConfigError
    from canguard.config_checks.files import load_config_file

    if not (configfile and Path(configfile).exists()):
        return {}
    training = load_config_file(configfile, empty_ok=True).get("training") or {}
    if not isinstance(training, dict):
        raise ConfigError([f"{ERROR}: {configfile}: training: {training!r} is not a mapping of training settings"])
    bad = nonfinite_values(training)
    if bad:
        raise ConfigError([f"{ERROR}: {configfile}: training.{path}: {value!r} is not a finite number"
                           for path, value in bad])
    return dict(training)


# the design's names for training settings, accepted in --config beside TrainConfig's own
ALIASES = {"epochs": "max_epochs", "learning_rate": "lr"}
HARDWARE_PRESETS = Path("config/hardware")


def training_overrides(text: str | None) -> dict:
    """``--config`` JSON as TrainConfig keys (aliases resolved); ValueError with one line on a bad one."""
    if not text:
        return {}
    try:
        given = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"--config is not valid JSON ({e})") from None
    if not isinstance(given, dict):
        raise ValueError(f"--config must be a JSON object of settings, got {type(given).__name__}")
    out, spelt = {}, {}
    for key, value in given.items():
        name = ALIASES.get(key, key)
        if name in out:
            raise ValueError(f"--config sets {name} twice, as {spelt[name]!r} and as {key!r}")
        out[name], spelt[name] = value, key
    known = {f.name for f in dataclasses.fields(TrainConfig)} | {"sizes"}
    unknown = sorted(set(out) - known)
    if unknown:
        raise ValueError(f"--config: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}, "
                         f"and the aliases {', '.join(f'{a} ({n})' for a, n in ALIASES.items())}")
    bad = nonfinite_values(given)  # JSON's NaN, Infinity and -Infinity, which json.loads takes
    if bad:
        raise ValueError("\n".join(f"--config: {path}: {value!r} is not a finite number" for path, value in bad))
    return out


def workflow_role(model_type: str, teacher: str | None) -> str:
    """The workflow role of ``canguard train --type``; a student given no teacher is trained without one."""
    return "student_scratch" if model_type == "student" and teacher is None else model_type


def slurm_command(args, overrides: dict, sizes: dict | None) -> tuple[list[str], dict]:
    """(Snakemake command, config overlay) that train this one model through a SLURM profile: the workflow's
    own rule and outputs (results/<run>/models/<dataset>/<model>_<role>/seed<k>/), the job sized by --nodes
    and --gpus-per-node (config `distributed`). The overlay goes to a config file the command names (values
    never pass through a shell or Snakemake's --config strings)."""
    role = args.type  # the workflow's distilled student learns from the workflow's teacher of its seed
    name = f"{args.dataset}_{args.model}_{role}_seed{args.seed}"
    target = f"results/{args.run}/models/{args.dataset}/{args.model}_{role}/seed{args.seed}/best.ckpt"
    overlay_file = f"results/{args.run}/cli/train_{name}.yaml"
    overlay = {"run_name": args.run, "distributed": {role: {"gpus": args.gpus_per_node, "nodes": args.nodes}}}
    if overrides:
        overlay["training"] = overrides
    if sizes:
        overlay["models"] = {"sizes": {args.model: {"teacher" if role == "teacher" else "student": sizes}}}
    configfiles = [args.configfile] if args.configfile and Path(args.configfile).name != "config.yaml" else []
    cmd = [sys.executable, "-m", "snakemake", "--profile", args.profile, target, *args.snakemake_args,
           "--configfile", *configfiles, overlay_file]
    return cmd, overlay


def _train(args) -> int:
    from canguard.training.finite import NonFiniteError
    from canguard.training.run import apply_tuning, train_model
    from canguard.training.tune import tune_batch_size, tune_lr

    if args.list_configs:
        try:
            from_file = _training_defaults(args.configfile)
        except ValueError as e:
            return _refused(e)
        print(json.dumps({"model_sizes": DEFAULT_SIZES, "training": TrainConfig().to_dict(),
                          "training_from_configfile": from_file}, indent=2))
        return 0
    if args.use_slurm:
        if args.model is None or args.dataset is None:
            print("canguard train --use-slurm: --model and --dataset are required", file=sys.stderr)
            return 2
        try:
            overrides = training_overrides(args.config)
            _training_defaults(args.configfile)  # read first: Snakemake's message for a bad file names none
        except ValueError as e:
            return _refused(e)
        sizes = overrides.pop("sizes", None)
        cmd, overlay = slurm_command(args, overrides, sizes)
        overlay_file = Path(cmd[-1])
        overlay_file.parent.mkdir(parents=True, exist_ok=True)
        overlay_file.write_text(yaml.safe_dump(overlay, sort_keys=False))
        print("canguard train --use-slurm:", " ".join(cmd[1:]), file=sys.stderr)
        return subprocess.call(cmd)
    missing = [name for name in ("model", "dataset") if getattr(args, name) is None]
    if missing and not (args.shards and args.model):
        print(f"canguard train: --{missing[0]} is required (or --list-configs)", file=sys.stderr)
        return 2
    if args.type == "student" and args.teacher is None:
        print("canguard train: a student without --teacher is trained without distillation", file=sys.stderr)
    try:
        overrides = training_overrides(args.config)
        sizes = overrides.pop("sizes", None)
        defaults = _training_defaults(args.configfile)
        if args.hardware:
            defaults = merge_under(defaults, load_preset(args.hardware, HARDWARE_PRESETS).get("training", {}))
        cfg = TrainConfig.from_dict(defaults | overrides)
    except ValueError as e:
        return _refused(e)
    if args.enable_profiler:
        cfg.profile = True
    shards = Path(args.shards or f"results/{args.run}/shards/{args.dataset}")
    role = workflow_role(args.type, args.teacher)
    architecture = "teacher" if role == "teacher" else "student"
    teacher = args.teacher if role == "student" else None
    out = Path(args.out or f"results/{args.run}/manual/{args.dataset or shards.name}/{args.model}_{role}")
    out.mkdir(parents=True, exist_ok=True)
    setup_logging(None)
    try:
        if args.optimize_batch_size:
            tune_batch_size(shards, args.model, architecture, cfg, out / "batch_size.json", sizes=sizes,
                            teacher_ckpt=teacher, max_batch_size=args.max_batch_size)
            cfg = apply_tuning(cfg, batch_size_json=out / "batch_size.json")
        if args.find_lr:
            tune_lr(shards, args.model, architecture, cfg, out / "lr_find", sizes=sizes, teacher_ckpt=teacher)
            cfg = apply_tuning(cfg, lr_json=out / "lr_find" / "lr_find.json")
        summary = train_model(shards, args.model, architecture, cfg, out, sizes=sizes, teacher_ckpt=teacher)
    except NonFiniteError as e:  # a NaN or an infinity stopped training: no checkpoint holds it
        print(f"canguard train: {e}", file=sys.stderr)
        return 1
    print(json.dumps(summary | {"out_dir": str(out)}, indent=2))
    return 0


def _refused(error: ValueError) -> int:
    """A bad setting or config file: each line of ``error`` on stderr, exit status 2."""
    for line in str(error).splitlines() or [type(error).__name__]:
        print(f"canguard train: {line}", file=sys.stderr)
    return 2


def _compare(args) -> int:
    import pandas as pd

    from canguard.evaluation.compare import compare_runs, markdown

    print(markdown(compare_runs([pd.read_csv(p) for p in args.summaries], args.metric), args.metric))
    return 0


def _status(args) -> int:
    from canguard.cluster_status import latest_run_id, status_table

    run_id = args.run_id or latest_run_id(args.workdir)
    if run_id is None:
        print(f"canguard status: no SLURM run in {args.workdir}/.snakemake/log (run with --profile profiles/slurm)",
              file=sys.stderr)
        return 2
    try:
        print(status_table(run_id, args.workdir))
    except (RuntimeError, FileNotFoundError) as e:
        print(f"canguard status: {e}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="canguard", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train one model from graph shards",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    t.add_argument("--model", choices=["gat", "vgae"], help="model family")
    t.add_argument("--dataset", help="dataset name: reads results/<run>/shards/<dataset>/{train,val}")
    t.add_argument("--run", default="default", help="the workflow run whose shards to read (its run_name)")
    t.add_argument("--shards", help="shards folder holding train/ and val/ (instead of --dataset)")
    t.add_argument("--type", choices=["teacher", "student", "student_scratch"], default="teacher",
                   help="teacher, distilled student (--teacher, or the workflow's with --use-slurm) or student "
                   "trained without a teacher")
    t.add_argument("--teacher", help="teacher best.ckpt to distil from (student only)")
    t.add_argument("--out", help="output folder (default results/<run>/manual/<dataset>/<model>_<type>)")
    t.add_argument("--configfile", default="config/config.yaml",
                   help="workflow config whose `training` section gives the defaults")
    t.add_argument("--config", help="JSON overrides of training settings (epochs, learning_rate, batch_size, or any "
                   "name --list-configs shows); key 'sizes' overrides model sizes")
    t.add_argument("--hardware", help="hardware preset from config/hardware/ (cpu, small-gpu, medium-gpu, large-gpu), "
                   "under the config file's and --config's settings")
    t.add_argument("--optimize-batch-size", action="store_true", help="find the largest batch size that fits first")
    t.add_argument("--max-batch-size", type=int, default=512, help="upper bound of the batch-size search")
    t.add_argument("--find-lr", action="store_true", help="run a learning-rate range test first and use its suggestion")
    t.add_argument("--enable-profiler", action="store_true", help="per-phase timing, memory and torch.profiler traces")
    t.add_argument("--list-configs", action="store_true", help="print model size presets and training defaults")
    t.add_argument("--use-slurm", action="store_true",
                   help="train through the workflow on SLURM (Snakemake's SLURM executor, --profile): the same rule "
                   "and outputs as a workflow run; the teacher a student needs is trained first")
    t.add_argument("--nodes", type=int, default=1, help="with --use-slurm: nodes of the training job")
    t.add_argument("--gpus-per-node", type=int, default=1,
                   help="with --use-slurm: GPUs per node, one training process each (batch_size is per process)")
    t.add_argument("--seed", type=int, default=0, help="with --use-slurm: the seed of the model (seed<k>/)")
    t.add_argument("--profile", default="profiles/slurm", help="with --use-slurm: the Snakemake profile")
    t.add_argument("snakemake_args", nargs="*", default=[],
                   help="with --use-slurm: further Snakemake arguments, after -- (e.g. -- --dry-run)")
    c = sub.add_parser("compare", help="several runs' summaries side by side (Markdown on stdout)")
    c.add_argument("summaries", nargs="+", help="results/<run>/summary.csv files")
    c.add_argument("--metric", default="f1", help="a column of summary.csv (f1, recall, fpr, auroc, ...)")
    st = sub.add_parser("status", help="the SLURM jobs of a workflow run and their states (sacct)")
    st.add_argument("run_id", nargs="?", help="SLURM run ID (default: the newest run of the workflow in --workdir)")
    st.add_argument("--workdir", default=".", help="the workflow's folder (holding .snakemake/)")
    deploy = add_deploy_commands(sub)
    args = parser.parse_args(argv)
    return ({"train": _train, "compare": _compare, "status": _status} | deploy)[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
