"""Rule find_lr: the learning-rate range test of one model (at the found batch size, where it ran)."""

from pathlib import Path

from canguard.detectors import Detector
from canguard.training.config import TrainConfig
from canguard.training.run import apply_tuning
from canguard.training.tune import tune_lr


def run_find_lr(inputs, outputs, params, wildcards) -> None:
    detector = Detector(wildcards["family"], wildcards["role"])
    cfg = apply_tuning(TrainConfig.from_dict(params["training"]), batch_size_json=inputs.get("batch_size") or None)
    tune_lr(Path(inputs["train"]).parent, detector.family, detector.architecture, cfg, Path(outputs["result"]).parent,
            sizes=params["sizes"], teacher_ckpt=inputs["teacher"] if detector.distilled else None,
            num_steps=params["lr_steps"])
