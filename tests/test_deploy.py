"""Deploying a detector: export (ONNX), canguard detect over a log, stdin and a python-can bus, canguard enroll.

* a stream's windows are the offline windows of the recording it replays, bit for bit, however it is cut;
* the exported ONNX model scores every test window of the real hcrl_sa as the PyTorch model does (both
  families, a small untrained model: the export is under test, not the training);
* the workflow's exported detector (tests/conftest.py's run of config/test.yaml) gives, through
  ``canguard detect``, the windows, scores and alarms of the offline evaluation of a recording, under each
  protocol, from a log, from candump lines on stdin and from a python-can virtual bus fed by a replay;
* ``canguard enroll`` fits the profile and threshold the workflow's enrollment fits;
* bad input is counted, unusable input ends with status 2 and the file named.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from deploy_run import assert_same_as_offline, detect_on_virtual_bus, offline_alarms

from canguard.cli import main as cli
from canguard.deploy.bundle import DetectorBundle, DetectorError
from canguard.deploy.onnx_model import OnnxScorer, TorchScorer, batch_inputs, export_onnx
from canguard.deploy.stream import WindowStream
from canguard.evaluation.thresholds import false_alarm_threshold, seconds_per_window
from canguard.graphs.builder import build_window_graphs, select_graphs
from canguard.graphs.preprocessing import fit_preprocessing
from canguard.ingest.detect import read_any
from canguard.models.factory import build_model
from canguard.profiles.profile import fit_profile
from canguard.simulate import SyntheticSpec, generate_recording, plan_recordings

DETECTOR = "results/test/detectors/synthetic/gat_student/seed0"
ALARMS = "results/test/evaluation/synthetic/gat_student/seed0/alarms.parquet"
RULE_DETECTOR = "results/test/detectors/synthetic/rules/seed0"
RULE_ALARMS = "results/test/evaluation/synthetic/rules/seed0/alarms.parquet"
SIMULATED = "results/test/simulate/synthetic"
DOS_BRAVO = "test_01_known_vehicle_known_attack/DoS-bravo"
DOS_CHARLIE = "test_02_unknown_vehicle_known_attack/DoS-charlie"


# ------------------------------------------------------------------------------------------------
# the stream's windows


@pytest.fixture(scope="module")
def synthetic_recordings():
    spec = SyntheticSpec.from_config({"duration_s": 4, "seed": 3})
    plans = {p.name: p for p in plan_recordings(spec)}
    return generate_recording(plans["DoS-alpha"], spec), generate_recording(plans["attack-free-alpha"], spec)


@pytest.mark.parametrize("size, stride", [(100, 100), (100, 40), (50, 80)])
@pytest.mark.parametrize("with_profile", [True, False], ids=["profile", "no-profile"])
def test_a_stream_builds_the_offline_windows_bit_for_bit(synthetic_recordings, size, stride, with_profile):
    frames, free = synthetic_recordings
    profile = fit_profile([free], size, "alpha") if with_profile else None
    offline = build_window_graphs(frames, size, stride, [profile] if profile else None)
    stream, rng, built, i = WindowStream(size, stride, profile), np.random.default_rng(size + stride), [], 0
    while i < len(frames):  # chunks of 1 to 700 messages, at most 1 to 8 windows built at a time
        n = int(rng.integers(1, 700))
        stream.add(frames.take(np.arange(i, min(len(frames), i + n))))
        built += list(stream.drain(int(rng.integers(1, 9))))
        i += n
    assert sum(g.num_graphs for g in built) == offline.num_graphs > 10
    for name in ("x", "node_can_id", "edge_attr", "start", "t_start", "t_end"):
        got = np.concatenate([getattr(g, name) for g in built])
        assert np.array_equal(got, getattr(offline, name), equal_nan=True), name
    assert np.array_equal(np.concatenate([g.edge_index for g in built], axis=1), offline.edge_index)
    assert np.array_equal(np.concatenate([np.diff(g.node_ptr) for g in built]), np.diff(offline.node_ptr))
    assert stream.tail == len(frames) - (offline.start[-1] + size)  # the messages after the last window


# ------------------------------------------------------------------------------------------------
# ONNX against PyTorch on every hcrl_sa test window


@pytest.fixture(scope="module")
def hcrl_sa_windows(hcrl_sa):
    """hcrl_sa's test windows (W = S = 100), each vehicle with the profile of its attack-free training traffic
    (spark: none), and a preprocessing fitted on the training recordings' benign windows."""
    profiles = {v: fit_profile([read_any(hcrl_sa / f"train_01_attack_free/attack-free-{v}.csv").frames], 100, v)
                for v in ("kia", "sonata")}
    training = []
    for f in sorted(hcrl_sa.glob("train_02_with_attacks/*.csv")):
        g = build_window_graphs(read_any(f).frames, 100, 100, [profiles[f.stem.split("-")[-1].lower()]])
        training.append((f.stem, g, np.full(g.num_graphs, "train")))
    prep = fit_preprocessing(training)
    tests = [build_window_graphs(read_any(f).frames, 100, 100,
                                 [profiles[v]] if (v := f.stem.split("-")[-1].lower()) in profiles else None)
             for f in sorted(hcrl_sa.glob("test_*/*.csv"))]
    return prep, training, tests


@pytest.mark.parametrize("family", ["gat", "vgae"])
def test_the_exported_model_scores_every_hcrl_sa_test_window_as_pytorch(hcrl_sa_windows, family):
    prep, training, tests = hcrl_sa_windows
    torch.manual_seed(0)
    model = build_model(family, "student", prep.num_ids).eval()
    example = batch_inputs(select_graphs(tests[0], np.arange(tests[0].num_graphs) < 4), prep)
    onnx_score, torch_score = OnnxScorer(export_onnx(model, family, example)), TorchScorer(model, family)
    # the threshold from the training windows' benign scores (a declared source, never the test windows)
    benign = [select_graphs(g, g.y == 0) for _, g, _ in training]
    fit = np.concatenate([torch_score(batch_inputs(g, prep)) for g in benign])
    spw = seconds_per_window(np.concatenate([g.t_start for g in benign]), np.concatenate([g.t_end for g in benign]),
                             100, 100)
    threshold = false_alarm_threshold(fit, spw, 10.0)["value"]
    windows, worst, alarms = 0, 0.0, 0
    for graphs in tests:
        for lo in range(0, graphs.num_graphs, 512):
            batch = batch_inputs(select_graphs(graphs, (np.arange(graphs.num_graphs) >= lo)
                                               & (np.arange(graphs.num_graphs) < lo + 512)), prep)
            a, b = onnx_score(batch), torch_score(batch)
            worst = max(worst, float(np.abs(a - b).max()))
            assert np.array_equal(a >= threshold, b >= threshold)
            windows, alarms = windows + len(a), alarms + int((b >= threshold).sum())
    print(f"{family}: {windows} hcrl_sa test windows, max |ONNX - PyTorch| = {worst:.3g}, {alarms} alarms agree")
    assert windows > 9000 and worst < 1e-4


# ------------------------------------------------------------------------------------------------
# the workflow's detector through canguard detect


@pytest.fixture(scope="module")
def deployed(workflow_run, tmp_path_factory):
    """A copy of the workflow run (its detector folder and offline alarms), so that enrolling writes there."""
    work = tmp_path_factory.mktemp("deployed") / "work"
    shutil.copytree(workflow_run / "results/test/detectors", work / "results/test/detectors")
    shutil.copytree(workflow_run / SIMULATED, work / SIMULATED)
    for item in (ALARMS, "results/test/evaluation/synthetic/gat_student/seed0/thresholds.json", RULE_ALARMS):
        (work / item).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(workflow_run / item, work / item)
    shutil.copytree(workflow_run / "results/test/profiles", work / "results/test/profiles")
    return work


def offline(work: Path, protocol: str, recording: str) -> pd.DataFrame:
    return offline_alarms(work / ALARMS, protocol, recording)


def detect(work: Path, *args: str, stdin: bytes | None = None) -> tuple[int, list[dict], dict, str]:
    """``canguard detect --model <detector> --all-windows ARGS`` in a subprocess: status, lines, report, stderr."""
    run = subprocess.run([sys.executable, "-m", "canguard.cli", "detect", "--model", str(work / DETECTOR),
                          "--all-windows", *args], input=stdin, capture_output=True, cwd=work, timeout=300)
    err = run.stderr.decode()
    lines = [json.loads(line) for line in run.stdout.decode().splitlines()]
    report = json.loads(err.strip().splitlines()[-1]) if run.returncode == 0 else {}
    return run.returncode, lines, report, err


@pytest.mark.parametrize("vehicle, protocol, recording", [
    ("bravo", "enrolled", DOS_BRAVO), ("bravo", "zero_shot", DOS_BRAVO), (None, "zero_shot", DOS_CHARLIE)],
    ids=["enrolled", "zero-shot-known-vehicle", "zero-shot-no-profile"])
def test_detect_on_a_log_gives_the_offline_evaluation_of_that_recording(deployed, vehicle, protocol, recording):
    args = [f"{SIMULATED}/{recording}.csv"] + (["--vehicle", vehicle, "--protocol", protocol] if vehicle else [])
    code, lines, report, err = detect(deployed, *args)
    assert code == 0, err
    assert_same_as_offline(lines, offline(deployed, protocol, recording))
    assert report["windows"] == len(lines) and report["alarms"] == sum(line["alarm"] for line in lines)
    assert report["messages"] == report["frames_by_type"]["data"] and report["rejected"] == 0
    # IDs outside the model's vocabulary are counted (and judged, never dropped): the DoS floods 0x000, which
    # benign training traffic never had; charlie, never trained on, sends IDs of its own besides
    assert "0x000" in report["unknown_ids_listed"] and report["unknown_id_messages"] > 100
    if vehicle == "bravo":
        assert report["unknown_ids_listed"] == ["0x000"]
    else:
        assert report["unknown_ids"] > 10


@pytest.mark.parametrize("vehicle, protocol, recording", [
    ("bravo", "enrolled", DOS_BRAVO), ("charlie", "enrolled", DOS_CHARLIE), ("bravo", "zero_shot", DOS_BRAVO)],
    ids=["enrolled", "enrolled-unknown-vehicle", "zero-shot-known-vehicle"])
def test_the_exported_rule_baseline_gives_the_offline_rule_alarms(deployed, vehicle, protocol, recording):
    """The rule is a detector like the models: exported by the workflow (deploy.models: rules), loaded, checked and
    run by canguard detect, it gives the windows, scores and alarms of the evaluation's rule baseline."""
    bundle = DetectorBundle(deployed / RULE_DETECTOR)
    assert bundle.manifest["model"]["family"] == "rules" and bundle.manifest["onnx"]["check"]["max_abs_diff"] < 1e-6
    run = subprocess.run([sys.executable, "-m", "canguard.cli", "detect", "--model", str(deployed / RULE_DETECTOR),
                          "--all-windows", f"{SIMULATED}/{recording}.csv", "--vehicle", vehicle, "--protocol",
                          protocol], capture_output=True, cwd=deployed, timeout=300)
    assert run.returncode == 0, run.stderr.decode()[-2000:]
    lines = [json.loads(line) for line in run.stdout.decode().splitlines()]
    rows = offline_alarms(deployed / RULE_ALARMS, protocol, recording)
    assert_same_as_offline(lines, rows)
    assert sum(line["alarm"] for line in lines) > 0  # the DoS is seen


def candump_lines(frames) -> list[bytes]:
    return [f"({t:.6f}) vcan0 {cid:03X}#{bytes(p[:d]).hex().upper()}".encode()
            for t, cid, d, p in zip(frames.timestamp, frames.can_id, frames.dlc, frames.payload)]


def test_detect_reads_candump_lines_on_stdin_and_counts_what_is_not_a_frame(deployed, tmp_path):
    frames = read_any(deployed / SIMULATED / f"{DOS_BRAVO}.csv").frames
    lines = candump_lines(frames)
    log = tmp_path / "dos-bravo.log"
    log.write_bytes(b"\n".join(lines) + b"\n")
    bad = [b"this is not candump", b"(1.0) vcan0 20000004#0000000000000000",  # an error frame (CAN_ERR_FLAG)
           b"(1.0) vcan0 123##1" + b"00" * 12, b""]  # a CAN FD frame of 12 bytes; an empty line
    mixed = lines[:500] + bad + lines[500:]
    code, from_stdin, report, err = detect(deployed, "--vehicle", "bravo", "-", stdin=b"\n".join(mixed) + b"\n")
    assert code == 0, err
    code, from_file, _, err = detect(deployed, "--vehicle", "bravo", str(log))
    assert code == 0, err
    assert [(d["window"], d["score"], d["alarm"]) for d in from_stdin] == \
        [(d["window"], d["score"], d["alarm"]) for d in from_file] and len(from_file) > 50
    assert report["messages"] == len(frames) and report["rejected"] == 4
    reasons = report["rejects_by_reason"]
    assert reasons["empty line"] == 1 and sum(v for k, v in reasons.items() if "error frame" in k) == 1
    assert sum(v for k, v in reasons.items() if "CAN FD" in k and "more than 8" in k) == 1
    assert {r["line"] for r in report["first_rejects"]} == {501, 502, 503, 504}


def test_detect_on_a_python_can_virtual_bus_fed_by_a_replay_gives_the_offline_alarms(deployed, tmp_path):
    """The live path: detect listens on a python-can virtual bus; a replay of the recording feeds it."""
    code, lines, report, sent = detect_on_virtual_bus(
        deployed / DETECTOR, deployed / SIMULATED / f"{DOS_BRAVO}.csv",
        ["--vehicle", "bravo", "--protocol", "enrolled"], tmp_path / "report.json")
    assert code == 0
    assert_same_as_offline(lines, offline(deployed, "enrolled", DOS_BRAVO))
    assert report["messages"] == sent["sent"] > 9000
    assert report["silences"] >= 1 and report["longest_silence_s"] >= 1.5  # the bus after the replay


def test_enroll_fits_the_workflows_enrollment_and_detect_then_judges_as_the_enrolled_protocol(deployed, capsys):
    """charlie, enrolled by the workflow on the first 0.3 s of each of its three test recordings (config/test.yaml),
    enrolled again here from the same logs under another name."""
    logs = sorted(str(p) for p in (deployed / SIMULATED).glob("test_*/*-charlie.csv"))
    assert len(logs) == 3
    code = cli(["enroll", "--model", str(deployed / DETECTOR), "--vehicle", "charlie-again", "--seconds", "0.3", *logs])
    assert code == 0
    bundle = DetectorBundle(deployed / DETECTOR)
    again, workflow = bundle.judging("charlie-again", "enrolled"), bundle.judging("charlie", "enrolled")
    ours, theirs = again.profile.to_json(), workflow.profile.to_json()
    assert ours["ids"] == theirs["ids"] and ours["messages"] == theirs["messages"]
    assert again.threshold == pytest.approx(workflow.threshold, abs=1e-5)
    code, lines, _, err = detect(deployed, f"{SIMULATED}/{DOS_CHARLIE}.csv", "--vehicle", "charlie-again")
    assert code == 0, err
    rows = offline(deployed, "enrolled", DOS_CHARLIE)
    got = pd.DataFrame(lines)
    assert np.abs(got["score"].to_numpy() - rows["score"].to_numpy()).max() < 1e-5
    assert np.array_equal(got["alarm"].to_numpy(bool), rows["alarm"].to_numpy(bool))


def test_unusable_input_ends_with_status_2_naming_what_is_wrong(deployed, tmp_path):
    code, _, _, err = detect(deployed, str(tmp_path / "nothing.log"))
    assert code == 2 and "nothing.log: no such file" in err
    junk = tmp_path / "junk.log"
    junk.write_text("hello\nworld\n")
    code, _, _, err = detect(deployed, str(junk))
    assert code == 2 and "junk.log:1: not a CAN log" in err
    code, _, _, err = detect(deployed, str(junk), "--vehicle", "zulu")
    assert code == 2 and "no enrolled or zero-shot entry for vehicle 'zulu'" in err
    code, _, _, err = detect(deployed, "-", stdin=b"garbage\nmore garbage\n")
    assert code == 2 and "<stdin>:1: no CAN frame in 2 line(s)" in err
    broken = tmp_path / "broken"
    shutil.copytree(deployed / DETECTOR, broken)
    with open(broken / "model.onnx", "r+b") as f:
        f.truncate(1000)
    with pytest.raises(DetectorError, match="model.onnx: content hash mismatch"):
        DetectorBundle(broken)
