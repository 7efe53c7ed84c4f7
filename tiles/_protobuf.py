"""The few protocol-buffers wire-format pieces the MVT encoder needs.

Only varints, length-delimited fields and 64-bit doubles are used by the
vector tile schema; writing them by hand keeps the encoder free of generated
code and lets packed arrays be encoded with numpy in one pass.
"""

from __future__ import annotations

import functools
import struct

import numpy as np

VARINT = 0
FIXED64 = 1
LENGTH = 2

_SHIFTS = np.arange(0, 70, 7, dtype=np.uint64)
_NUMPY_FROM = 48
_BYTES = [bytes((i,)) for i in range(0x80)]


def varint(value: int) -> bytes:
    """One unsigned varint (``value`` >= 0, below 2**64)."""
    if value < 0x80:
        return _BYTES[value]
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


@functools.lru_cache(maxsize=256)
def key(field: int, wire_type: int) -> bytes:
    """A field key: field number and wire type."""
    return varint((field << 3) | wire_type)


def length_field(field: int, payload: bytes) -> bytes:
    """A length-delimited field (string, bytes, embedded message, packed array)."""
    return key(field, LENGTH) + varint(len(payload)) + payload


def varint_field(field: int, value: int) -> bytes:
    return key(field, VARINT) + varint(value)


def double_field(field: int, value: float) -> bytes:
    return key(field, FIXED64) + struct.pack("<d", value)


def zigzag(values: np.ndarray) -> np.ndarray:
    """Zigzag-encode signed integers (int64) to unsigned (uint64)."""
    v = np.asarray(values, dtype=np.int64)
    return ((v << 1) ^ (v >> 63)).view(np.uint64)


def zigzag_int(value: int) -> int:
    return (value << 1) ^ (value >> 63)


_SIZE_STEPS = np.array([1 << s for s in range(7, 64, 7)], dtype=np.uint64)


def varint_sizes(values: np.ndarray) -> np.ndarray:
    """Bytes each unsigned integer takes as a varint."""
    v = np.asarray(values, dtype=np.uint64)
    # one searchsorted instead of nine comparisons: tiles call this on many short arrays
    return np.searchsorted(_SIZE_STEPS, v, side="right").astype(np.int64) + 1


def packed_varints(values: np.ndarray | list[int]) -> bytes:
    """Concatenated varints of an array of unsigned integers, encoded with numpy."""
    if isinstance(values, list):  # short Python lists (feature tags): skip numpy entirely
        if not values or max(values) < 0x80:
            return bytes(values)
        return b"".join(varint(x) for x in values)
    v = np.asarray(values, dtype=np.uint64)
    if v.size < _NUMPY_FROM:  # numpy's per-call overhead outweighs its speed on short arrays
        return b"".join(varint(x) for x in v.tolist())
    groups = (v[:, None] >> _SHIFTS[None, :]) & np.uint64(0x7F)
    # bytes per value: up to and including the highest non-zero 7-bit group, at least one
    nonzero = groups != 0
    nbytes = np.where(nonzero.any(axis=1), 10 - nonzero[:, ::-1].argmax(axis=1), 1)
    col = np.arange(10)[None, :]
    cont = (col < (nbytes[:, None] - 1)).astype(np.uint64) << np.uint64(7)
    out = (groups | cont).astype(np.uint8)
    return out[col < nbytes[:, None]].tobytes()
