"""Read a GeoParquet file without pandas: shapely geometries and property values for MVT.

:func:`read_geoparquet` gives what ``geopandas.read_parquet`` gives, as tiles
use it, in a fraction of the start-up time (pandas and geopandas take some
0.25 s to import, more than a small tile export spends on its work):

- the primary geometry column decoded to shapely (WKB or a native GeoArrow
  encoding), ``None`` where missing, with the CRS of the ``geo`` metadata
  (``OGC:CRS84`` when it names none, as the GeoParquet specification says);
- every other column, in file order, as plain Python values typed for MVT:
  ``bool``, ``int``, ``float``, ``str`` or ``None`` (NaN, null and NaT are
  ``None``); datetimes, dates, times and durations as the ISO 8601 strings
  pandas' ``isoformat`` writes; dicts, lists and maps as JSON (keys sorted, not
  ASCII-escaped); anything else as ``str``. Values keep the type pandas would
  give them: an integer column with missing values is float (unless the file's
  pandas metadata says it is a nullable ``Int64``), and so is an integer field
  of a struct, or value of a map, with missing values; categorical (dictionary)
  columns give their values. The pandas index columns and the ``bbox``
  covering column are not properties, as geopandas drops them; another
  geometry column is given as WKT.

Where the pandas way gave something no reader wants, the values here differ,
on purpose: a list is JSON (pandas gave numpy's ``str`` of an array, ``[1 2]``),
a missing value of a pandas ``string`` or duration column is ``None`` (``<NA>``,
``NaT``), and a nested list or datetime inside a dict is JSON too (an error).

:func:`to_crs` reprojects geometries exactly as ``GeoSeries.to_crs`` does, so the
coordinates are the same to the bit. pyarrow converts arrays to numpy through
pandas, so nothing here calls ``to_numpy``: values come through ``to_pylist``.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import zoneinfo
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import shapely
from pyproj import CRS, Transformer

from tiles.proj import with_transformer

#: nanoseconds per unit of arrow timestamps, durations and times
_NS = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}
_EPOCH = dt.datetime(1970, 1, 1)
_DAY_NS = 86_400_000_000_000
#: pandas' nullable integer dtypes: a column the pandas metadata gives one keeps its integers
_NULLABLE_INTS = {f"{u}Int{b}" for u in ("", "U") for b in (8, 16, 32, 64)}
#: native GeoArrow encodings: shapely geometry type and list nesting depth
_NATIVE = {
    "point": (shapely.GeometryType.POINT, 0),
    "linestring": (shapely.GeometryType.LINESTRING, 1),
    "polygon": (shapely.GeometryType.POLYGON, 2),
    "multipoint": (shapely.GeometryType.MULTIPOINT, 1),
    "multilinestring": (shapely.GeometryType.MULTILINESTRING, 2),
    "multipolygon": (shapely.GeometryType.MULTIPOLYGON, 3),
}


@dataclass(frozen=True)
class GeoTable:
    """The rows of a GeoParquet file: primary geometries, their CRS and the other columns."""

    geometry: np.ndarray
    crs: CRS | None
    #: (name, values typed for MVT) of every other column, in file order
    columns: tuple[tuple[str, list[Any]], ...]
    #: the columns of an integer type without missing values, as arrow arrays
    _integers: dict[str, pa.ChunkedArray] = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return len(self.geometry)

    def integers(self, name: str) -> np.ndarray | None:
        """Column ``name`` as an int64 (or uint64) array if it is an integer column
        with no missing value (as pandas would type it), else None."""
        values = self._integers.get(name)
        if values is None:
            return None
        unsigned = pa.types.is_unsigned_integer(values.type)
        return np.array(values.to_pylist(), dtype=np.uint64 if unsigned else np.int64)


def read_geoparquet(path: str | os.PathLike[str]) -> GeoTable:
    """Read a GeoParquet file (local path, URI or dataset directory); see the module doc.

    Raises
    ------
    ValueError
        When the file has no valid ``geo`` metadata or no geometry column.
    OSError, pyarrow.ArrowException
        When the file cannot be read.
    """
    table, meta = _read(str(path))
    geo = _geo_metadata(meta)
    pandas_meta = json.loads(meta[b"pandas"]) if b"pandas" in meta else {}
    index = {c for c in pandas_meta.get("index_columns", []) if isinstance(c, str)}
    nullable = {
        c.get("field_name", c.get("name"))
        for c in pandas_meta.get("columns", [])
        if c.get("numpy_type") in _NULLABLE_INTS
    }
    names = [n for n in table.column_names if n not in index]
    geometry_columns = [n for n in names if n in geo["columns"]]
    if not geometry_columns:
        raise ValueError("no geometry column of the 'geo' metadata is in the file")
    primary = geo["primary_column"]
    if primary not in geometry_columns:  # as geopandas: the first one read is promoted
        primary = geometry_columns[0]
    columns, integers = [], {}
    for name in names:
        if name == primary:
            continue
        values = table.column(name)
        if name in geometry_columns:
            geoms = _geometries(values, geo["columns"][name]["encoding"])
            columns.append((name, [None if g is None else str(g) for g in geoms]))
            continue
        columns.append((name, mvt_values(values, name in nullable)))
        if pa.types.is_integer(values.type) and values.null_count == 0:
            integers[name] = values
    about = geo["columns"][primary]
    crs = about.get("crs", "OGC:CRS84")
    if isinstance(crs, dict):
        _remove_id_from_member_of_ensembles(crs)
    return GeoTable(
        geometry=_geometries(table.column(primary), about["encoding"]),
        crs=None if crs is None else CRS.from_user_input(crs),
        columns=tuple(columns),
        _integers=integers,
    )


def _read(path: str) -> tuple[pa.Table, dict[bytes, bytes]]:
    """The file's columns (without the bbox covering) and its schema metadata."""
    if os.path.isfile(path):
        with pq.ParquetFile(path) as pf:
            meta = pf.schema_arrow.metadata or {}
            if b"geo" not in meta:  # GDAL writes it in the file's key-value metadata only
                meta = {**(pf.metadata.metadata or {}), **meta}
            return pf.read(columns=_columns(pf.schema_arrow.names, meta)), meta
    # a URI (s3://...) or a dataset directory, read as geopandas does
    dataset = pq.ParquetDataset(path)
    meta = dataset.schema.metadata or {}
    return dataset.read(columns=_columns(dataset.schema.names, meta)), meta


def _columns(names: list[str], meta: dict[bytes, bytes]) -> list[str]:
    """The columns geopandas reads: all but the primary geometry's bbox covering."""
    try:
        geo = json.loads(meta[b"geo"])
        covering = geo["columns"][geo["primary_column"]]["covering"]["bbox"]["xmin"][0]
    except (KeyError, IndexError, TypeError, ValueError):
        return names
    return [n for n in names if n != covering]


def _geo_metadata(meta: dict[bytes, bytes]) -> dict[str, Any]:
    """The ``geo`` metadata, checked as geopandas checks it."""
    if b"geo" not in meta:
        raise ValueError("no 'geo' metadata: not a GeoParquet file")
    try:
        geo = json.loads(meta[b"geo"])
    except ValueError:
        raise ValueError("the 'geo' metadata is not valid JSON") from None
    if not isinstance(geo, dict) or not geo.get("version", geo.get("schema_version")):
        raise ValueError("the 'geo' metadata has no 'version'")
    if not isinstance(geo.get("primary_column"), str) or not isinstance(geo.get("columns"), dict):
        raise ValueError("the 'geo' metadata needs 'primary_column' and 'columns'")
    for name, about in geo["columns"].items():
        encoding = about.get("encoding") if isinstance(about, dict) else None
        if encoding != "WKB" and encoding not in _NATIVE:
            raise ValueError(f"geometry column {name!r}: encoding {encoding!r} is not supported")
    return geo


def _remove_id_from_member_of_ensembles(json_dict: dict[str, Any]) -> None:
    """Drop the ids of datum ensemble members, which older PROJ databases do not know
    (as geopandas and GDAL do: https://github.com/OSGeo/PROJ/pull/3221)."""
    for key, value in json_dict.items():
        if isinstance(value, dict):
            _remove_id_from_member_of_ensembles(value)
        elif key == "members" and isinstance(value, list):
            for member in value:
                member.pop("id", None)


def _objects(values: list[Any]) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def _geometries(column: pa.ChunkedArray, encoding: str) -> np.ndarray:
    """A geometry column as shapely geometries (None where missing)."""
    if encoding == "WKB":
        return shapely.from_wkb(_objects(column.to_pylist()))
    arr = column.combine_chunks()
    if isinstance(arr, pa.ExtensionArray):
        arr = arr.storage
    kind, depth = _NATIVE[encoding]
    offsets, inner = [], arr
    for _ in range(depth):
        offsets.append(np.array(inner.offsets.to_pylist(), dtype=np.int64))
        inner = inner.values
    if pa.types.is_struct(inner.type):  # separated x, y[, z]
        coords = np.column_stack(
            [inner.field(i).to_pylist() for i in range(inner.type.num_fields)]
        ).astype(float)
    else:  # interleaved: fixed-size lists
        coords = np.array(inner.values.to_pylist(), dtype=float).reshape(len(inner), -1)
    result = shapely.from_ragged_array(kind, coords, tuple(reversed(offsets)) or None)
    if arr.null_count:
        result[_missing(arr)] = None
    return result


def _missing(arr: pa.Array) -> np.ndarray:
    """Where ``arr`` is null, from its validity bitmap (``is_null`` would load pyarrow.compute)."""
    bits = np.unpackbits(np.frombuffer(arr.buffers()[0], np.uint8), bitorder="little")
    return bits[arr.offset : arr.offset + len(arr)] == 0


def to_crs(geoms: np.ndarray, src: CRS, dst: CRS) -> np.ndarray:
    """``geoms`` from ``src`` to ``dst``, coordinate for coordinate as ``GeoSeries.to_crs``.

    2D geometries go through the transformer as x, y arrays and 3D ones as x, y, z,
    as geopandas sends them; nothing changes when the two CRS are the exact same.
    The transformer may have been prepared ahead (:func:`tiles.proj.prepare`).
    """
    if src.is_exact_same(dst):
        return geoms
    return with_transformer(src, dst, partial(_transformed, geoms))


def _transformed(geoms: np.ndarray, transformer: Transformer) -> np.ndarray:
    has_z = shapely.has_z(geoms)
    result = np.empty_like(geoms)
    for mask, z in ((~has_z, False), (has_z, True)):
        coords = shapely.get_coordinates(geoms[mask], include_z=z)
        moved = transformer.transform(*(coords[:, i] for i in range(coords.shape[1])))
        result[mask] = shapely.set_coordinates(geoms[mask].copy(), np.array(moved).T)
    return result


# -- property values ---------------------------------------------------------------------------


def mvt_values(column: pa.ChunkedArray, nullable_int: bool = False) -> list[Any]:
    """A column's values as Python objects typed for MVT (see the module docstring).

    ``nullable_int``: an integer column keeps integers beside its missing values (a
    pandas ``Int64`` column); otherwise missing values make it float, as in pandas.
    """
    t = column.type
    if pa.types.is_dictionary(t):  # categorical: the values of the codes
        out: list[Any] = []
        for chunk in column.chunks:
            # missing codes make an integer category float, over the whole column
            values = _typed(chunk.dictionary, t.value_type, nullable_int, column.null_count)
            out += [None if i is None else values[i] for i in chunk.indices.to_pylist()]
        return out
    if pa.types.is_struct(t) or pa.types.is_map(t):  # their fields typed over the column
        return _typed(column.combine_chunks(), t, nullable_int, column.null_count)
    out = []
    for chunk in column.chunks:
        out += _typed(chunk, t, nullable_int, column.null_count)
    return out


def _typed(arr: pa.Array, t: pa.DataType, nullable_int: bool, nulls: int) -> list[Any]:
    """:func:`mvt_values` of one array; ``nulls``: the missing values of its whole column."""
    if pa.types.is_boolean(t) or pa.types.is_string(t) or pa.types.is_large_string(t):
        return arr.to_pylist()
    if pa.types.is_integer(t):
        values = arr.to_pylist()
        if nulls and not nullable_int:
            return [None if v is None else float(v) for v in values]
        return values
    if pa.types.is_floating(t):
        return [None if v is None or v != v else float(v) for v in arr.to_pylist()]
    if pa.types.is_null(t):
        return [None] * len(arr)
    if pa.types.is_timestamp(t):
        zone = _zone(t.tz) if t.tz else None
        scale = _NS[t.unit]
        return [None if v is None else _timestamp(v * scale, zone) for v in _int64s(arr)]
    if pa.types.is_duration(t):
        scale = _NS[t.unit]
        return [None if v is None else _duration(v * scale) for v in _int64s(arr)]
    if pa.types.is_time(t):
        scale = _NS[t.unit]
        return [None if v is None else _time(v * scale) for v in _int64s(arr)]
    if pa.types.is_struct(t):
        return [_plain(v) for v in _struct_rows(arr)]
    if pa.types.is_map(t) and pa.types.is_integer(t.item_type) and arr.items.null_count:
        rows = arr.to_pylist()
        return [_plain(None if v is None else [(k, _float(x)) for k, x in v]) for v in rows]
    return [_plain(v) for v in arr.to_pylist()]


def _int64s(arr: pa.Array) -> list[int | None]:
    """The raw integers of a temporal array (its units since the epoch or midnight)."""
    width = pa.int32() if pa.types.is_time32(arr.type) else pa.int64()
    return arr.view(width).to_pylist()


def _float(v: Any) -> Any:
    return None if v is None else float(v)


def _struct_rows(arr: pa.StructArray) -> list[Any]:
    """The dicts of a struct array; integer fields with missing values as floats (as pandas
    converts each field of an array, nested structs too)."""
    rows = arr.to_pylist()
    _floats_in(rows, arr.type, [arr.field(i) for i in range(arr.type.num_fields)])
    return rows


def _floats_in(rows: list[Any], t: pa.StructType, fields: list[pa.Array]) -> None:
    for i, child in enumerate(fields):
        name, ct = t.field(i).name, t.field(i).type
        if pa.types.is_integer(ct) and child.null_count:
            for row in rows:
                if row is not None and row[name] is not None:
                    row[name] = float(row[name])
        elif pa.types.is_struct(ct):
            inner = [None if row is None else row[name] for row in rows]
            _floats_in(inner, ct, [child.field(j) for j in range(ct.num_fields)])


def _plain(v: Any) -> Any:
    """One value of a column of no simpler type, as pandas' object values were typed."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    if isinstance(v, str | bool | int | float):
        return v
    if isinstance(v, dict | list):
        return json.dumps(v, ensure_ascii=False, sort_keys=True, default=_json_default)
    if hasattr(v, "isoformat"):
        return v.isoformat()
    return str(v)


def _json_default(v: Any) -> Any:
    return v.isoformat() if hasattr(v, "isoformat") else str(v)


def _zone(tz: str) -> dt.tzinfo:
    """An arrow timestamp's time zone: a name, or a fixed offset such as ``+08:00``."""
    if tz[:1] in "+-":
        hours, _, minutes = tz[1:].partition(":")
        offset = dt.timedelta(hours=int(hours), minutes=int(minutes or 0))
        return dt.timezone(-offset if tz[0] == "-" else offset)
    if tz.upper() in ("UTC", "Z"):
        return dt.UTC
    return zoneinfo.ZoneInfo(tz)


def _timestamp(ns: int, zone: dt.tzinfo | None) -> str:
    """``pandas.Timestamp.isoformat`` of ``ns`` nanoseconds since the epoch (UTC)."""
    micros, nanos = divmod(ns, 1000)
    stamp = _EPOCH + dt.timedelta(microseconds=micros)
    if zone is not None:
        stamp = stamp.replace(tzinfo=dt.UTC).astimezone(zone)
    text = stamp.isoformat()
    if not nanos:
        return text
    head, tail = (text[:-6], text[-6:]) if zone is not None else (text, "")
    return f"{head}{nanos:03d}{tail}" if stamp.microsecond else f"{head}.{nanos:09d}{tail}"


def _duration(ns: int) -> str:
    """``pandas.Timedelta.isoformat`` of ``ns`` nanoseconds."""
    days, rest = divmod(ns, _DAY_NS)
    hours, rest = divmod(rest, 3_600_000_000_000)
    minutes, rest = divmod(rest, 60_000_000_000)
    seconds, rest = divmod(rest, 1_000_000_000)
    millis, rest = divmod(rest, 1_000_000)
    micros, nanos = divmod(rest, 1_000)
    text = f"{seconds}.{millis:0>3}{micros:0>3}{nanos:0>3}".rstrip("0").rstrip(".")
    return f"P{days}DT{hours}H{minutes}M{text}S"


def _time(ns: int) -> str:
    """The ISO 8601 time of day ``ns`` nanoseconds after midnight (to the microsecond)."""
    micros = ns // 1000
    seconds, micros = divmod(micros, 1_000_000)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return dt.time(hours, minutes, seconds, micros).isoformat()
