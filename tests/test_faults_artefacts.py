"""Fault injection into artefacts: flipped, truncated and hostile files at every load path, read-only output.

Every artefact that is loaded with ``torch.load`` (graph shards, checkpoints: the
only files holding pickles) is checked against the hash its manifest or metadata
records before it is loaded, and loaded with ``weights_only=True``; a mismatch
fails with one line naming the file.  The payload of a hostile pickle must never run.
"""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import torch
from test_training import TINY, cfg, shards  # noqa: F401  (shards is a fixture)

from canguard.atomic import atomic_output, file_sha256, write_text
from canguard.graphs.dataset import GraphShards, ShardError, load_shard
from canguard.training.checkpoint import SIZE_KEY, CheckpointError, load_checkpoint, metadata_path
from canguard.training.run import load_model, train_model

pytestmark = pytest.mark.faults


class Payload:
    """Pickles to a call of os.system: what a hostile file would carry."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def flip(path: Path, n: int = 50) -> None:
    data = bytearray(path.read_bytes())
    mid = len(data) // 2
    data[mid: mid + n] = bytes(b ^ 0xFF for b in data[mid: mid + n])
    path.write_bytes(bytes(data))


def truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


@pytest.fixture
def part(shards, tmp_path):  # noqa: F811
    """A private copy of the train shards."""
    load_shard.cache_clear()
    return Path(shutil.copytree(shards / "train", tmp_path / "train"))


@pytest.fixture(scope="module")
def trained(shards, tmp_path_factory):  # noqa: F811
    out = tmp_path_factory.mktemp("model")
    train_model(shards, "gat", "teacher", cfg(max_epochs=1), out, sizes=TINY["gat"])
    return out


def read_all(folder: Path) -> None:
    part = GraphShards(folder)
    for i in range(len(part.manifest["shards"])):
        part.shard(i)


@pytest.mark.parametrize("damage, message", [(flip, "content hash mismatch"), (truncate, "bytes, expected")])
def test_a_damaged_shard_fails_naming_the_file(part, damage, message):
    target = part / "shard_00000.pt"
    damage(target)
    with pytest.raises(ShardError) as failed:
        read_all(part)
    text = str(failed.value)
    assert text.startswith(f"{target}: ") and message in text and "snakemake --forcerun shards" in text
    assert "\n" not in text


def test_a_hostile_shard_is_refused_even_with_a_forged_manifest(part, tmp_path):
    marker = tmp_path / "pwned"
    target = part / "shard_00000.pt"
    torch.save({"x": Payload(marker)}, target)
    manifest = json.loads((part / "manifest.json").read_text())
    manifest["shards"][0] |= {"sha256": file_sha256(target), "bytes": target.stat().st_size}
    (part / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ShardError, match="not a tensors-only shard, refused"):
        read_all(part)
    assert not marker.exists()


def test_a_truncated_manifest_fails_naming_the_file(part):
    truncate(part / "manifest.json")
    with pytest.raises(ShardError, match=r"manifest\.json: not valid JSON"):
        GraphShards(part)


@pytest.mark.parametrize("damage, message", [(flip, "content hash mismatch"), (truncate, "bytes, expected")])
def test_a_damaged_checkpoint_fails_naming_the_file(trained, tmp_path, damage, message):
    ckpt = Path(shutil.copy(trained / "best.ckpt", tmp_path / "best.ckpt"))
    shutil.copy(trained / "best.json", tmp_path / "best.json")
    damage(ckpt)
    for load in (load_checkpoint, load_model):  # every path that reads a trained model
        with pytest.raises(CheckpointError) as failed:
            load(ckpt)
        assert str(failed.value).startswith(f"{ckpt}: ") and message in str(failed.value)


def test_a_checkpoint_without_its_metadata_is_refused(trained, tmp_path):
    ckpt = Path(shutil.copy(trained / "best.ckpt", tmp_path / "best.ckpt"))
    with pytest.raises(CheckpointError, match="no metadata file best.json beside it"):
        load_checkpoint(ckpt)


def test_a_hostile_checkpoint_is_refused_even_with_forged_metadata(trained, tmp_path):
    marker = tmp_path / "pwned"
    ckpt = tmp_path / "best.ckpt"
    torch.save({"model": Payload(marker)}, ckpt)
    meta = json.loads((trained / "best.json").read_text())
    meta |= {"tensors_sha256": file_sha256(ckpt), SIZE_KEY: ckpt.stat().st_size}
    metadata_path(ckpt).write_text(json.dumps(meta))
    for load in (load_checkpoint, load_model):
        with pytest.raises(CheckpointError, match="not a tensors-only checkpoint, refused"):
            load(ckpt)
    assert not marker.exists()


def test_a_killed_writer_leaves_the_old_file_or_none(tmp_path):
    """What a job killed mid-write leaves: never a file that looks finished."""
    target = tmp_path / "report.json"
    write_text(target, '{"old": true}\n')
    with pytest.raises(KeyboardInterrupt), atomic_output(target) as tmp:
        tmp.write_text('{"new": ')
        raise KeyboardInterrupt
    assert json.loads(target.read_text()) == {"old": True}
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


@pytest.fixture
def read_only(tmp_path):
    """A read-only folder (a tmpfs mounted ro: root ignores file modes)."""
    folder = tmp_path / "ro"
    folder.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(folder)],
                                           capture_output=True).returncode != 0:
        folder.chmod(0o555)
        if os.access(folder, os.W_OK):
            pytest.skip("cannot make a read-only folder here")
        yield folder
        folder.chmod(0o755)
        return
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)])


def test_a_read_only_results_folder_fails_naming_the_file(read_only, shards):  # noqa: F811
    from canguard.graphs.shards import ShardWriter  # noqa: F401  (the writers below all go through atomic_output)

    target = read_only / "results/ingest/x/report.json"
    with pytest.raises(OSError) as failed:
        write_text(target, "{}")
    assert str(target) in str(failed.value)
    with pytest.raises(OSError) as failed:
        train_model(shards, "gat", "teacher", cfg(max_epochs=1), read_only / "model", sizes=TINY["gat"])
    assert str(read_only / "model") in str(failed.value)
