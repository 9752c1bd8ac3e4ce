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

Every file under the root is accounted for: it is either a recording or an
*ignored* file with the reason (:func:`scan`).  A recording sits directly in a
split folder (``train_NN_*`` / ``test_NN_*``, NN two digits, lower case) and has
a CAN log suffix; anything else -- a file beside the split folders, a folder
whose name does not match, a file nested below a split folder, a hidden file, a
compressed log (``.csv.gz``), a README, a pipe or a broken link -- is ignored,
and the catalog lists it with why.  Links to folders are followed (a split folder
may be one), except a link back to a folder it is in.

A recording's *name* is its file stem (``DoS-kia``); where two files of one
split folder share a stem (``a.csv`` and ``a.log``) each is named
``<stem>_<suffix>`` instead (``a_csv``, ``a_log``), so both are ingested under
keys of their own.  Names that would still clash (``a.CSV`` and ``a.csv``, or
``a.log`` beside ``a_log.csv``; compared ignoring case, as a case-insensitive
file system would) fail the catalog naming the files.

A recording in an attack-free folder (``*attack_free*``) is attack-free whatever
its name (``capture-kia.log``: attack ``none``, vehicle ``kia``); a name that
says an attack there is a contradiction and fails.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import re
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

SPLIT_RE = re.compile(r"^(train|test)_\d\d(_[A-Za-z0-9_]+)?$")
RECORDING_SUFFIXES = {".csv", ".log", ".txt", ".asc", ".blf", ".trc"}
COMPRESSED_SUFFIXES = {".gz", ".bz2", ".xz", ".zst", ".lz4", ".z"}
ARCHIVE_SUFFIXES = {".zip", ".tar", ".tgz", ".7z", ".rar"}
# stems of documentation files, never recordings, whatever their suffix (a README.txt in a split folder)
DOCUMENT_STEMS = {"readme", "license", "licence", "notes", "changelog", "citation"}

# leading words of a file name -> attack type ("none" = attack-free); longest match wins
ATTACK_ALIASES = {
    "attack-free": "none", "attackfree": "none", "normal": "none", "benign": "none", "accessory": "none",
    "dos": "dos", "flooding": "dos",
    "fuzzing": "fuzzing", "fuzzy": "fuzzing",
    "gear": "spoofing_gear", "rpm": "spoofing_rpm", "speed": "spoofing_speed",
    "spoofing": "spoofing", "force-neutral": "force_neutral",
    "malfunction": "malfunction", "replay": "replay",
    "suppress": "suppress", "masquerade": "masquerade",
    # can-train-and-test set_01..set_04 (tests/data/can_train_and_test_v1.5_files.txt lists every file)
    "double": "double", "triple": "triple", "interval": "interval", "standstill": "standstill",
    "systematic": "systematic", "valid-systematic": "valid_systematic",
    "targeted-payload-fuzzing": "targeted_payload_fuzzing", "untargeted-payload-fuzzing": "untargeted_payload_fuzzing",
}
# words after the attack that qualify it (a driving mode, a timing variant), never a vehicle
ATTACK_MODIFIERS = {"accessory", "timed", "untimed"}
# words that carry nothing (Car-Hacking's "gear_dataset", "normal_run_data"; can-train-and-test's hcrl_ch
# "DoS-train", "DoS-test": the part of the split, not a vehicle)
FILLER_WORDS = {"dataset", "data", "run", "train", "test"}
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


def _name_words(stem: str) -> tuple[str | None, list[str]]:
    """(attack or None where no known attack starts the name, the words after it).

    Words are split at ``-`` and ``_``, filler words dropped, a trailing index removed.
    """
    words = [w for w in re.split(r"[-_]+", stem.lower()) if w and w not in FILLER_WORDS]
    while words and words[-1].isdigit():
        words.pop()
    for alias in sorted(ATTACK_ALIASES, key=lambda a: -len(a.split("-"))):
        n = len(alias.split("-"))
        if words[:n] == alias.split("-"):
            return ATTACK_ALIASES[alias], words[n:]
    return None, words


def _attack_and_vehicle(attack: str, rest: list[str]) -> tuple[str, str]:
    """The attack qualified by its modifiers, and the vehicle from the remaining words."""
    modifiers = [w for w in rest if w in ATTACK_MODIFIERS]
    if modifiers and attack != "none":
        attack = "_".join([attack, *modifiers])
    vehicle = "-".join(w for w in rest if w not in ATTACK_MODIFIERS and not w.isdigit())
    return attack, vehicle or UNKNOWN_VEHICLE


def parse_recording_name(stem: str) -> tuple[str, str]:
    """(attack, vehicle) from a file stem; vehicle "unknown" where the name carries none.

    The name is split into words at ``-`` and ``_``; a trailing number is the index of
    the recording, never a vehicle; the longest known attack at the start gives the
    attack (else the first word is taken as an attack the catalog does not know);
    modifiers after it (``accessory``, ``timed``) qualify the attack; any other
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
    attack, rest = _name_words(stem)
    if attack is None:
        attack, rest = (rest[0], rest[1:]) if rest else ("unknown", [])
    return _attack_and_vehicle(attack, rest)


def is_attack_free_folder(split: str) -> bool:
    """A split folder whose name says its recordings are attack-free (``train_01_attack_free``)."""
    return "attack_free" in split.lower()


def recording_attack(split: str, stem: str, path: str | Path = "") -> tuple[str, str]:
    """(attack, vehicle) of a recording in folder ``split``: :func:`parse_recording_name`, except that
    a recording of an attack-free folder is attack-free (``capture-kia`` there: ``none``, ``kia``).

    Raises ValueError where the name of a recording in an attack-free folder says an attack.

    >>> recording_attack("train_01_attack_free", "capture-kia")
    ('none', 'kia')
    >>> recording_attack("train_01_attack_free", "drive1")
    ('none', 'unknown')
    """
    if not is_attack_free_folder(split):
        return parse_recording_name(stem)
    attack, rest = _name_words(stem)
    if attack is None:  # an unlabelled capture ("capture-kia", "drive1"): the first word describes it
        return _attack_and_vehicle("none", rest[1:])
    if attack != "none":
        raise ValueError(f"{path or stem}: the name says attack {attack!r} but the folder {split} is attack-free: "
                         f"move the file to a folder with attacks or rename it")
    return _attack_and_vehicle(attack, rest)


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


@dataclass(frozen=True)
class Ignored:
    """A file under a dataset root that is not a recording, and why."""

    path: str
    reason: str


@dataclass
class Scan:
    """Everything under one dataset root: its recordings and the files ignored."""

    recordings: list[Recording]
    ignored: list[Ignored]


def _files_below(folder: Path, ancestors: frozenset[Path] = frozenset()) -> list[Path]:
    """Every entry below ``folder`` that is not a folder, sorted.  Links to folders are followed (a
    split folder may be one), but a link back to a folder being walked (a loop) is listed as an entry."""
    ancestors = ancestors | {folder.resolve()}
    found = []
    for path in sorted(folder.iterdir()):
        if path.is_dir() and path.resolve() not in ancestors:
            found += _files_below(path, ancestors)
        else:
            found.append(path)
    return found


def suggested_split_name(name: str) -> str | None:
    """The split folder name ``name`` was probably meant to be (``Train_03_caps`` -> ``train_03_caps``,
    ``test_1_bad`` -> ``test_01_bad``), or None."""
    m = re.match(r"^(train|test)_(\d{1,2})(_.*)?$", name.lower().replace("-", "_"))
    if not m:
        return None
    fixed = f"{m[1]}_{int(m[2]):02d}{m[3] or ''}"
    return fixed if SPLIT_RE.match(fixed) else None


def _folder_reason(name: str) -> str:
    reason = f"folder {name} does not match train_NN_* / test_NN_* (NN two digits, lower case)"
    fixed = suggested_split_name(name)
    return f"{reason}: rename it to {fixed}" if fixed else reason


def _suffix_reason(path: Path) -> str | None:
    """Why a file of a split folder is not a recording by its suffix, or None for a CAN log suffix."""
    suffix = path.suffix.lower()
    if suffix in RECORDING_SUFFIXES:
        return None
    formats = ", ".join(sorted(RECORDING_SUFFIXES))
    if not suffix:
        return f"no suffix: not a CAN log format ({formats})"
    if suffix in COMPRESSED_SUFFIXES:
        return f"suffix {suffix} is not a CAN log format ({formats}): decompress it"
    if suffix in ARCHIVE_SUFFIXES:
        return f"suffix {suffix} is not a CAN log format ({formats}): unpack it into the split folder"
    return f"suffix {suffix} is not a CAN log format ({formats})"


def ignore_reason(root: Path, path: Path) -> str | None:
    """Why the file ``path`` under dataset ``root`` is not a recording, or None where it is one."""
    parts = path.relative_to(root).parts
    hidden = next((p for p in parts if p.startswith(".")), None)
    if hidden is not None:
        return "hidden file" if hidden == parts[-1] else f"in the hidden folder {hidden}"
    if len(parts) == 1:
        return "not in a split folder (train_NN_* / test_NN_*)"
    if not SPLIT_RE.match(parts[0]):
        return _folder_reason(parts[0])
    if len(parts) > 2:
        return f"nested below the split folder {parts[0]}: recordings must sit directly in it"
    if path.is_dir():
        return "link to a folder it is in (a loop): not followed"
    if not path.is_file():
        return "not a regular file (a broken link, a pipe, ...)"
    if path.stem.lower() in DOCUMENT_STEMS:
        return f"a documentation file ({', '.join(sorted(DOCUMENT_STEMS))}), not a recording"
    return _suffix_reason(path)


def recording_names(files: list[Path]) -> dict[Path, str]:
    """Name of each recording of one split folder: its stem, or ``<stem>_<suffix>`` where stems clash.

    Raises ValueError where two names would still be the same (ignoring case).
    """
    stems = Counter(f.stem.casefold() for f in files)
    names = {f: f.stem if stems[f.stem.casefold()] == 1 else f"{f.stem}_{f.suffix[1:]}" for f in files}
    by_name: dict[str, list[Path]] = {}
    for f, name in names.items():
        by_name.setdefault(name.casefold(), []).append(f)
    clash = [paths for paths in by_name.values() if len(paths) > 1]
    if clash:
        raise ValueError(f"{', '.join(map(str, clash[0]))}: these files would be the same recording "
                         f"{names[clash[0][0]]!r}: rename one of them")
    return names


def _recording(dataset: str, path: Path, name: str, vehicles: dict[str, str] | None) -> Recording:
    split = path.parent.name
    attack, named = recording_attack(split, path.stem, path)
    vehicle, source = resolve_vehicle(split, f"{split}/{name}", named, vehicles)
    return Recording(dataset, split, name, str(path), attack, vehicle, source)


def scan(dataset: str, root: str | Path, vehicles: dict[str, str] | None = None) -> Scan:
    """Every file under ``root``: the recordings (training splits first, then test splits, each by
    name) and the files ignored, with the reason (:func:`ignore_reason`).

    ``vehicles``: glob over recording keys -> vehicle (see :func:`resolve_vehicle`).

    Raises FileNotFoundError when the root is missing or holds no recordings.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"dataset '{dataset}': root folder {root} does not exist")
    by_split: dict[str, list[Path]] = {}
    ignored = []
    for path in _files_below(root):
        reason = ignore_reason(root, path)
        if reason is None:
            by_split.setdefault(path.parent.name, []).append(path)
        else:
            ignored.append(Ignored(str(path), reason))
    recordings = []
    for split in sorted(by_split, key=lambda name: (not name.startswith("train"), name)):
        names = recording_names(by_split[split])
        recordings += [_recording(dataset, f, names[f], vehicles) for f in sorted(by_split[split], key=names.get)]
    if not recordings:
        raise FileNotFoundError(
            f"dataset '{dataset}': no recordings under {root} (expected train_0N_*/ and test_0N_*/ "
            f"folders holding {', '.join(sorted(RECORDING_SUFFIXES))} files)" + _ignored_note(ignored)
        )
    return Scan(recordings, ignored)


def _ignored_note(ignored: list[Ignored], shown: int = 3) -> str:
    if not ignored:
        return ""
    listed = "; ".join(f"{i.path}: {i.reason}" for i in ignored[:shown])
    more = f"; and {len(ignored) - shown} more" if len(ignored) > shown else ""
    return f"; {len(ignored)} files ignored: {listed}{more}"


def listing_digest(root: str | Path) -> str:
    """A digest of the paths of every file under ``root`` ("" where it does not exist): changes when a file
    is added, removed or renamed, ignored ones included (a rule param that reruns the catalog then)."""
    root = Path(root)
    if not root.is_dir():
        return ""
    listing = "\n".join(str(p.relative_to(root)) for p in _files_below(root))
    return hashlib.blake2b(listing.encode(), digest_size=8).hexdigest()


def discover(dataset: str, root: str | Path, vehicles: dict[str, str] | None = None) -> list[Recording]:
    """All recordings under ``root`` (:func:`scan` without the files ignored)."""
    return scan(dataset, root, vehicles).recordings


def training_recordings(dataset: str, root: str | Path, vehicles: dict[str, str] | None = None) -> list[Recording]:
    """The training recordings of another dataset, for a dataset that trains with them (``train_with``)."""
    return [r for r in discover(dataset, root, vehicles) if r.role == "train"]


def file_hash(path: str | Path, chunk: int = 1 << 22) -> str:
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def build_catalog(recordings: list[Recording], ignored: list[Ignored] | None = None) -> dict:
    """Catalog of a dataset: every recording with its content hash; duplicates point to the copy kept.

    The first recording of each content (in :func:`scan`'s order, so train_01 before
    train_02, training before test) is kept; later byte-identical ones get
    ``duplicate_of``.  ``ignored`` (:attr:`Scan.ignored`) is listed as it is, so that
    ``n_files == n_unique + n_duplicates + n_ignored`` accounts for every file found.
    """
    _check_keys(recordings)
    seen: dict[str, str] = {}
    entries = []
    for rec in recordings:
        digest = file_hash(rec.path)
        entry = asdict(rec) | {"role": rec.role, "scenario": rec.scenario, "key": rec.key,
                               "hash": digest, "bytes": Path(rec.path).stat().st_size,
                               "duplicate_of": seen.get(digest)}
        seen.setdefault(digest, rec.key)
        entries.append(entry)
    kept = [e for e in entries if e["duplicate_of"] is None]
    ignored = [asdict(i) for i in ignored or []]
    return {
        "dataset": recordings[0].dataset if recordings else None,
        "recordings": entries,
        "ignored": ignored,
        "n_files": len(entries) + len(ignored),
        "n_recordings": len(entries),
        "n_unique": len(kept),
        "n_duplicates": len(entries) - len(kept),
        "n_ignored": len(ignored),
    }


def _check_keys(recordings: list[Recording]) -> None:
    """Raise ValueError naming the files where two recordings (of different datasets) share a key."""
    by_key: dict[str, list[str]] = {}
    for rec in recordings:
        by_key.setdefault(rec.key.casefold(), []).append(rec.path)
    clash = {key: paths for key, paths in by_key.items() if len(paths) > 1}
    if clash:
        listed = "; ".join(f"{key}: {', '.join(paths)}" for key, paths in sorted(clash.items()))
        raise ValueError(f"recordings share a key (<split>/<name>, ignoring case): {listed}: rename one of them")


def load_catalog(path: str | Path) -> dict:
    return json.loads(Path(path).read_text())


def unique_recordings(catalog: dict) -> list[dict]:
    return [e for e in catalog["recordings"] if e["duplicate_of"] is None]
