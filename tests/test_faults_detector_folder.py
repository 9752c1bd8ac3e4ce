"""A detector folder attacked as a user who ships folders to vehicles would meet it (issue 20): edited files, hashes
recomputed, hostile vehicle entries, vehicle names that are paths, signatures.  Every case ends with status 2 and one
line naming the file (and the key) before a message is read, or works as documented; nothing is written outside the
folder.  The folder is a small real one (tests/detector_folder.py: an untrained GAT student exported to ONNX)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from detector_folder import build_detector, synthetic_logs

from canguard.cli import main as cli
from canguard.deploy.bundle import DetectorBundle, detector_id
from canguard.deploy.integrity import INTEGRITY, list_files, signed_payload
from canguard.deploy.validate import MAX_JSON_BYTES, MAX_PROFILE_IDS

pytestmark = pytest.mark.faults

ENTRY = "vehicles/enrolled/alpha.json"


def candump(frames) -> bytes:
    return b"".join(f"({t:.6f}) vcan0 {cid:03X}#{bytes(p[:d]).hex().upper()}\n".encode()
                    for t, cid, d, p in zip(frames.timestamp, frames.can_id, frames.dlc, frames.payload))


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """The detector folder (unsigned and signed), a key pair and another, and two logs of alpha."""
    root = tmp_path_factory.mktemp("detector")
    assert cli(["keygen", str(root / "signing")]) == 0 and cli(["keygen", str(root / "other")]) == 0
    build_detector(root / "plain")
    shutil.copytree(root / "plain", root / "signed")
    record = json.loads((root / "signed" / INTEGRITY).read_text())
    from canguard.deploy.integrity import update_integrity
    update_integrity(root / "signed", record, [], root / "signing")
    logs = synthetic_logs()
    (root / "benign.log").write_bytes(candump(logs["attack-free-alpha"]))
    (root / "dos.log").write_bytes(candump(logs["DoS-alpha"]))
    return root


@pytest.fixture
def folder(made, tmp_path) -> Path:
    """A fresh copy of the unsigned folder."""
    return Path(shutil.copytree(made / "plain", tmp_path / "detector"))


def snapshot(root: Path) -> dict:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def run(capsys, *argv) -> tuple[int, str]:
    code = cli(list(argv))
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


def refused(capsys, *argv) -> str:
    """The command ends with status 2 and a last stderr line naming what is wrong; that line."""
    code, err = run(capsys, *argv)
    assert code == 2, err
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"canguard {argv[0]}: "), err
    return last


def edit_json(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data, indent=1))


def rehash(folder: Path, new_id: bool = False) -> None:
    """What a careless or hostile editor does next: integrity.json recomputed (and with ``new_id`` the
    detector_id of detector.json too), so that the hashes alone no longer catch the edit."""
    manifest_path = folder / "detector.json"
    if new_id:
        manifest = json.loads(manifest_path.read_text())
        manifest["detector_id"] = detector_id(manifest)
        manifest_path.write_text(json.dumps(manifest, indent=1))
        for entry in (folder / "vehicles").glob("*/*.json"):
            edit_json(entry, lambda e: e.__setitem__("detector_id", manifest["detector_id"]))
    record = json.loads((folder / INTEGRITY).read_text())
    names = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.json") if p.name != INTEGRITY) + \
        ["model.onnx"]
    record["files"] = list_files(folder, names)
    if new_id:
        record["detector_id"] = json.loads(manifest_path.read_text())["detector_id"]
    (folder / INTEGRITY).write_text(json.dumps(record, indent=1))


def detect(folder: Path, log: Path, *extra: str) -> list[str]:
    return ["detect", "--model", str(folder), str(log), *extra]


# ------------------------------------------------------------------------------------------------
# the folder as a whole


MANIFEST_EDITS = {
    "window size and stride 5": lambda m: m["windows"].update(size=5, stride=5),
    "no-profile threshold 1e9": lambda m: m["thresholds"]["no_profile"].update(value=1e9),
    "vocabulary reversed": lambda m: m["preprocessing"]["vocabulary"].reverse(),
    "vocabulary truncated": lambda m: m["preprocessing"].update(vocabulary=m["preprocessing"]["vocabulary"][:3]),
    "thresholds deleted": lambda m: m.pop("thresholds"),
}


@pytest.mark.parametrize("edit", MANIFEST_EDITS, ids=list(MANIFEST_EDITS))
def test_an_edited_detector_json_is_refused_however_far_the_editor_goes(made, folder, capsys, edit):
    edit_json(folder / "detector.json", MANIFEST_EDITS[edit])
    line = refused(capsys, *detect(folder, made / "dos.log"))
    assert "detector.json: content hash mismatch" in line
    rehash(folder)  # hashes recomputed: the identity no longer matches the content
    line = refused(capsys, *detect(folder, made / "dos.log"))
    assert "detector.json" in line and ("detector_id" in line or "expected" in line), line
    rehash(folder, new_id=True)  # identity recomputed too: the content is checked key by key
    if edit in ("window size and stride 5", "no-profile threshold 1e9"):
        assert run(capsys, *detect(folder, made / "dos.log"))[0] == 0  # well-formed: only a signature tells
    else:
        line = refused(capsys, *detect(folder, made / "dos.log"))
        assert "detector.json: " in line and any(k in line for k in ("preprocessing", "thresholds", "num_ids")), line


def test_a_nan_in_detector_json_is_refused_naming_the_file(made, folder, capsys):
    path = folder / "detector.json"
    path.write_text(path.read_text().replace('"false_alarms_per_hour": 10.0', '"false_alarms_per_hour": NaN', 1))
    rehash(folder)
    line = refused(capsys, *detect(folder, made / "dos.log"))
    assert "detector.json: not valid JSON (NaN is not a number JSON allows" in line


def test_a_file_added_removed_or_replaced_by_a_link_is_refused(made, folder, capsys):
    (folder / "vehicles/enrolled/zulu.json").write_text((folder / ENTRY).read_text())
    assert "zulu.json: not listed in" in refused(capsys, *detect(folder, made / "dos.log"))
    (folder / "vehicles/enrolled/zulu.json").unlink()
    (folder / ENTRY).unlink()
    assert "alpha.json: missing (listed in" in refused(capsys, *detect(folder, made / "dos.log"))
    (folder / ENTRY).symlink_to(made / "plain" / ENTRY)
    assert "alpha.json: not a regular file" in refused(capsys, *detect(folder, made / "dos.log"))


def test_a_folder_of_the_old_format_is_refused_with_export_again(made, folder, capsys):
    edit_json(folder / "detector.json", lambda m: m.update(format_version=1))
    line = refused(capsys, *detect(folder, made / "dos.log"))
    assert "format 'canguard-detector' version 1, expected 'canguard-detector' version 2; export again" in line


# ------------------------------------------------------------------------------------------------
# vehicle entries


ENTRY_EDITS = {
    "NaN period": (lambda e: e["profile"]["ids"][0].update(iat_median_s=float("nan")), None),
    "negative period": (lambda e: e["profile"]["ids"][0].update(iat_median_s=-0.01),
                        "profile.ids[0].iat_median_s: expected a finite number in [0.0, inf]"),
    "negative spread": (lambda e: e["profile"]["ids"][0]["count_per_window"].update(std=-1.0),
                        "profile.ids[0].count_per_window.std"),
    "min above max": (lambda e: e["profile"]["ids"][0]["bytes"][0].update(min=200, max=10),
                      "profile.ids[0].bytes[0]: expected min <= max"),
    "DLC 15": (lambda e: e["profile"]["ids"][0].update(dlc=[15]),
               "profile.ids[0].dlc[0]: expected an integer in [0, 8]"),
    "window size 0": (lambda e: e["profile"].update(window_size=0), "profile.window_size: expected an integer in [100"),
    "1e30 messages": (lambda e: e["profile"]["ids"][0].update(messages=1e30), "profile.ids[0].messages"),
    "CAN ID 2**70": (lambda e: e["profile"]["ids"][0].update(can_id=2 ** 70),
                     "profile.ids[0].can_id: expected an integer in [0, 536870911]"),
    "bare CAN ID entry": (lambda e: e["profile"]["ids"].__setitem__(0, {"can_id": 5}),
                          "profile.ids[0].messages: expected a value"),
    "threshold 'high'": (lambda e: e["threshold"].update(value="high"), "threshold.value: expected a finite number"),
    "IDs out of order": (lambda e: e["profile"]["ids"].reverse(), "profile.ids[1].can_id"),
    "another vehicle's name inside": (lambda e: e.update(vehicle="bravo"), "vehicle: expected one of ['alpha']"),
}


@pytest.mark.parametrize("edit", ENTRY_EDITS, ids=list(ENTRY_EDITS))
def test_a_hostile_vehicle_entry_is_refused_naming_the_file_and_key(made, folder, capsys, edit):
    change, expected = ENTRY_EDITS[edit]
    path = folder / ENTRY
    if edit == "NaN period":  # json.dumps writes NaN, which strict JSON has not
        data = json.loads(path.read_text())
        change(data)
        path.write_text(json.dumps(data))
    else:
        edit_json(path, change)
    assert "alpha.json: content hash mismatch" in refused(capsys, *detect(folder, made / "dos.log", "--vehicle",
                                                                          "alpha"))
    rehash(folder)
    line = refused(capsys, *detect(folder, made / "dos.log", "--vehicle", "alpha"))
    assert f"{ENTRY}: " in line, line
    assert (expected or "not valid JSON (NaN") in line, line


def test_an_oversized_vehicle_entry_is_refused_before_parsing(made, folder, capsys):
    path = folder / ENTRY
    entry = json.loads(path.read_text())
    entry["profile"]["ids"] = entry["profile"]["ids"][:1] * (MAX_PROFILE_IDS + 1)
    path.write_text(json.dumps(entry))
    rehash(folder)
    assert f"profile.ids: expected at most {MAX_PROFILE_IDS} items" in refused(
        capsys, *detect(folder, made / "dos.log", "--vehicle", "alpha"))
    with open(path, "a") as f:  # past the byte limit: refused from its size alone
        f.write(" " * MAX_JSON_BYTES)
    rehash(folder)
    assert f"bytes, over the limit of {MAX_JSON_BYTES}" in refused(
        capsys, *detect(folder, made / "dos.log", "--vehicle", "alpha"))


# ------------------------------------------------------------------------------------------------
# names


@pytest.mark.parametrize("name", ["../../detector", "/tmp/canguard-outside", "a/b", "", ".", "..", "x y",
                                  "x" * 65, "kia\n"])
def test_a_vehicle_name_that_is_a_path_writes_nothing(made, folder, capsys, tmp_path, name):
    before, outside = snapshot(folder), set(tmp_path.parent.rglob("*"))
    line = refused(capsys, "enroll", "--model", str(folder), "--vehicle", name, str(made / "benign.log"))
    assert f"vehicle name {name!r}: expected 1-64 letters" in line
    assert snapshot(folder) == before and set(tmp_path.parent.rglob("*")) == outside
    assert not Path("/tmp/canguard-outside.json").exists()
    line = refused(capsys, *detect(folder, made / "dos.log", "--vehicle", name))
    assert "vehicle name" in line


def test_detect_never_reads_another_folders_entry_through_a_name(made, folder, capsys):
    other = made / "plain"
    line = refused(capsys, *detect(folder, made / "dos.log", "--vehicle",
                                   f"../../../{other.name}/vehicles/enrolled/alpha"))
    assert "expected 1-64 letters" in line


# ------------------------------------------------------------------------------------------------
# enrollment keeps a folder verifiable, or writes a new one


def test_enroll_adds_a_verified_entry_in_place_and_out_writes_a_new_folder(made, folder, capsys, tmp_path):
    assert run(capsys, "enroll", "--model", str(folder), "--vehicle", "alpha-2", str(made / "benign.log"))[0] == 0
    bundle = DetectorBundle(folder)
    assert "vehicles/enrolled/alpha-2.json" in bundle.record["files"]
    enrolled, fixture = bundle.judging("alpha-2"), bundle.judging("alpha", "enrolled")
    assert enrolled.profile.to_json()["ids"] == fixture.profile.to_json()["ids"]  # the same log as the fixture's
    assert enrolled.fit_on.startswith("enrollment windows of alpha-2")
    before = snapshot(folder)
    out = tmp_path / "copy"
    assert run(capsys, "enroll", "--model", str(folder), "--vehicle", "alpha-3", "--out", str(out),
               str(made / "benign.log"))[0] == 0
    assert snapshot(folder) == before  # the folder read is left as it was
    assert set(snapshot(out)) == set(before) | {"vehicles/enrolled/alpha-3.json"}
    DetectorBundle(out).judging("alpha-3")
    line = refused(capsys, "enroll", "--model", str(folder), "--vehicle", "alpha-4", "--out", str(out),
                   str(made / "benign.log"))
    assert "exists and is not an empty folder" in line


# ------------------------------------------------------------------------------------------------
# signatures


def test_a_signed_folder_is_trusted_only_under_its_key_and_edits_break_the_signature(made, capsys, tmp_path):
    signed = Path(shutil.copytree(made / "signed", tmp_path / "signed"))
    pub, other = str(made / "signing.pub"), str(made / "other.pub")
    code, err = run(capsys, *detect(signed, made / "dos.log", "--trust", pub))
    assert code == 0 and '"trusted": true' in err
    assert "not by the trusted key" in refused(capsys, *detect(signed, made / "dos.log", "--trust", other))
    assert "not signed, but --trust" in refused(capsys, *detect(made / "plain", made / "dos.log", "--trust", pub))
    # an editor who recomputes every hash and the identity, but has no key: the signature no longer holds
    edit_json(signed / "detector.json", MANIFEST_EDITS["no-profile threshold 1e9"])
    rehash(signed, new_id=True)
    assert "the signature does not match the files" in refused(capsys, *detect(signed, made / "dos.log"))
    # ... and dropping the signature does not help under --trust
    edit_json(signed / INTEGRITY, lambda r: r.pop("signature"))
    assert "not signed, but --trust" in refused(capsys, *detect(signed, made / "dos.log", "--trust", pub))
    record = json.loads((made / "signed" / INTEGRITY).read_text())
    assert record["signature"]["value"] and signed_payload(record["detector_id"], record["files"])


def test_enroll_re_signs_with_its_key_and_otherwise_drops_the_signature(made, capsys, tmp_path):
    signed = Path(shutil.copytree(made / "signed", tmp_path / "signed"))
    pub = str(made / "signing.pub")
    assert run(capsys, "enroll", "--model", str(signed), "--trust", pub, "--sign", str(made / "signing"),
               "--vehicle", "alpha-2", str(made / "benign.log"))[0] == 0
    assert DetectorBundle(signed, trust=pub).judging("alpha-2").vehicle == "alpha-2"
    code, err = run(capsys, "enroll", "--model", str(signed), "--vehicle", "alpha-3", str(made / "benign.log"))
    assert code == 0 and "the signature no longer covers the folder" in err
    assert "not signed, but --trust" in refused(capsys, *detect(signed, made / "dos.log", "--trust", pub))
    line = refused(capsys, "enroll", "--model", str(signed), "--sign", pub, "--vehicle", "alpha-4",
                   str(made / "benign.log"))  # a public key where the private one belongs
    assert "signing.pub: not an unencrypted PEM private key" in line


def test_the_command_line_refuses_an_edited_folder_in_one_line_without_traceback(made, folder):
    """The same through a real process: what a user sees."""
    edit_json(folder / "detector.json", MANIFEST_EDITS["window size and stride 5"])
    run_ = subprocess.run([sys.executable, "-m", "canguard.cli", *detect(folder, made / "dos.log")],
                          capture_output=True, text=True, timeout=120)
    assert run_.returncode == 2 and run_.stdout == ""
    lines = run_.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"canguard detect: {folder / 'detector.json'}: content hash "
                                                   f"mismatch"), run_.stderr
