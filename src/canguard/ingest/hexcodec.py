"""Vectorised hexadecimal encoding and decoding of CAN IDs and payloads.

No Python loop per message: strings live in Arrow arrays, hex digits are
translated through 256-entry lookup tables on the raw bytes.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from numpy.lib.stride_tricks import sliding_window_view

_HEX_UPPER = np.frombuffer(b"0123456789ABCDEF", dtype=np.uint8)

# value of each ASCII byte as a hex digit, 255 where it is not one
NIBBLE = np.full(256, 255, dtype=np.uint8)
for _i, _c in enumerate(b"0123456789abcdef"):
    NIBBLE[_c] = _i
for _i, _c in enumerate(b"ABCDEF"):
    NIBBLE[_c] = 10 + _i


def string_buffers(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(offsets int64 (n+1,), bytes uint8) of a string/binary Arrow array, zero-copy where possible.

    Null entries are treated as empty strings.
    """
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if arr.null_count:
        arr = arr.fill_null("")
    large = pa.types.is_large_string(arr.type) or pa.types.is_large_binary(arr.type)
    off_dtype = np.int64 if large else np.int32
    _, off_buf, data_buf = arr.buffers()
    offsets = np.frombuffer(off_buf, dtype=off_dtype)[arr.offset: arr.offset + len(arr) + 1]
    data = np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.empty(0, np.uint8)
    return offsets.astype(np.int64, copy=False), data


def fixed_width(arr: pa.Array, width: int, fill: int = ord("0")) -> tuple[np.ndarray, np.ndarray]:
    """Left-aligned (n, width) uint8 matrix of the first ``width`` bytes of each string.

    Returns the matrix (padded with ``fill``) and each string's length (clipped to width).
    Each row is copied whole from a ``width``-byte sliding window over the (padded) data
    buffer at the string's offset, then the bytes past the string's end are set to ``fill``:
    one gather of contiguous rows, no per-byte index.
    """
    offsets, data = string_buffers(arr)
    lengths = np.diff(offsets)
    padded = np.concatenate([data, np.full(width, fill, np.uint8)])
    rows = sliding_window_view(padded, width)[offsets[:-1]]
    inside = np.arange(width)[None, :] < lengths[:, None]
    return np.where(inside, rows, np.uint8(fill)), lengths


def decode_hex_payload(arr: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decode hex payload strings of 0..16 digits.

    Returns ``(payload (n, 8) uint8, dlc (n,) uint8, ok (n,) bool)``; ``ok`` is
    False where the string has an odd length, more than 16 digits or a
    character that is not a hex digit (those rows' payload is undefined).
    """
    chars, lengths = fixed_width(arr, 16)
    nib = NIBBLE[chars]
    col = np.arange(16)[None, :]
    present = col < lengths[:, None]
    ok = (lengths <= 16) & (lengths % 2 == 0) & ~np.any((nib == 255) & present, axis=1)
    nib = np.where(present, nib, 0)
    payload = (nib[:, 0::2] << 4) | nib[:, 1::2]
    dlc = np.where(ok, lengths // 2, 0).astype(np.uint8)
    return payload.astype(np.uint8), dlc, ok


def decode_hex_id(arr: pa.Array, max_digits: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Decode hex CAN IDs (optional ``0x`` prefix stripped by the caller).

    Returns ``(can_id uint32, ok bool)``; ``ok`` is False for empty strings,
    more than ``max_digits`` digits, non-hex characters or IDs above 0x1FFFFFFF.
    """
    chars, lengths = fixed_width(arr, max_digits)
    nib = NIBBLE[chars].astype(np.uint32)
    col = np.arange(max_digits)[None, :]
    present = col < lengths[:, None]
    ok = (lengths >= 1) & (lengths <= max_digits) & ~np.any((nib == 255) & present, axis=1)
    value = np.zeros(len(lengths), dtype=np.uint64)
    for k in range(max_digits):  # loop over digit positions (<= 8), not over rows
        use = present[:, k] & ok
        value = np.where(use, (value << np.uint64(4)) | nib[:, k].astype(np.uint64), value)
    ok &= value <= 0x1FFFFFFF
    return value.astype(np.uint32), ok


def _strings_from_chars(chars: np.ndarray, lengths: np.ndarray) -> pa.Array:
    """Arrow string array whose i-th string is chars[i, :lengths[i]]."""
    n, width = chars.shape
    mask = np.arange(width)[None, :] < lengths[:, None]
    data = np.ascontiguousarray(chars[mask])
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return pa.Array.from_buffers(
        pa.large_string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(data)]
    )


def encode_hex_payload(payload: np.ndarray, dlc: np.ndarray) -> pa.Array:
    """Upper-case hex strings of the first ``dlc`` bytes of each payload row."""
    payload = np.asarray(payload, dtype=np.uint8).reshape(-1, 8)
    chars = np.empty((len(payload), 16), dtype=np.uint8)
    chars[:, 0::2] = _HEX_UPPER[payload >> 4]
    chars[:, 1::2] = _HEX_UPPER[payload & 0x0F]
    return _strings_from_chars(chars, 2 * np.asarray(dlc, dtype=np.int64))


def encode_hex_id(can_id: np.ndarray) -> pa.Array:
    """IDs as upper-case hex: 3 digits for 11-bit IDs, 8 digits for 29-bit ones."""
    can_id = np.asarray(can_id, dtype=np.uint32)
    shifts = np.arange(28, -4, -4, dtype=np.uint32)
    digits = _HEX_UPPER[(can_id[:, None] >> shifts[None, :]) & 0xF]
    extended = can_id > 0x7FF
    width = np.where(extended, 8, 3)
    # take the last `width` digits: shift each row left so they start at column 0
    start = 8 - width
    col = np.arange(8)[None, :] + start[:, None]
    chars = np.take_along_axis(digits, np.minimum(col, 7), axis=1)
    return _strings_from_chars(chars, width)
