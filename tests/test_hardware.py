"""Hardware presets: config/hardware/<name>.yaml overlays under the user's config, named by the schema."""

import copy

import pytest
import yaml
from snakemake_run import REPO

from canguard.config_checks import validate_config
from canguard.hardware import apply_hardware_preset, merge_under, preset_names

PRESETS = REPO / "config/hardware"
SCHEMA = REPO / "workflow/schemas/config.schema.yaml"


def test_the_schema_names_exactly_the_preset_files():
    enum = yaml.safe_load(SCHEMA.read_text())["properties"]["hardware"]["enum"]
    assert sorted(enum) == sorted(["none", *preset_names(PRESETS)])


def test_the_design_values():
    large = yaml.safe_load((PRESETS / "large-gpu.yaml").read_text())["training"]
    assert (large["precision"], large["batch_size"], large["num_workers"], large["prefetch_factor"]) == (
        "bf16-mixed", 128, 8, 4)
    medium = yaml.safe_load((PRESETS / "medium-gpu.yaml").read_text())["training"]
    assert (medium["precision"], medium["batch_size"], medium["num_workers"], medium["prefetch_factor"]) == (
        "16-mixed", 64, 4, 2)
    small = yaml.safe_load((PRESETS / "small-gpu.yaml").read_text())
    assert (small["training"]["precision"], small["training"]["batch_size"], small["training"]["num_workers"],
            small["tuning"]["target_memory_usage"]) == ("32-true", 32, 2, 0.7)


@pytest.mark.parametrize("name", preset_names(PRESETS))
def test_every_preset_validates(name):
    config = {"hardware": name}
    apply_hardware_preset(config, name, PRESETS)
    assert validate_config(config, SCHEMA) == []


def test_the_config_wins_over_the_preset_and_the_preset_over_the_defaults():
    config = {"hardware": "small-gpu", "training": {"batch_size": 8}}
    apply_hardware_preset(config, "small-gpu", PRESETS)
    assert validate_config(config, SCHEMA) == []
    assert config["training"]["batch_size"] == 8  # the user's
    assert config["training"]["precision"] == "32-true" and config["tuning"]["target_memory_usage"] == 0.7
    plain = {}
    validate_config(plain, SCHEMA)
    assert plain["hardware"] == "none" and plain["training"]["precision"] == "auto"


def test_merge_under_keeps_what_is_set():
    config = {"a": {"b": 1}, "c": 2}
    merged = merge_under(copy.deepcopy(config), {"a": {"b": 9, "d": 4}, "c": 7, "e": 5})
    assert merged == {"a": {"b": 1, "d": 4}, "c": 2, "e": 5}


def test_an_unknown_preset_is_one_line():
    with pytest.raises(ValueError, match=r"^config error: hardware: 'tpu-pod' is not a preset \(allowed: none, cpu, "):
        apply_hardware_preset({}, "tpu-pod", PRESETS)
