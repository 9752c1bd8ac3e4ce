"""Fault injection into checkpointing: every way a save can fail, then a rerun that must end as if nothing happened.

Each test trains a tiny model for four epochs with a fault at the save of epoch 2 (the
third ``last`` checkpoint), reruns the same command without the fault, and compares the
final weights, metrics history and step count with an uninterrupted run.
"""

import contextlib
import errno
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from test_training import TINY, cfg, shards  # noqa: F401  (shards is a fixture)

import canguard.training.checkpoint as ck
from canguard.atomic import atomic_output
from canguard.training.checkpoint import CheckpointError, CheckpointSeries, load_checkpoint
from canguard.training.run import train_model

pytestmark = pytest.mark.faults
FAULT_EPOCH = 2


def settings():
    return cfg(max_epochs=4, unknown_id_rate=0.1)


@pytest.fixture(scope="module")
def straight(shards, tmp_path_factory):  # noqa: F811
    """An uninterrupted run: the reference every faulted run must end equal to."""
    out = tmp_path_factory.mktemp("straight")
    summary = train_model(shards, "gat", "teacher", settings(), out, sizes=TINY["gat"])
    return out, summary


def assert_same_run(a: Path, b: Path) -> None:
    sa, sb = (load_checkpoint(p / "best.ckpt")[0]["model"] for p in (a, b))
    assert sa.keys() == sb.keys()
    for key in sa:
        assert torch.equal(sa[key], sb[key]), key
    _, la, ma = CheckpointSeries(a / "checkpoints").latest()
    _, lb, mb = CheckpointSeries(b / "checkpoints").latest()
    for key in la["trainable"]:
        assert torch.equal(la["trainable"][key], lb["trainable"][key]), key
    assert ma["loop"]["global_step"] == mb["loop"]["global_step"]
    assert lb["scheduler"]["last_epoch"] == mb["loop"]["global_step"]  # the scheduler ran as many steps as counted
    ha, hb = ((p / "metrics.csv").read_text().splitlines() for p in (a, b))
    assert len(hb) == 1 + 4 and ha[0] == hb[0]
    ja, jb = (json.loads((p / "train_summary.json").read_text()) for p in (a, b))
    assert ja["global_steps"] == jb["global_steps"]


class FailAt:
    """Raise ``error`` at the n-th call of a patched writer whose path matches ``prefix``."""

    def __init__(self, prefix: str, nth: int, error: BaseException):
        self.prefix, self.nth, self.error, self.calls = prefix, nth, error, 0

    def hit(self, path) -> bool:
        if not Path(path).name.startswith(self.prefix):
            return False
        self.calls += 1
        return self.calls == self.nth


def disk_full() -> OSError:
    return OSError(errno.ENOSPC, "No space left on device")


@pytest.mark.parametrize("point", ["tensors", "metadata"])
def test_disk_full_at_each_write_resumes_to_the_same_weights(shards, straight, tmp_path, monkeypatch, point):  # noqa: F811
    """A full disk while writing the tensors, or after them while writing the metadata (the commit)."""
    fault = FailAt("last-", FAULT_EPOCH + 1, disk_full())
    if point == "tensors":
        real = ck.atomic_output

        @contextlib.contextmanager
        def failing(path, durable=True):
            with real(path, durable) as tmp:
                if fault.hit(path):
                    tmp.write_bytes(b"\0" * 100)  # a part of the file reached the disk
                    raise fault.error
                yield tmp
        monkeypatch.setattr(ck, "atomic_output", failing)
    else:
        real_text = ck.write_text

        def failing_text(path, text):
            if fault.hit(path):
                with atomic_output(path) as tmp:
                    tmp.write_text(text[:100])
                    raise fault.error
            real_text(path, text)
        monkeypatch.setattr(ck, "write_text", failing_text)
    with pytest.raises(OSError, match=r"last-step\d+\.(ckpt|json): not written \(No space left on device\)"):
        train_model(shards, "gat", "teacher", settings(), tmp_path, sizes=TINY["gat"])
    monkeypatch.undo()
    assert not list((tmp_path / "checkpoints").glob(".*.tmp"))  # nothing half-written left behind
    train_model(shards, "gat", "teacher", settings(), tmp_path, sizes=TINY["gat"])
    assert_same_run(straight[0], tmp_path)


KILLER = textwrap.dedent("""
    import contextlib, json, os, signal, sys
    from pathlib import Path
    import canguard.training.checkpoint as ck
    from canguard.training.config import TrainConfig
    from canguard.training.run import train_model

    shards, out, point, nth, settings, sizes = json.loads(sys.argv[1])
    calls = {"n": 0}
    def due(path):
        if Path(path).name.startswith("last-") and Path(path).suffix == ".ckpt":
            calls["n"] += 1
            return calls["n"] == nth
        return False
    real, real_text = ck.atomic_output, ck.write_text
    @contextlib.contextmanager
    def dying(path, durable=True):
        with real(path, durable) as tmp:
            yield tmp
            if point == "tensors" and due(path):  # written to its temporary name, not yet renamed
                os.kill(os.getpid(), signal.SIGKILL)
    def dying_text(path, text):
        ckpt = Path(path).with_suffix(".ckpt")
        if point == "between" and due(ckpt):
            os.kill(os.getpid(), signal.SIGKILL)
        if point == "metadata" and due(ckpt):
            with real(path) as tmp:
                tmp.write_text(text)
                os.kill(os.getpid(), signal.SIGKILL)
        real_text(path, text)
    ck.atomic_output, ck.write_text = dying, dying_text
    train_model(shards, "gat", "teacher", TrainConfig(**settings), out, sizes=sizes)
""")


@pytest.mark.parametrize("point", ["tensors", "between", "metadata"])
def test_kill_9_during_the_save_resumes_to_the_same_weights(shards, straight, tmp_path, point):  # noqa: F811
    """SIGKILL with the tensors half-committed, between the two files, with the metadata half-committed."""
    args = [str(shards), str(tmp_path), point, FAULT_EPOCH + 1, settings().to_dict(), TINY["gat"]]
    env = os.environ | {"PYTHONPATH": str(Path(__file__).parents[1] / "src")}
    run = subprocess.run([sys.executable, "-c", KILLER, json.dumps(args)], env=env, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == -9, run.stderr[-2000:]
    assert CheckpointSeries(tmp_path / "checkpoints").latest()[2]["epoch"] == FAULT_EPOCH - 1
    train_model(shards, "gat", "teacher", settings(), tmp_path, sizes=TINY["gat"])
    assert_same_run(straight[0], tmp_path)


def test_a_flipped_newest_checkpoint_is_passed_over_with_a_warning(shards, straight, tmp_path, caplog):  # noqa: F811
    shutil.copytree(straight[0], tmp_path, dirs_exist_ok=True)
    series = CheckpointSeries(tmp_path / "checkpoints")
    newest = series.path(series.steps()[0])
    data = bytearray(newest.read_bytes())
    data[len(data) // 2: len(data) // 2 + 50] = bytes(50)
    newest.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="content hash mismatch"):
        load_checkpoint(newest)
    _, _, meta = series.latest()
    assert "content hash mismatch" in caplog.text and "falling back" in caplog.text
    assert meta["epoch"] == 2  # the one before the last epoch


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("mount") is None, reason="mounting a tmpfs needs root")
def test_a_real_full_disk_then_freed(shards, straight, tmp_path):  # noqa: F811
    """A 64 MiB tmpfs filled up after epoch 1; training fails naming the file; freed, the rerun ends the same."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(disk)]).returncode != 0:
        pytest.skip("this machine does not allow mounting a tmpfs")
    try:
        out, filler = disk / "run", disk / "filler"

        def fill_the_disk(epoch, metrics):
            if epoch == FAULT_EPOCH - 1:
                with open(filler, "wb") as f, contextlib.suppress(OSError):
                    while True:
                        f.write(b"\0" * (1 << 16))
                        f.flush()

        with pytest.raises(OSError) as failed:
            train_model(shards, "gat", "teacher", settings(), out, sizes=TINY["gat"], callbacks=[fill_the_disk])
        assert failed.value.errno == errno.ENOSPC and str(out) in str(failed.value)
        filler.unlink()
        train_model(shards, "gat", "teacher", settings(), out, sizes=TINY["gat"])
        assert_same_run(straight[0], out)
    finally:
        subprocess.run(["umount", str(disk)])


TRAINER = textwrap.dedent("""
    import json, sys
    from canguard.logs import setup_logging
    from canguard.training.config import TrainConfig
    from canguard.training.run import train_model

    shards, out, settings, sizes = json.loads(sys.argv[1])
    setup_logging()
    train_model(shards, "gat", "teacher", TrainConfig(**settings), out, sizes=sizes)
""")


def test_sigterm_from_outside_stops_promptly_and_the_rerun_ends_the_same(shards, straight, tmp_path):  # noqa: F811
    """`scancel` (SIGTERM) at whatever moment it lands: a checkpoint at the next step, a prompt exit, no lost epoch."""
    import signal
    import time

    args = [str(shards), str(tmp_path), settings().to_dict(), TINY["gat"]]
    env = os.environ | {"PYTHONPATH": str(Path(__file__).parents[1] / "src")}
    proc = subprocess.Popen([sys.executable, "-c", TRAINER, json.dumps(args)], env=env, stderr=subprocess.PIPE,
                            text=True)
    series = CheckpointSeries(tmp_path / "checkpoints")
    deadline = time.monotonic() + 240
    while not series.steps() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    assert proc.poll() is None, "training ended before it could be stopped"
    sent = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)
    waited = time.monotonic() - sent
    assert proc.returncode != 0 and "training stopped by SIGTERM" in stderr, stderr[-2000:]
    assert waited < 30, f"took {waited:.1f} s to stop"
    train_model(shards, "gat", "teacher", settings(), tmp_path, sizes=TINY["gat"])
    assert_same_run(straight[0], tmp_path)
