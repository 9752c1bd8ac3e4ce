"""Frames: the columnar in-memory form of a CAN recording.

Every reader returns, and the synthetic vehicle produces, a :class:`Frames`:
one numpy array per field, all of length ``n`` (messages in file order).

Shapes and dtypes::

    timestamp  (n,)    float64  seconds (epoch or relative)
    can_id     (n,)    uint32   arbitration ID (11- or 29-bit)
    dlc        (n,)    uint8    data length code, 0..8
    payload    (n, 8)  uint8    data bytes; bytes at index >= dlc are 0 (padding)
    label      (n,)    int8     1 attack, 0 benign, -1 unknown (unlabelled capture)
    frame_type (n,)    int8     0 data, 1 remote (RTR), 2 CAN FD (see FRAME_TYPE_NAMES)

``frame_type`` is optional when building a :class:`Frames` (keyword or sixth
positional argument): left out, every row is a classic data frame (0).  A
remote frame keeps the requested length in ``dlc`` and an all-zero payload;
an FD frame has ``dlc`` = its number of data bytes (at most 8: readers reject
longer FD frames, the schema holds 8 bytes).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

UNKNOWN_LABEL = -1

FRAME_DATA = 0
FRAME_REMOTE = 1
FRAME_FD = 2
#: name of each frame_type code: FRAME_TYPE_NAMES[code]
FRAME_TYPE_NAMES = ("data", "remote", "fd")


@dataclass
class Frames:
    timestamp: np.ndarray
    can_id: np.ndarray
    dlc: np.ndarray
    payload: np.ndarray
    label: np.ndarray
    frame_type: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.timestamp = np.ascontiguousarray(self.timestamp, dtype=np.float64)
        self.can_id = np.ascontiguousarray(self.can_id, dtype=np.uint32)
        self.dlc = np.ascontiguousarray(self.dlc, dtype=np.uint8)
        self.payload = np.ascontiguousarray(self.payload, dtype=np.uint8).reshape(-1, 8)
        self.label = np.ascontiguousarray(self.label, dtype=np.int8)
        n = len(self.timestamp)
        if self.frame_type is None:
            self.frame_type = np.zeros(n, dtype=np.int8)
        self.frame_type = np.ascontiguousarray(self.frame_type, dtype=np.int8)
        for name in ("can_id", "dlc", "payload", "label", "frame_type"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"Frames.{name} has {len(getattr(self, name))} rows, timestamp has {n}")

    def __len__(self) -> int:
        return len(self.timestamp)

    @classmethod
    def empty(cls) -> Frames:
        return cls(
            np.empty(0), np.empty(0), np.empty(0), np.empty((0, 8)), np.empty(0)
        )

    def take(self, index: np.ndarray) -> Frames:
        """Rows selected by an integer index or boolean mask."""
        return Frames(
            self.timestamp[index], self.can_id[index], self.dlc[index],
            self.payload[index], self.label[index], self.frame_type[index],
        )

    @staticmethod
    def concat(parts: list[Frames]) -> Frames:
        if not parts:
            return Frames.empty()
        return Frames(
            np.concatenate([p.timestamp for p in parts]),
            np.concatenate([p.can_id for p in parts]),
            np.concatenate([p.dlc for p in parts]),
            np.concatenate([p.payload for p in parts]),
            np.concatenate([p.label for p in parts]),
            np.concatenate([p.frame_type for p in parts]),
        )

    def sorted_by_time(self) -> Frames:
        """Stable sort by timestamp (ties keep their order)."""
        return self.take(np.argsort(self.timestamp, kind="stable"))

    def padding_is_zero(self) -> bool:
        """True when every byte beyond ``dlc`` is 0, as the schema requires."""
        beyond = np.arange(8)[None, :] >= self.dlc[:, None]
        return not np.any(self.payload[beyond])


def previous_same_id(code: np.ndarray, num_codes: int) -> np.ndarray:
    """For each message, the index of the previous message with the same ID code (-1 if none).

    ``code`` (n,) holds dense ID codes in [0, num_codes); a stable radix-style sort
    keeps file order within an ID, so "previous" is the previous in the recording.
    """
    dtype = np.uint16 if num_codes <= np.iinfo(np.uint16).max else np.int64
    order = np.argsort(code.astype(dtype), kind="stable")
    prev = np.full(len(code), -1, dtype=np.int64)
    same = code[order[1:]] == code[order[:-1]]
    prev[order[1:][same]] = order[:-1][same]
    return prev
