"""Generic vector sources: read anything OGR reads (or a CSV of points), clean it.

The generic ``vector`` layer is how an analyst adds a layer of their own: any
file OGR can open, or a CSV with coordinate columns, comes out as valid,
reprojected geometries with tidy columns.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pyogrio
import shapely
from geopandas.io.arrow import _arrow_to_geopandas  # geopandas' own GeoParquet decoding
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError

from layers.chinacrs import china_crs, to_wgs84
from layers.encodings import not_decodable, resolve_encoding
from layers.errors import SourceError, ValidationError
from layers.tables import (
    EXCEL_SUFFIXES,
    TEXT_SUFFIXES,
    X_COLUMNS,
    Y_COLUMNS,
    points_from_table,
    read_text_table,
)
from layers.vector_params import VectorParams

log = logging.getLogger(__name__)

__all__ = [
    "X_COLUMNS",
    "Y_COLUMNS",
    "CleanReport",
    "VectorParams",
    "check_unique_ids",
    "clean_vector",
    "count_rows",
    "read_table",
    "read_vector",
]


def read_vector(
    path: str | os.PathLike[str],
    layer: str | None = None,
    crs: str | None = None,
    x: str | None = None,
    y: str | None = None,
    rows: tuple[int, int] | None = None,
    encoding: str | None = None,
) -> gpd.GeoDataFrame:
    """Read a vector source into a GeoDataFrame.

    Parameters
    ----------
    path
        Any file OGR opens (GeoPackage, GeoJSON, Shapefile, FlatGeobuf, GeoParquet ...),
        or a ``.csv`` / ``.tsv`` / Excel sheet with coordinate columns.
    layer
        Layer name inside a multi-layer file; the sheet of an Excel workbook.
    crs
        CRS to assume when the file declares none (always the case for CSV,
        where the default is EPSG:4326). A file that declares a CRS keeps it,
        except that ``"GCJ-02"`` / ``"BD-09"`` (:mod:`layers.chinacrs`) say the
        longitudes/latitudes are shifted: they are moved back to WGS84
        (EPSG:4326) before anything else.
    x, y
        Coordinate columns of a table; by default the first of :data:`X_COLUMNS` /
        :data:`Y_COLUMNS` present (case, spaces and a unit in brackets ignored).
    rows
        Only rows ``start:stop`` (see :func:`count_rows`), indexed by their row in
        the whole source: for reading a large source by partitions. OGR files
        skip to ``start``, GeoParquet reads only the row groups the rows span; a
        CSV is read whole (its column types come from every row) and sliced.
    encoding
        The text encoding of a shapefile's DBF or a CSV (any Python codec name);
        by default found from the bytes (:func:`layers.encodings.resolve_encoding`).

    Warns
    -----
    SourceEncodingWarning
        When undeclared text that is not UTF-8 is read as GB18030.

    Raises
    ------
    SourceError
        Naming the file and what is wrong: unreadable, no CRS, missing columns.
    """
    path = Path(path)
    if not path.exists():
        raise SourceError(f"{path}: no such file")
    shifted = china_crs(crs)
    gdf = _read(path, layer, "EPSG:4326" if shifted else crs, x, y, rows, encoding)
    if shifted is not None:
        if not gdf.crs.is_geographic:
            raise SourceError(
                f"{path}: crs is {shifted} but the file declares {gdf.crs.name}, a projected CRS; "
                f"{shifted} coordinates are longitudes/latitudes"
            )
        moved = to_wgs84(gdf.geometry.values, shifted)
        gdf = gdf.set_geometry(gpd.GeoSeries(moved, index=gdf.index, crs="EPSG:4326"))
        log.debug("%s: %s coordinates moved to WGS84", path, shifted)
    log.debug("%s: read %d features (layer %s, crs %s)", path, len(gdf), layer, gdf.crs)
    return gdf


def _read(
    path: Path,
    layer: str | None,
    crs: str | None,
    x: str | None,
    y: str | None,
    rows: tuple[int, int] | None,
    encoding: str | None,
) -> gpd.GeoDataFrame:
    suffix = path.suffix.lower()
    if suffix in TEXT_SUFFIXES or suffix in EXCEL_SUFFIXES:
        df = read_text_table(path, encoding=encoding, sheet=layer)
        table = points_from_table(df, path, x, y).set_crs(_crs(crs or "EPSG:4326", path))
        return table if rows is None else table.iloc[rows[0] : rows[1]]
    enc = None
    try:
        if suffix == ".parquet":
            gdf = gpd.read_parquet(path) if rows is None else _parquet_rows(path, *rows)
        else:
            part: dict[str, object] = (
                {}
                if rows is None
                else {"skip_features": rows[0], "max_features": rows[1] - rows[0]}
            )
            enc = resolve_encoding(path, encoding)
            if enc is not None:
                part["encoding"] = enc
            gdf = gpd.read_file(path, layer=layer, engine="pyogrio", **part)
    except LookupError as exc:  # an encoding Python does not know
        raise SourceError(f"{path}: {exc}") from None
    except UnicodeDecodeError:
        raise SourceError(not_decodable(path, enc)) from None
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        raise SourceError(f"{path}: cannot read as a vector source: {_first_line(exc)}") from None
    except (OSError, ValueError) as exc:
        raise SourceError(f"{path}: cannot read as a vector source: {_first_line(exc)}") from None
    if not isinstance(gdf, gpd.GeoDataFrame) or gdf.geometry is None:
        raise SourceError(f"{path}: has no geometry column")
    if gdf.crs is None:
        if crs is None:
            raise SourceError(f"{path}: declares no CRS; set 'crs' on the source")
        gdf = gdf.set_crs(_crs(crs, path))
    if rows is not None:
        gdf.index = pd.RangeIndex(rows[0], rows[0] + len(gdf))
    return gdf


def count_rows(path: str | os.PathLike[str], layer: str | None = None) -> int:
    """Rows of an OGR or GeoParquet source without reading them; -1 when unknown (or a CSV)."""
    path = Path(path)
    try:
        if path.suffix.lower() == ".parquet":
            return int(pq.ParquetFile(path).metadata.num_rows)
        if path.suffix.lower() in TEXT_SUFFIXES + EXCEL_SUFFIXES:
            return -1
        info = pyogrio.read_info(path, layer=layer, force_feature_count=True)
        return int(info["features"])
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, OSError, ValueError):
        return -1  # reading names the problem


def _parquet_rows(path: Path, start: int, stop: int) -> gpd.GeoDataFrame:
    """Rows ``start:stop`` of a GeoParquet file, reading only the row groups they span."""
    pf = pq.ParquetFile(path)
    groups, first, offset = [], None, 0
    for i in range(pf.metadata.num_row_groups):
        n = pf.metadata.row_group(i).num_rows
        if offset + n > start and offset < stop:
            groups.append(i)
            first = offset if first is None else first
        offset += n
    columns = pf.schema_arrow.names
    geo = json.loads((pf.schema_arrow.metadata or {}).get(b"geo", b"{}"))
    covering = geo.get("columns", {}).get(geo.get("primary_column"), {}).get("covering", {})
    if "bbox" in covering:  # as geopandas.read_parquet: the covering is no column of the layer
        columns = [c for c in columns if c != covering["bbox"]["xmin"][0]]
    table = pf.read_row_groups(groups, columns=columns)
    return _arrow_to_geopandas(table.slice(start - (first or 0), stop - start))


def read_table(
    path: str | os.PathLike[str], layer: str | None = None, encoding: str | None = None
) -> pd.DataFrame:
    """Read an attribute table: CSV/TSV, Excel (``.xlsx``/``.xls``) or any OGR file's attributes.

    Code and id columns of CSV/Excel are read as text (see :mod:`layers.tables`);
    ``encoding`` is as in :func:`read_vector`; ``layer`` is the Excel sheet or OGR layer.

    Raises
    ------
    SourceError
        Naming the file when it cannot be read.
    """
    path = Path(path)
    if not path.exists():
        raise SourceError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix in TEXT_SUFFIXES or suffix in EXCEL_SUFFIXES:
        return read_text_table(path, encoding=encoding, sheet=layer)
    enc = None
    try:
        enc = resolve_encoding(path, encoding)
        extra = {"encoding": enc} if enc is not None else {}
        table = pyogrio.read_dataframe(path, layer=layer, read_geometry=False, **extra)
        return pd.DataFrame(table)
    except LookupError as exc:
        raise SourceError(f"{path}: {exc}") from None
    except UnicodeDecodeError:
        raise SourceError(not_decodable(path, enc)) from None
    except (OSError, ValueError) as exc:
        raise SourceError(f"{path}: cannot read as a table: {_first_line(exc)}") from None
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        raise SourceError(f"{path}: cannot read as a table: {_first_line(exc)}") from None


def _crs(value: str, path: Path) -> CRS:
    try:
        return CRS.from_user_input(value)
    except CRSError:
        raise SourceError(f"{path}: {value!r} is not a CRS pyproj knows") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    # GDAL's advice about driver prefixes helps no one who picked a file in twin.toml.
    return line.split("; It might help to specify the correct driver", 1)[0]


@dataclass
class CleanReport:
    """What :func:`clean_vector` changed."""

    dropped_empty: int = 0
    repaired: int = 0
    dropped_invalid: int = 0

    def as_stats(self) -> dict[str, int]:
        return {
            "dropped_empty": self.dropped_empty,
            "repaired": self.repaired,
            "dropped_invalid": self.dropped_invalid,
        }


def clean_vector(
    gdf: gpd.GeoDataFrame,
    crs: CRS | str,
    repair: bool = True,
    columns: list[str] | None = None,
    rename: dict[str, str] | None = None,
    id_column: str | None = None,
    origin: str = "source",
    allow_empty: bool = False,
) -> tuple[gpd.GeoDataFrame, CleanReport]:
    """Reproject, select and rename columns, drop empty and repair invalid geometries.

    Parameters
    ----------
    gdf
        The input; must have a CRS.
    crs
        The target CRS.
    repair
        Repair invalid geometries with :func:`shapely.make_valid` (keeping the
        part of the input's dimension); when False, invalid rows are dropped.
    columns
        Columns to keep (default: all).
    rename
        Old name -> new name.
    id_column
        A column whose values must be unique and non-null.
    origin
        Named in error messages (the file or layer the data came from).
    allow_empty
        Return an empty frame rather than raise when every geometry was dropped
        (for one partition of a larger source, whose caller checks the whole).

    Returns
    -------
    The cleaned frame (index reset) and a :class:`CleanReport`.
    """
    if gdf.crs is None:
        raise ValidationError(f"{origin}: has no CRS")
    report = CleanReport()
    if columns is not None:
        missing = [c for c in columns if c not in gdf.columns]
        if missing:
            raise ValidationError(f"{origin}: no column(s) {', '.join(map(repr, missing))}")
        gdf = gdf[[*columns, gdf.geometry.name]]
    if rename:
        missing = [c for c in rename if c not in gdf.columns]
        if missing:
            raise ValidationError(f"{origin}: cannot rename missing column(s) {missing}")
        gdf = gdf.rename(columns=rename)
    geom = gdf.geometry.values
    empty = shapely.is_missing(geom) | shapely.is_empty(geom)
    report.dropped_empty = int(empty.sum())
    gdf = gdf[~empty]
    _check_lonlat(gdf, origin)
    # Project before repairing: validity is what the working CRS sees, and a coordinate
    # PROJ cannot project must be reported as such, not as an invalid geometry.
    gdf = gdf.to_crs(crs)
    _check_projected(gdf, crs, origin)
    geom = gdf.geometry.values
    invalid = ~shapely.is_valid(geom)
    if invalid.any():
        if repair:
            fixed = np.array(
                [_repair(g) for g in np.asarray(geom[invalid], dtype=object)], dtype=object
            )
            ok = ~(shapely.is_missing(fixed) | shapely.is_empty(fixed))
            report.repaired = int(ok.sum())
            report.dropped_invalid = int((~ok).sum())
            new = np.asarray(geom, dtype=object).copy()
            new[np.flatnonzero(invalid)] = fixed
            gdf = gdf.set_geometry(gpd.GeoSeries(new, index=gdf.index, crs=gdf.crs))
            gdf = gdf[~(shapely.is_missing(new) | shapely.is_empty(new))]
        else:
            report.dropped_invalid = int(invalid.sum())
            gdf = gdf[~invalid]
    if not allow_empty and len(gdf) == 0 and report.dropped_empty + report.dropped_invalid > 0:
        raise ValidationError(
            f"{origin}: no usable geometry ({report.dropped_empty} empty, "
            f"{report.dropped_invalid} invalid and unrepairable)"
        )
    gdf = gdf.reset_index(drop=True)
    if id_column is not None:
        check_unique_ids(gdf, id_column, origin)
    return gdf, report


def _check_lonlat(gdf: gpd.GeoDataFrame, origin: str) -> None:
    """Raise for longitudes/latitudes off the globe, with a hint when they are swapped.

    A latitude of 120 is a longitude in the wrong column far more often than
    anything else (Deqing's 119.97/30.54 read as y/x); say so, not "cannot project".
    """
    if gdf.crs is None or not gdf.crs.is_geographic or not len(gdf):
        return
    coords, index = shapely.get_coordinates(gdf.geometry.values, return_index=True)
    x, y = coords[:, 0], coords[:, 1]
    off = np.isfinite(coords).all(axis=1) & ((np.abs(x) > 180.0) | (np.abs(y) > 90.0))
    if not off.any():
        return
    row = gdf.index[int(index[np.flatnonzero(off)[0]])]
    rows = len(np.unique(index[off]))
    swapped = bool(((np.abs(y[off]) <= 180.0) & (np.abs(x[off]) <= 90.0)).all())
    hint = (
        "longitude and latitude look swapped: check the x/y columns"
        if swapped
        else "is the source's CRS right?"
    )
    raise ValidationError(
        f"{origin}: row {row}: coordinates ({x[off][0]:g}, {y[off][0]:g}) are not "
        f"longitude/latitude ({rows} row(s)); {hint}"
    )


def _check_projected(gdf: gpd.GeoDataFrame, crs: CRS | str, origin: str) -> None:
    """Raise unless every coordinate survived reprojection as a finite number.

    PROJ answers ``inf`` for points outside a CRS's domain (metres read as
    degrees, a wrong CRS, huge coordinates); the row and the CRS are what the
    user needs to see, not a GEOS error further down.
    """
    coords, index = shapely.get_coordinates(gdf.geometry.values, return_index=True)
    # Finite in the working CRS is not enough: the tiles are cut in longitude/latitude.
    to_lonlat = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    lon, lat = to_lonlat.transform(coords[:, 0], coords[:, 1])
    bad = ~(np.isfinite(coords).all(axis=1) & np.isfinite(lon) & (np.abs(lat) <= 90.0))
    if bad.any():
        row = gdf.index[int(index[np.flatnonzero(bad)[0]])]
        rows = len(np.unique(index[bad]))
        raise ValidationError(
            f"{origin}: row {row}: coordinates cannot be projected to {CRS.from_user_input(crs)} "
            f"({rows} row(s); is the source's CRS right?)"
        )


def _repair(geom: shapely.Geometry) -> shapely.Geometry | None:
    """Make ``geom`` valid, keeping only the parts of its own dimension."""
    try:
        fixed = shapely.make_valid(geom)
    except shapely.errors.GEOSException:
        # GEOS gives up on some degenerate inputs (e.g. coordinates near 1e300): unrepairable.
        return None
    dim = shapely.get_dimensions(geom)
    if fixed.geom_type != "GeometryCollection" and shapely.get_dimensions(fixed) != dim:
        return None  # a zero-area polygon repairs to a line: not a polygon any more
    if fixed.geom_type == "GeometryCollection":
        parts = [p for p in shapely.get_parts(fixed) if shapely.get_dimensions(p) == dim]
        if not parts:
            return None
        fixed = shapely.union_all(parts) if len(parts) > 1 else parts[0]
    return fixed


def check_unique_ids(gdf: pd.DataFrame, column: str, origin: str) -> None:
    """Raise :class:`ValidationError` unless ``column`` is present, non-null and unique."""
    if column not in gdf.columns:
        raise ValidationError(f"{origin}: no id column {column!r}")
    values = gdf[column]
    if values.isna().any():
        row = int(np.flatnonzero(values.isna().to_numpy())[0])
        raise ValidationError(f"{origin}: id column {column!r} is empty in row {row}")
    dup = values[values.duplicated()]
    if len(dup):
        raise ValidationError(
            f"{origin}: id column {column!r} has {len(dup)} duplicate value(s), "
            f"first {dup.iloc[0]!r}"
        )
