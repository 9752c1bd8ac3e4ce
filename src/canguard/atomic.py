"""Artefacts written whole or not at all.

    with atomic_output("results/x/report.json") as tmp:
        tmp.write_text(...)             # or pq.write_table(table, tmp), fig.savefig(tmp), ...

The content goes to a hidden temporary name in the destination's folder
(``.report.json.<pid>.tmp``), is flushed to disk, and is renamed over the
destination only when the block ends without an exception; on an exception
the temporary file is removed and the destination is left as it was.  A job
killed mid-write (``kill -9``, a full disk) therefore never leaves a file that
looks finished: either the old content or nothing is there, plus at worst a
``.tmp`` that no reader looks at.  A failed write (full disk, read-only
folder) raises ``OSError`` naming the destination.

The temporary name keeps the destination's suffix last but one
(``.x.parquet.123.tmp``); writers that pick a format from the suffix
(matplotlib) are given ``fmt=`` by :func:`save_figure`.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

HASH_CHUNK = 1 << 20


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def temporary_name(path: str | Path) -> Path:
    path = Path(path)
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


@contextlib.contextmanager
def atomic_output(path: str | Path, durable: bool = True) -> Iterator[Path]:
    """Yield a temporary path; rename it to ``path`` if the block succeeds."""
    path = Path(path)
    tmp = temporary_name(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        yield tmp
        if not tmp.exists():
            raise FileNotFoundError(f"{path}: the writer produced no file at {tmp}")
        if durable:
            _fsync(tmp)
        os.replace(tmp, path)
    except OSError as e:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if str(path) in str(e):
            raise
        raise OSError(e.errno, f"{path}: not written ({e.strerror or e})") from e
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    if durable:  # the rename itself reaches the disk with the folder's entry
        with contextlib.suppress(OSError):
            _fsync(path.parent)


def write_text(path: str | Path, text: str) -> None:
    with atomic_output(path) as tmp:
        tmp.write_text(text)


def write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_output(path) as tmp:
        tmp.write_bytes(data)


def copy_file(src: str | Path, dst: str | Path) -> None:
    """Copy ``src`` to ``dst`` atomically."""
    import shutil

    with atomic_output(dst) as tmp:
        shutil.copyfile(src, tmp)


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
