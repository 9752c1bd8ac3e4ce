"""The whole DAG on real data (a slice of hcrl_sa): ingest to report, with real training. Marked slow.

    make test-slow        # pytest -m slow
"""

import json

import pandas as pd
import pytest
from deploy_run import assert_same_as_offline, detect_on_virtual_bus, offline_alarms
from snakemake_run import copy_workflow, snakemake

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def real_run(tmp_path_factory, hcrl_sa):
    work = copy_workflow(tmp_path_factory.mktemp("real"))
    # the first 60,000 lines (about 24 s) of every recording, in the dataset's own layout (duplicates
    # included): every test recording's attack starts inside them (after 11 to 23 s)
    for f in sorted(hcrl_sa.glob("*/*.csv")):
        out = work / "datasets/hcrl_slice" / f.parent.name / f.name
        out.parent.mkdir(parents=True, exist_ok=True)
        with open(f, "rb") as src:
            out.write_bytes(b"".join(line for _, line in zip(range(60_000), src)))
    (work / "config/slice.yaml").write_text(
        "run_name: slice\n"
        "run: [hcrl_slice]\n"
        "datasets: {hcrl_slice: {}}\n"
        "enrollment: {seconds: 8.0}\n"
        "training: {max_epochs: 3, batch_size: 64}\n"
        "evaluation: {efficiency: {batch1_windows: 50, batch_size: 64}}\n")
    run = snakemake(work, configfiles=("config/slice.yaml",), timeout=1800)
    assert run.returncode == 0, run.stderr[-4000:]
    return work


def test_summary_covers_every_scenario_and_model(real_run):
    table = pd.read_csv(real_run / "results/slice/summary.csv")
    assert set(table["scenario"]) == {"test_01_known_vehicle_known_attack", "test_02_unknown_vehicle_known_attack",
                                      "test_03_known_vehicle_unknown_attack", "test_04_unknown_vehicle_unknown_attack"}
    assert set(table["model"]) == {"rules", "gat_teacher", "gat_student", "gat_student_scratch", "vgae_teacher",
                                   "vgae_student", "vgae_student_scratch", "fusion_teacher", "fusion_student"}
    assert set(table["protocol"]) == {"zero_shot", "enrolled"}
    assert (table["attack_windows"] > 0).all()  # every scenario of the slice holds attacks: F1 is defined
    assert table["f1"].between(0, 1).all() and table["auroc"].dropna().between(0, 1).all()
    enrolled = table[table["protocol"] == "enrolled"]
    # the Spark enrols on the first 8 s of its 3 recordings; no attack message falls inside them
    spark = enrolled[enrolled["scenario"] == "test_02_unknown_vehicle_known_attack"]
    assert (spark["enrollment_attack_messages"] == 0).all() and (spark["excluded_windows"] > 0).all()
    report = json.loads((real_run / "results/slice/ingest/hcrl_slice/ingest_report.json").read_text())
    assert len(report["duplicates_skipped"]) == 2


def test_report_builds(real_run):
    run = snakemake(real_run, "--report", "results/slice/report.html", configfiles=("config/slice.yaml",))
    assert run.returncode == 0, run.stderr[-3000:]
    assert (real_run / "results/slice/report.html").stat().st_size > 100_000


def test_nothing_left_to_do(real_run):
    again = snakemake(real_run, "--dry-run", configfiles=("config/slice.yaml",))
    assert "Nothing to be done" in again.stdout + again.stderr


@pytest.mark.parametrize("model, vehicle, protocol, recording", [
    ("gat_student", "sonata", "enrolled", "test_01_known_vehicle_known_attack/DoS-sonata"),
    ("vgae_student", "kia", "zero_shot", "test_03_known_vehicle_unknown_attack/malfunction-kia"),
], ids=["gat-enrolled-dos", "vgae-zero-shot-malfunction"])
def test_a_real_attack_recording_replayed_on_a_bus_gives_the_offline_alarms(real_run, tmp_path, model, vehicle,
                                                                            protocol, recording):
    """The exported student of the real run, listening on a python-can virtual bus that a replay of an hcrl_sa
    attack recording feeds: the windows, scores and alarms of that recording's offline evaluation."""
    detector = real_run / f"results/slice/detectors/hcrl_slice/{model}/seed0"
    code, lines, report, sent = detect_on_virtual_bus(
        detector, real_run / "datasets/hcrl_slice" / f"{recording}.csv", ["--vehicle", vehicle, "--protocol", protocol],
        tmp_path / "report.json")
    assert code == 0
    rows = offline_alarms(real_run / f"results/slice/evaluation/hcrl_slice/{model}/seed0/alarms.parquet", protocol,
                          recording)
    worst = assert_same_as_offline(lines, rows, min_windows=400)
    print(f"{model} {protocol} {recording}: {len(lines)} windows, {int(rows['alarm'].sum())} alarms, "
          f"max |score - offline| {worst:.3g}, {report['messages_per_second']} messages/s through the bus")
    assert report["messages"] == sent["sent"] and report["rejected"] == 0
    check = json.loads((detector / "detector.json").read_text())["onnx"]["check"]
    assert check["max_abs_diff"] < 1e-4 and all(check["decisions_agree"].values())
