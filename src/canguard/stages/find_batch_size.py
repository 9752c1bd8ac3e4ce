"""Rule find_batch_size: the largest batch of one model that fits the device's memory budget."""

from pathlib import Path

from canguard.detectors import Detector
from canguard.training.config import TrainConfig
from canguard.training.tune import tune_batch_size


def run_find_batch_size(inputs, outputs, params, wildcards) -> None:
    detector = Detector(wildcards["family"], wildcards["role"])
    tune_batch_size(Path(inputs["train"]).parent, detector.family, detector.architecture,
                    TrainConfig.from_dict(params["training"]), outputs["result"], sizes=params["sizes"],
                    teacher_ckpt=inputs["teacher"] if detector.distilled else None,
                    max_batch_size=params["max_batch_size"], target_memory_usage=params["target_memory_usage"],
                    memory_budget_mb=params["memory_budget_mb"])
