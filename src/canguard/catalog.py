"""Datasets and their recordings.

A dataset is a folder in the can-train-and-test layout::

    <root>/train_01_attack_free/attack-free-kia.csv
    <root>/train_02_with_attacks/DoS-kia.csv
    <root>/test_01_known_vehicle_known_attack/fuzzing-kia.csv
    ...
    <root>/test_05_suppress/...            (where a dataset has them)

Each file is a *recording*.  Its split folder says whether it is training
data or which test *scenario* it belongs to; its name gives the *attack* and
the *vehicle* (``<attack>-<vehicle>``).  Byte-identical recordings (the real
distribution ships its attack-free files in train_01 and again in train_02)
are found by content hash and kept once.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path

SPLIT_RE = re.compile(r"^(train|test)_\d\d(_[A-Za-z0-9_]+)?$")
RECORDING_SUFFIXES = {".csv", ".log", ".txt", ".asc", ".blf", ".trc"}

# leading words of a file name -> attack type ("none" = attack-free); longest match wins
ATTACK_ALIASES = {
    "attack-free": "none", "attackfree": "none", "normal": "none", "benign": "none", "accessory": "none",
    "dos": "dos", "flooding": "dos",
    "fuzzing": "fuzzing", "fuzzy": "fuzzing",
    "gear": "spoofing_gear", "rpm": "spoofing_rpm", "speed": "spoofing_speed",
    "spoofing": "spoofing", "force-neutral": "force_neutral",
    "malfunction": "malfunction", "replay": "replay",
    "suppress": "suppress", "masquerade": "masquerade",
}
# words after the attack that qualify it (a driving mode, a timing variant), never a vehicle
ATTACK_MODIFIERS = {"accessory", "timed"}
# words that carry nothing (Car-Hacking's "gear_dataset", "normal_run_data")
FILLER_WORDS = {"dataset", "data", "run"}
UNKNOWN_VEHICLE = "unknown"
# vehicle of a recording whose name does not carry one (set_01..set_04: `rpm-accessory-1.csv`)
TRAINING_VEHICLE = "training_vehicle"
UNSEEN_VEHICLE = "unseen_vehicle"


@dataclass(frozen=True)
class Recording:
    """One raw file of a dataset."""

    dataset: str
    split: str  # folder, e.g. "train_02_with_attacks"
    name: str  # file stem, e.g. "DoS-kia"
    path: str  # raw file
    attack: str  # normalised attack type, "none" for attack-free
    vehicle: str
    vehicle_source: str = "name"  # where the vehicle comes from: "name", "folder" or "config"

    @property
    def role(self) -> str:
        """"train" or "test"."""
        return self.split.split("_", 1)[0]

    @property
    def scenario(self) -> str:
        """The test scenario (the split folder), or "train"."""
        return self.split if self.role == "test" else "train"

    @property
    def key(self) -> str:
        return f"{self.split}/{self.name}"


def parse_recording_name(stem: str) -> tuple[str, str]:
    """(attack, vehicle) from a file stem; vehicle "unknown" where the name carries none.

    The name is split into words at ``-`` and ``_``; a trailing number is the index of
    the recording, never a vehicle; the longest known attack at the start gives the
    attack; modifiers after it (``accessory``, ``timed``) qualify the attack; any other
    word left is the vehicle.

    >>> parse_recording_name("DoS-kia")
    ('dos', 'kia')
    >>> parse_recording_name("attack-free-sonata")
    ('none', 'sonata')
    >>> parse_recording_name("gear_dataset")
    ('spoofing_gear', 'unknown')
    >>> parse_recording_name("normal_run_data")
    ('none', 'unknown')
    >>> parse_recording_name("rpm-accessory-1")
    ('spoofing_rpm_accessory', 'unknown')
    >>> parse_recording_name("accessory-3")
    ('none', 'unknown')
    """
    words = [w for w in re.split(r"[-_]+", stem.lower()) if w and w not in FILLER_WORDS]
    while words and words[-1].isdigit():
        words.pop()
    attack, rest = None, words
    for alias in sorted(ATTACK_ALIASES, key=lambda a: -len(a.split("-"))):
        n = len(alias.split("-"))
        if words[:n] == alias.split("-"):
            attack, rest = ATTACK_ALIASES[alias], words[n:]
            break
    if attack is None:
        attack, rest = (words[0], words[1:]) if words else ("unknown", [])
    modifiers = [w for w in rest if w in ATTACK_MODIFIERS]
    if modifiers and attack != "none":
        attack = "_".join([attack, *modifiers])
    vehicle = "-".join(w for w in rest if w not in ATTACK_MODIFIERS and not w.isdigit())
    return attack, vehicle or UNKNOWN_VEHICLE


def is_unknown_vehicle_scenario(split: str) -> bool:
    """A test folder of a vehicle absent from training (can-train-and-test: test_02, test_04)."""
    return split.startswith("test_") and "unknown_vehicle" in split


def resolve_vehicle(split: str, key: str, named: str, overrides: dict[str, str] | None = None) -> tuple[str, str]:
    """(vehicle, source) of one recording.

    ``overrides`` (config ``datasets.<name>.vehicles``) maps a glob over recording keys
    (``<split>/<name>``) to a vehicle and wins over everything.  Else the vehicle named
    in the file name; else, for a name without one, the recordings of an unknown-vehicle
    scenario folder are one vehicle absent from training (``unseen_vehicle``) and every
    other recording is of the training vehicle (``training_vehicle``).
    """
    for pattern, vehicle in (overrides or {}).items():
        if fnmatch.fnmatchcase(key, pattern):
            return str(vehicle), "config"
    if named != UNKNOWN_VEHICLE:
        return named, "name"
    return (UNSEEN_VEHICLE if is_unknown_vehicle_scenario(split) else TRAINING_VEHICLE), "folder"


def discover(dataset: str, root: str | Path, vehicles: dict[str, str] | None = None) -> list[Recording]:
    """All recordings under ``root``: training splits first, then test splits, each by name.

    ``vehicles``: glob over recording keys -> vehicle (see :func:`resolve_vehicle`).

    Raises FileNotFoundError when the root is missing or holds no recordings.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"dataset '{dataset}': root folder {root} does not exist")
    recordings = []
    folders = [p for p in root.iterdir() if p.is_dir() and SPLIT_RE.match(p.name)]
    for folder in sorted(folders, key=lambda p: (not p.name.startswith("train"), p.name)):
        for f in sorted(folder.iterdir()):
            if f.is_file() and not f.name.startswith(".") and f.suffix.lower() in RECORDING_SUFFIXES:
                attack, named = parse_recording_name(f.stem)
                vehicle, source = resolve_vehicle(folder.name, f"{folder.name}/{f.stem}", named, vehicles)
                recordings.append(Recording(dataset, folder.name, f.stem, str(f), attack, vehicle, source))
    if not recordings:
        raise FileNotFoundError(
            f"dataset '{dataset}': no recordings under {root} (expected train_0N_*/ and test_0N_*/ "
            f"folders holding {', '.join(sorted(RECORDING_SUFFIXES))} files)"
        )
    return recordings


def training_recordings(dataset: str, root: str | Path, vehicles: dict[str, str] | None = None) -> list[Recording]:
    """The training recordings of another dataset, for a dataset that trains with them (``train_with``)."""
    return [r for r in discover(dataset, root, vehicles) if r.role == "train"]


def file_hash(path: str | Path, chunk: int = 1 << 22) -> str:
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def build_catalog(recordings: list[Recording]) -> dict:
    """Catalog of a dataset: every recording with its content hash; duplicates point to the copy kept.

    The first recording of each content (in :func:`discover`'s order, so
    train_01 before train_02, training before test) is kept; later byte-identical ones get ``duplicate_of``.
    """
    seen: dict[str, str] = {}
    entries = []
    keys = [r.key for r in recordings]
    clash = sorted({k for k in keys if keys.count(k) > 1})
    if clash:
        raise ValueError(f"recordings of different datasets share the keys {clash}: rename one of them")
    for rec in recordings:
        digest = file_hash(rec.path)
        entry = asdict(rec) | {"role": rec.role, "scenario": rec.scenario, "key": rec.key,
                               "hash": digest, "bytes": Path(rec.path).stat().st_size,
                               "duplicate_of": seen.get(digest)}
        seen.setdefault(digest, rec.key)
        entries.append(entry)
    kept = [e for e in entries if e["duplicate_of"] is None]
    return {
        "dataset": recordings[0].dataset if recordings else None,
        "recordings": entries,
        "n_recordings": len(entries),
        "n_unique": len(kept),
        "n_duplicates": len(entries) - len(kept),
    }


def load_catalog(path: str | Path) -> dict:
    return json.loads(Path(path).read_text())


def unique_recordings(catalog: dict) -> list[dict]:
    return [e for e in catalog["recordings"] if e["duplicate_of"] is None]
