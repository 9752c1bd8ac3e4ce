"""Rule train: one model of one seed: a teacher, a distilled student (its teacher of the same seed in the
loop) or a student without teacher (what distillation is measured against).  Launched by Snakemake, on
SLURM through the slurm profile, or by hand::

    canguard train --model gat --dataset synthetic
"""

from pathlib import Path

from canguard.detectors import Detector
from canguard.training.config import TrainConfig
from canguard.training.run import apply_tuning, train_model


def run_train(inputs, outputs, params, wildcards) -> None:
    detector = Detector(wildcards["family"], wildcards["role"])
    cfg = apply_tuning(TrainConfig.from_dict(params["training"] | {"seed": int(wildcards["seed"])}),
                       batch_size_json=inputs.get("batch_size"), lr_json=inputs.get("lr"))
    train_model(Path(inputs["train"]).parent, detector.family, detector.architecture, cfg,
                out_dir=Path(outputs["ckpt"]).parent, sizes=params["sizes"],
                teacher_ckpt=inputs["teacher"] if detector.distilled else None)
