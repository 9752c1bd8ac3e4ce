"""Which CAN log format a file is, from its content (first 64 KiB), never its extension.

    timestamp,arbitration_id,data_field,attack             -> cantt_csv
    1478198376.389427,0316,8,05,21,68,09,21,21,00,6f,R     -> hcrl_ch_csv
    Timestamp: 1479121434.850202   ID: 0350  000  DLC: 8 ..  -> hcrl_ch_txt
    (1436509052.249713) vcan0 044#2A366C2BBA               -> candump
    date Tue Nov 14 ... / base hex timestamps absolute      -> asc
    LOGG....                                                -> blf
    ;$FILEVERSION=2.1                                       -> trc

Header formats (cantt, BLF, TRC, ASC) are recognised by their header; the
line formats (Car-Hacking CSV/text, candump) by the share of their first
non-empty lines that match each format's line signature (the majority wins,
so one corrupt first line does not hide the format).  Text in UTF-16,
UTF-32 or with a UTF-8 byte-order mark is detected, and read, as its UTF-8
transcoding (:func:`canguard.ingest.lines.to_utf8`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow.compute as pc

from canguard.ingest import candump, cantt, hcrl_ch, pythoncan
from canguard.ingest.cantt import is_header as is_cantt_header
from canguard.ingest.cantt import read_cantt_csv
from canguard.ingest.lines import read_lines, split_lines, text_encoding, to_utf8
from canguard.ingest.result import NotCanDataError, ReadResult

SNIFF_BYTES = 64 * 1024
SAMPLE_LINES = 50

READERS: dict[str, Callable[[str | Path], ReadResult]] = {
    "cantt_csv": read_cantt_csv,
    "hcrl_ch_csv": hcrl_ch.read_hcrl_ch_csv,
    "hcrl_ch_txt": hcrl_ch.read_hcrl_ch_txt,
    "candump": candump.read_candump,
    "asc": pythoncan.read_asc,
    "blf": pythoncan.read_blf,
    "trc": pythoncan.read_trc,
}

DESCRIPTIONS = {
    "cantt_csv": "can-train-and-test CSV",
    "hcrl_ch_csv": "Car-Hacking CSV",
    "hcrl_ch_txt": "Car-Hacking normal_run_data.txt",
    "candump": "candump -l log",
    "asc": "Vector ASC",
    "blf": "Vector BLF",
    "trc": "PEAK TRC",
}
EXPECTED = ", ".join(f"{name} ({text})" for name, text in DESCRIPTIONS.items())

def read_general_path(path: str | Path, fmt: str) -> ReadResult:
    """A fast-path format (``cantt_csv``, ``hcrl_ch_csv``, ``candump``) read by its general path alone,
    every line through Arrow strings and regular expressions: the reference the byte-level fast path
    (:mod:`canguard.ingest.bytescan`) is held equal to, and timed against."""
    lines = read_lines(path)
    numbers = np.arange(1, len(lines) + 1)
    if fmt == "cantt_csv":
        return cantt.parse_cantt_lines(lines.slice(1), numbers[1:])
    if fmt == "hcrl_ch_csv":
        return hcrl_ch.parse_hcrl_ch_csv(lines, numbers)
    if fmt == "candump":
        return candump.parse_candump(lines, path, refuse=False)
    raise ValueError(f"{fmt!r} has no byte-level fast path: expected cantt_csv, hcrl_ch_csv or candump")


LINE_SIGNATURES = {
    "hcrl_ch_csv": hcrl_ch.CSV_SIGNATURE_RE,
    "hcrl_ch_txt": hcrl_ch.TXT_SIGNATURE_RE,
    "candump": candump.SIGNATURE_RE,
}


def detect_format(path: str | Path) -> str:
    """One of READERS' keys, or NotCanDataError saying what was expected."""
    with open(path, "rb") as f:
        head = f.read(SNIFF_BYTES)
        truncated = bool(f.read(1))
    if not head:
        raise NotCanDataError(f"{path}: empty file, expected a CAN log ({EXPECTED})")
    if pythoncan.looks_like_blf(head):
        return "blf"
    codec, encoding, _ = text_encoding(head, path)
    decoded = f" (text decoded from {encoding})" if codec != "utf-8" else ""
    not_can = NotCanDataError(f"{path}:1: not a CAN log{decoded}: expected one of {EXPECTED}")
    head = to_utf8(head, path)
    if not head:  # nothing but a byte-order mark
        raise NotCanDataError(f"{path}: empty file, expected a CAN log ({EXPECTED})")
    if b"\0" in head:
        raise not_can
    if truncated and b"\n" in head:  # the last line may be cut at the 64 KiB boundary
        head = head[: head.rindex(b"\n") + 1]
    lines = split_lines(head)
    nonempty = lines.filter(pc.greater(pc.binary_length(lines), 0))
    if len(nonempty) == 0:
        raise not_can
    first = nonempty[0].as_py()
    if is_cantt_header(first):
        return "cantt_csv"
    if pythoncan.looks_like_trc(head):
        return "trc"
    if pythoncan.looks_like_asc(head):
        return "asc"
    sample = nonempty.slice(0, SAMPLE_LINES)
    share = {
        fmt: np.mean(pc.match_substring_regex(sample, pattern).to_numpy(zero_copy_only=False))
        for fmt, pattern in LINE_SIGNATURES.items()
    }
    best = max(share, key=share.get)
    if share[best] >= 0.5:
        return best
    raise not_can


def read_any(path: str | Path, fmt: str = "auto") -> ReadResult:
    """Read ``path`` in ``fmt``, or in the detected format when ``fmt`` is "auto"."""
    if fmt == "auto":
        return READERS[detect_format(path)](path)
    if fmt not in READERS:
        raise ValueError(f"unknown CAN log format {fmt!r}: expected 'auto' or one of {', '.join(READERS)}")
    try:
        return READERS[fmt](path)
    except NotCanDataError as exc:
        raise NotCanDataError(f"{exc} [format forced to {fmt!r}]") from exc
