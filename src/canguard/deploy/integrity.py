"""What a detector folder is made of, checked as a whole: every file listed with its SHA-256, and optionally signed.

    integrity.json = {"format": "canguard-detector-files", "detector_id": "...",
                      "files": {"detector.json": {"sha256": ..., "bytes": ...}, "model.onnx": {...},
                                "vehicles/enrolled/kia.json": {...}},
                      "signature": {"algorithm": "ed25519", "public_key": <hex>, "key_id": <hex>,
                                    "value": <hex>}}               # optional

Every regular file of the folder except ``integrity.json`` itself must be listed, and every listed file must be
there with its hash: an edited, added, removed or replaced file is refused on load, before a message is read
(:func:`verify_folder`).  A folder edited by someone who also recomputes the hashes is caught by the signature:
Ed25519 over the canonical JSON of ``format``, ``detector_id`` and ``files`` (``canguard export --sign KEY``,
``canguard enroll --sign KEY``), verified against a public key the user trusts (``canguard detect --trust
KEY.pub``).  Without ``--trust`` a signature present is still checked against its own key (it catches a careless
edit), but proves nothing about who wrote the folder.

Keys are PEM files, as ``canguard keygen NAME`` writes them (NAME private, mode 0600; NAME.pub public) or as
``openssl genpkey -algorithm ed25519`` does; an OpenSSH ``ssh-ed25519`` public key is accepted for ``--trust``.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path

from canguard.atomic import file_sha256, write_bytes, write_text

INTEGRITY = "integrity.json"
INTEGRITY_FORMAT = "canguard-detector-files"
MAX_FILES = 10_000            # files in a detector folder (vehicle entries included)
# the empty marker Snakemake leaves in a directory() output (the workflow's export rule): never read, not listed
SNAKEMAKE_MARKER = ".snakemake_timestamp"


class IntegrityError(ValueError):
    """A detector folder whose files are not the ones it lists, or whose signature does not hold."""


def _sha256(path: Path) -> tuple[str, int]:
    return file_sha256(path), os.stat(path).st_size


def folder_files(folder: Path) -> list[str]:
    """Every file of ``folder`` (relative POSIX paths) except integrity.json (and Snakemake's marker); anything
    that is not a regular file (a link, a FIFO, a device) is refused: a detector folder holds files only."""
    found = []
    for root, dirs, files in os.walk(folder, followlinks=False):
        for name in sorted(dirs):
            if (Path(root) / name).is_symlink():
                raise IntegrityError(f"{Path(root) / name}: a link inside a detector folder (expected plain files)")
        for name in sorted(files):
            path = Path(root) / name
            mode = os.lstat(path).st_mode
            if not stat.S_ISREG(mode):
                raise IntegrityError(f"{path}: not a regular file (a link, pipe or device) inside a detector folder")
            rel = path.relative_to(folder).as_posix()
            if rel == SNAKEMAKE_MARKER and os.lstat(path).st_size:
                raise IntegrityError(f"{path}: Snakemake's marker is empty, this one is not")
            if rel not in (INTEGRITY, SNAKEMAKE_MARKER):
                found.append(rel)
            if len(found) > MAX_FILES:
                raise IntegrityError(f"{folder}: more than {MAX_FILES} files: not a detector folder")
    return sorted(found)


def list_files(folder: Path, names: list[str]) -> dict:
    return {name: dict(zip(("sha256", "bytes"), _sha256(folder / name))) for name in sorted(names)}


def signed_payload(detector_id: str, files: dict) -> bytes:
    """The bytes a signature covers: what the folder is (its identity) and every file of it."""
    return json.dumps({"format": INTEGRITY_FORMAT, "detector_id": detector_id, "files": files},
                      sort_keys=True, separators=(",", ":")).encode()


def write_integrity(folder: Path, detector_id: str, sign_key: str | Path | None = None) -> dict:
    """List (and with ``sign_key``, sign) every file of ``folder`` as it is now; returns what was written."""
    folder = Path(folder)
    files = list_files(folder, folder_files(folder))
    record = {"format": INTEGRITY_FORMAT, "detector_id": detector_id, "files": files}
    if sign_key is not None:
        record["signature"] = sign(load_private_key(sign_key), signed_payload(detector_id, files))
    write_text(folder / INTEGRITY, json.dumps(record, indent=1, sort_keys=True) + "\n")
    return record


def update_integrity(folder: Path, record: dict, changed: list[str], sign_key: str | Path | None = None) -> dict:
    """``record`` (verified on load) with the files ``changed`` (added or rewritten since) hashed anew, written
    back; files not named keep the hashes that were verified, so nothing edited meanwhile is blessed.  A
    signature is renewed with ``sign_key``, else dropped (it no longer covers the folder)."""
    folder = Path(folder)
    files = dict(record["files"]) | list_files(folder, changed)
    out = {"format": INTEGRITY_FORMAT, "detector_id": record["detector_id"], "files": dict(sorted(files.items()))}
    if sign_key is not None:
        out["signature"] = sign(load_private_key(sign_key), signed_payload(record["detector_id"], out["files"]))
    write_text(folder / INTEGRITY, json.dumps(out, indent=1, sort_keys=True) + "\n")
    return out


def verify_folder(folder: Path, record: dict, trust: str | Path | None = None) -> dict:
    """Check ``record`` (integrity.json, already validated for shape) against the folder; returns a summary for
    reports.  Raises IntegrityError naming the first file that differs."""
    folder = Path(folder)
    where = folder / INTEGRITY
    listed = record["files"]
    present = folder_files(folder)
    for name in present:
        if name not in listed:
            raise IntegrityError(f"{folder / name}: not listed in {where}: added after the folder was written "
                                 f"(remove it, or enrol the vehicle again with canguard enroll)")
    for name in sorted(listed):
        if name not in present:
            raise IntegrityError(f"{folder / name}: missing (listed in {where}); export again")
        digest, size = _sha256(folder / name)
        want = listed[name]
        if digest != want["sha256"] or size != want["bytes"]:
            raise IntegrityError(f"{folder / name}: content hash mismatch (expected {want['sha256'][:16]}... of "
                                 f"{want['bytes']} bytes, got {digest[:16]}... of {size}): the file was changed "
                                 f"after it was written; export (or enrol) again")
    signature = record.get("signature")
    summary = {"files": len(listed), "signed_by": signature["key_id"] if signature else None, "trusted": False}
    if signature is not None:
        payload = signed_payload(record["detector_id"], listed)
        key = bytes.fromhex(signature["public_key"])
        if not verify(key, payload, bytes.fromhex(signature["value"])):
            raise IntegrityError(f"{where}: the signature does not match the files (key {signature['key_id']}): "
                                 f"the folder was changed after it was signed")
    if trust is not None:
        trusted = public_key_bytes(load_public_key(trust))
        if signature is None:
            raise IntegrityError(f"{where}: not signed, but --trust {trust} asks for a folder signed by that key; "
                                 f"sign it with canguard export --sign (or enroll --sign)")
        if bytes.fromhex(signature["public_key"]) != trusted:
            raise IntegrityError(f"{where}: signed by key {signature['key_id']}, not by the trusted key "
                                 f"{key_id(trusted)} ({trust})")
        summary["trusted"] = True
    return summary


# --- Ed25519 -----------------------------------------------------------------------------------------------


def key_id(public: bytes) -> str:
    """A short name of a public key: the first 16 hex digits of its SHA-256."""
    return hashlib.sha256(public).hexdigest()[:16]


def public_key_bytes(key) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def sign(private, payload: bytes) -> dict:
    public = public_key_bytes(private.public_key())
    return {"algorithm": "ed25519", "public_key": public.hex(), "key_id": key_id(public),
            "value": private.sign(payload).hex()}


def verify(public: bytes, payload: bytes, signature: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        Ed25519PublicKey.from_public_bytes(public).verify(signature, payload)
    except (InvalidSignature, ValueError):
        return False
    return True


def _read_key(path: str | Path, what: str) -> bytes:
    path = Path(path)
    try:
        if path.stat().st_size > 64 * 1024:
            raise IntegrityError(f"{path}: {path.stat().st_size} bytes: too large for an Ed25519 {what} key")
        return path.read_bytes()
    except FileNotFoundError:
        raise IntegrityError(f"{path}: no such file (expected an Ed25519 {what} key, PEM)") from None
    except IsADirectoryError:
        raise IntegrityError(f"{path}: a directory (expected an Ed25519 {what} key, PEM)") from None


def load_private_key(path: str | Path):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    data = _read_key(path, "private")
    try:
        key = load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as e:
        raise IntegrityError(f"{path}: not an unencrypted PEM private key ({e})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise IntegrityError(f"{path}: a {type(key).__name__}, expected an Ed25519 private key")
    return key


def load_public_key(path: str | Path):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from cryptography.hazmat.primitives.serialization import load_pem_public_key, load_ssh_public_key

    data = _read_key(path, "public")
    try:
        key = load_ssh_public_key(data) if data.startswith(b"ssh-") else load_pem_public_key(data)
    except (ValueError, TypeError) as e:
        raise IntegrityError(f"{path}: not a PEM (or OpenSSH) public key ({e})") from None
    if not isinstance(key, Ed25519PublicKey):
        raise IntegrityError(f"{path}: a {type(key).__name__}, expected an Ed25519 public key")
    return key


def generate_keys(name: str | Path) -> tuple[Path, Path]:
    """A new Ed25519 key pair: ``name`` (private, PEM PKCS#8, mode 0600) and ``name.pub`` (public, PEM)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

    private_path, public_path = Path(name), Path(f"{name}.pub")
    for path in (private_path, public_path):
        if path.exists():
            raise IntegrityError(f"{path}: exists; not overwritten (choose another name)")
    key = Ed25519PrivateKey.generate()
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # never readable by others
    with os.fdopen(fd, "wb") as f:
        f.write(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    write_bytes(public_path, key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
    return private_path, public_path
