"""What a reader returns for one file."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from canguard.frames import Frames
from canguard.ingest.errors import NotCanDataError  # noqa: F401  (re-exported)
from canguard.ingest.lines import REJECTS_SCHEMA

MAX_DATA_BYTES = 8
ID_OVER_29_BITS = "CAN ID over 0x1FFFFFFF (more than 29 bits)"


def fd_too_long(n_bytes: int) -> str:
    """The reject reason of a CAN FD frame whose payload does not fit the schema, the same in every reader."""
    return f"CAN FD frame with {n_bytes} data bytes (more than {MAX_DATA_BYTES}): the schema holds {MAX_DATA_BYTES}"


@dataclass
class ReadResult:
    """Messages kept from one file, and the lines that were not.

    ``line[i]`` is the 1-based physical line of frame ``i`` (the record index
    for binary formats).  ``rows_read == len(frames) + rejects.num_rows``:
    every data line is either kept or rejected; ``header_lines`` counts the
    lines that belong to the format itself (a CSV header, comments).
    """

    format: str
    frames: Frames
    line: np.ndarray
    rejects: pa.Table
    header_lines: int = 0

    def __post_init__(self) -> None:
        self.line = np.asarray(self.line, dtype=np.int64)
        if len(self.line) != len(self.frames):
            raise ValueError("one source line per kept frame expected")
        if self.rejects.schema != REJECTS_SCHEMA:
            self.rejects = self.rejects.cast(REJECTS_SCHEMA)

    @property
    def rows_read(self) -> int:
        return len(self.frames) + self.rejects.num_rows
