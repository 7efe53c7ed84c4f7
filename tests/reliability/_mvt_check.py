"""A strict, independent MVT 2.1 checker: structure, tags, command counts, winding.

Written from the specification (not from :mod:`tiles.mvt`) so it can judge our
encoder; it is itself checked against the ``@mapbox/mvt-fixtures`` corpus
(valid fixtures pass, invalid ones are rejected). :func:`check_tile` returns
the list of problems, empty for a valid tile.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

MOVE_TO, LINE_TO, CLOSE_PATH = 1, 2, 7
POINT, LINESTRING, POLYGON = 1, 2, 3


class _Bad(Exception):
    pass


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        if i >= len(buf):
            raise _Bad("truncated varint")
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, i
        shift += 7
        if shift > 63:
            raise _Bad("varint too long")


def _fields(buf: bytes) -> Iterator[tuple[int, int, object]]:
    """(field number, wire type, value) of a protobuf message: int or bytes."""
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(buf, i)
            yield field, wire, value
        elif wire == 2:
            n, i = _varint(buf, i)
            if i + n > len(buf):
                raise _Bad("truncated length-delimited field")
            yield field, wire, buf[i : i + n]
            i += n
        elif wire == 1:
            i += 8
            yield field, wire, None
        elif wire == 5:
            i += 4
            yield field, wire, None
        else:
            raise _Bad(f"wire type {wire}")
        if i > len(buf):
            raise _Bad("truncated fixed field")


def _packed(buf: bytes) -> list[int]:
    out, i = [], 0
    while i < len(buf):
        v, i = _varint(buf, i)
        out.append(v)
    return out


def _zigzag(n: int) -> int:
    return (n >> 1) ^ -(n & 1)


def _geometry(kind: int, ints: list[int]) -> None:
    """Raise :class:`_Bad` unless the commands are right for ``kind`` (MVT 4.3, 4.4)."""
    i, x, y = 0, 0, 0
    rings: list[list[tuple[int, int]]] = []
    lines: list[list[tuple[int, int]]] = []
    moves = 0
    while i < len(ints):
        cmd, count = ints[i] & 7, ints[i] >> 3
        i += 1
        if cmd not in (MOVE_TO, LINE_TO, CLOSE_PATH):
            raise _Bad(f"unknown command {cmd}")
        if cmd == CLOSE_PATH:
            if count != 1:
                raise _Bad(f"ClosePath count {count}")
            if kind != POLYGON or not rings or len(rings[-1]) < 3:
                raise _Bad("ClosePath outside a polygon ring of 3+ points")
            rings[-1].append(rings[-1][0])
            continue
        if count == 0 or i + 2 * count > len(ints):
            raise _Bad(f"command count {count} does not match the parameters")
        pts = []
        for _ in range(count):
            x += _zigzag(ints[i])
            y += _zigzag(ints[i + 1])
            i += 2
            pts.append((x, y))
        if cmd == MOVE_TO:
            moves += 1
            if kind in (LINESTRING, POLYGON):
                if count != 1:
                    raise _Bad(f"MoveTo count {count} in a line or polygon")
                if kind == POLYGON and rings and rings[-1][-1] != rings[-1][0]:
                    raise _Bad("polygon ring not closed before the next MoveTo")
                (rings if kind == POLYGON else lines).append(pts)
            elif kind == POINT and moves > 1:
                raise _Bad("points need a single MoveTo")
        else:
            if kind == POINT:
                raise _Bad("LineTo in a point geometry")
            target = rings if kind == POLYGON else lines
            if not target:
                raise _Bad("LineTo before MoveTo")
            if any(p == q for p, q in zip([target[-1][-1], *pts], pts, strict=False)):
                raise _Bad("LineTo to the same position (zero-length segment)")
            target[-1].extend(pts)
    if moves == 0:
        raise _Bad("no MoveTo")
    if kind == LINESTRING and any(len(line) < 2 for line in lines):
        raise _Bad("linestring with fewer than 2 points")
    if kind == POLYGON:
        if any(r[-1] != r[0] for r in rings):
            raise _Bad("polygon ring without ClosePath")
        areas = [sum(a[0] * b[1] - b[0] * a[1] for a, b in itertools.pairwise(r)) for r in rings]
        if any(a == 0 for a in areas):
            raise _Bad("polygon ring of zero area")
        # 4.3.4.4: in tile coordinates (y down) an exterior ring has positive area; the
        # first ring of every polygon is exterior
        if areas[0] < 0:
            raise _Bad("first polygon ring is not an exterior ring (winding)")


def _layer(buf: bytes) -> str:
    name = None
    version = None
    extent = 4096
    keys: list[str] = []
    nvalues = 0
    features = []
    for field, wire, value in _fields(buf):
        if field == 15:
            if wire != 0:
                raise _Bad("layer version not a varint")
            version = value
        elif field == 1:
            if wire != 2:
                raise _Bad("layer name not a string")
            name = bytes(value).decode("utf-8")  # type: ignore[arg-type]
        elif field == 2:
            features.append(value)
        elif field == 3:
            if wire != 2:
                raise _Bad("layer key not a string")
            keys.append(bytes(value).decode("utf-8"))  # type: ignore[arg-type]
        elif field == 4:
            if wire != 2:
                raise _Bad("layer value not a message")
            found = [f for f, _, _ in _fields(value)]  # type: ignore[arg-type]
            if len(found) != 1 or found[0] not in range(1, 8):
                raise _Bad(f"value with fields {found}")
            kinds = {1: 2, 2: 5, 3: 1, 4: 0, 5: 0, 6: 0, 7: 0}
            wires = [w for _, w, _ in _fields(value)]  # type: ignore[arg-type]
            if wires[0] != kinds[found[0]]:
                raise _Bad(f"value field {found[0]} with wire type {wires[0]}")
            nvalues += 1
        elif field == 5:
            if wire != 0:
                raise _Bad("extent not a varint")
            extent = value  # type: ignore[assignment]
        else:
            raise _Bad(f"unknown layer field {field}")
    if version != 2:
        raise _Bad(f"layer version {version}")
    if not name:
        raise _Bad("layer without a name")
    if not extent:
        raise _Bad("extent 0")
    for feature in features:
        _feature(bytes(feature), len(keys), nvalues)  # type: ignore[arg-type]
    return name


def _feature(buf: bytes, nkeys: int, nvalues: int) -> None:
    kind = None
    geometries = 0
    ints: list[int] = []
    for field, _wire, value in _fields(buf):
        if field == 1:
            continue
        if field == 2:
            tags = _packed(value)  # type: ignore[arg-type]
            if len(tags) % 2:
                raise _Bad("odd number of tags")
            if any(k >= nkeys for k in tags[::2]) or any(v >= nvalues for v in tags[1::2]):
                raise _Bad("tag points past the keys or values")
        elif field == 3:
            kind = value
        elif field == 4:
            geometries += 1
            ints = _packed(value)  # type: ignore[arg-type]
        else:
            raise _Bad(f"unknown feature field {field}")
    if kind is None or kind not in (0, 1, 2, 3):
        raise _Bad(f"feature type {kind}")
    if geometries != 1:
        raise _Bad(f"{geometries} geometry fields")
    if kind != 0:
        _geometry(kind, ints)  # type: ignore[arg-type]


def check_tile(data: bytes) -> list[str]:
    """The problems of an encoded tile (empty list: valid MVT 2.1)."""
    try:
        names = []
        for field, wire, value in _fields(data):
            if field != 3 or wire != 2:
                raise _Bad(f"unknown tile field {field}")
            names.append(_layer(bytes(value)))  # type: ignore[arg-type]
        if len(names) != len(set(names)):
            raise _Bad("two layers with the same name")
    except (_Bad, UnicodeDecodeError) as exc:
        return [str(exc)]
    return []
