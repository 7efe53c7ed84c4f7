"""Write, read back and describe layer artifacts (GeoParquet and COG).

Every artifact is checked before it can be published (STYLE 6): the output
of a builder is validated in memory, written, then opened again and compared
with what was meant to be written.
"""

from __future__ import annotations

import errno
import json
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import shapely
from pyproj import CRS, Transformer

from layers.crs import same_crs
from layers.types import RasterData, valid_pixels
from tiles.catalog import Band
from tiles.errors import ArtifactError
from tiles.pmtiles import PMTilesReader

if TYPE_CHECKING:  # pandas and geopandas load where a frame is handled: checking a file,
    # as `twin export` does, needs neither (some 0.25 s of start-up)
    import geopandas as gpd
    import pandas as pd

#: Key of the project's own entry in GeoParquet schema metadata and GeoTIFF tags.
METADATA_KEY = "twin"
WGS84 = CRS.from_epsg(4326)

#: catalog field types of pandas dtypes: the first ``pandas.api.types`` test a dtype passes
_FIELD_TYPES = (
    ("is_bool_dtype", "bool"),
    ("is_integer_dtype", "int"),
    ("is_float_dtype", "float"),
    ("is_datetime64_any_dtype", "datetime"),
)


class ArtifactCheckError(Exception):
    """An output breaks a rule; the build reports it against the layer."""


#: Why an empty vector layer cannot be published: a layer without features has no extent.
NO_FEATURES = "the layer has no features (nothing to publish; the previous version stays)"


def check_vector(gdf: gpd.GeoDataFrame, empty_ok: bool = False) -> None:
    """Raise :class:`ArtifactCheckError` unless ``gdf`` can be published.

    ``empty_ok``: ``gdf`` is one partition of a layer, which may hold no rows
    (the layer's count is checked as a whole).
    """
    import geopandas as gpd

    if not isinstance(gdf, gpd.GeoDataFrame):
        raise ArtifactCheckError(f"expected a GeoDataFrame, got {type(gdf).__name__}")
    if gdf.crs is None:
        raise ArtifactCheckError("the output has no CRS")
    if len(gdf) == 0 and not empty_ok:
        raise ArtifactCheckError(NO_FEATURES)
    geom = gdf.geometry.values
    missing = shapely.is_missing(geom) | shapely.is_empty(geom)
    if missing.any():
        raise ArtifactCheckError(
            f"{int(missing.sum())} empty or missing geometries (first at row {_first(missing)})"
        )
    invalid = ~shapely.is_valid(geom)
    if invalid.any():
        row = _first(invalid)
        reason = shapely.is_valid_reason(geom[row])
        raise ArtifactCheckError(f"{int(invalid.sum())} invalid geometries (row {row}: {reason})")
    if not np.isfinite(shapely.bounds(geom)).all():
        raise ArtifactCheckError("geometries with non-finite coordinates")
    bad_names = [c for c in gdf.columns if not isinstance(c, str)]
    if bad_names:
        raise ArtifactCheckError(f"column names must be strings: {bad_names}")
    if gdf.columns.duplicated().any():
        raise ArtifactCheckError("duplicate column names")
    if "bbox" in gdf.columns:
        raise ArtifactCheckError("column name 'bbox' is reserved for GeoParquet's bbox covering")


def check_raster(raster: RasterData) -> None:
    """Raise :class:`ArtifactCheckError` unless ``raster`` can be published."""
    if raster.crs is None:
        raise ArtifactCheckError("the raster has no CRS")
    if raster.width == 0 or raster.height == 0:
        raise ArtifactCheckError("the raster is empty")
    if not any(valid.any() for _, valid in _strips(raster)):
        raise ArtifactCheckError("the raster holds no valid pixel")


#: pixels of a raster read or written at once (so a disk-backed raster is never whole in memory)
STRIP_PIXELS = 1 << 20


def _row_strips(height: int, width: int) -> Iterator[slice]:
    step = max(1, STRIP_PIXELS // max(1, width))
    for r0 in range(0, height, step):
        yield slice(r0, min(r0 + step, height))


def _strips(raster: RasterData) -> Iterator[tuple[slice, np.ndarray]]:
    """``(rows, valid)`` for each strip of rows: the strip's valid-pixel mask (all bands)."""
    for rows in _row_strips(raster.height, raster.width):
        yield rows, valid_pixels(raster.data[:, rows], raster.nodata)


def _first(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def write_vector(gdf: gpd.GeoDataFrame, path: Path, metadata: dict[str, Any]) -> None:
    """Write ``gdf`` as GeoParquet 1.1 (WKB, bbox covering) with the project's metadata.

    The ``geo`` metadata is composed here from the GeoParquet 1.1 specification
    rather than through geopandas, so that the project's own key can travel in
    the same schema metadata and the bbox covering columns are always written
    (readers use them to skip row groups outside a tile).
    """
    table = vector_table(gdf)
    meta = geo_metadata(
        gdf.geometry.name,
        set(gdf.geom_type.unique().tolist()),
        CRS.from_user_input(gdf.crs),
        [float(v) for v in gdf.total_bounds],
        metadata,
    )
    table = table.replace_schema_metadata(meta)
    pq.write_table(table, path, compression="zstd", row_group_size=65536)
    fsync_file(path)


def vector_table(gdf: gpd.GeoDataFrame, empty_ok: bool = False) -> pa.Table:
    """``gdf`` checked and laid out as its GeoParquet rows: WKB and bbox columns, no metadata.

    ``empty_ok`` as for :func:`check_vector`.
    """
    import pandas as pd

    check_vector(gdf, empty_ok=empty_ok)
    geom_col = gdf.geometry.name
    geoms = np.asarray(gdf.geometry.values)
    bounds = shapely.bounds(geoms)
    table = pa.Table.from_pandas(pd.DataFrame(gdf.drop(columns=[geom_col])), preserve_index=False)
    # The geometry keeps its place among the columns, so the file reads back as written.
    position = list(gdf.columns).index(geom_col)
    table = table.add_column(position, geom_col, pa.array(shapely.to_wkb(geoms), pa.binary()))
    bbox = pa.StructArray.from_arrays(
        [pa.array(bounds[:, i], pa.float64()) for i in range(4)],
        names=["xmin", "ymin", "xmax", "ymax"],
    )
    return table.append_column("bbox", bbox).replace_schema_metadata(None)


def geo_metadata(
    geom_col: str,
    geometry_types: set[str],
    crs: CRS,
    bbox: list[float],
    metadata: dict[str, Any],
) -> dict[bytes, bytes]:
    """The schema metadata of a layer's GeoParquet: ``geo`` (1.1) and the project's key."""
    geo = {
        "version": "1.1.0",
        "primary_column": geom_col,
        "columns": {
            geom_col: {
                "encoding": "WKB",
                "geometry_types": sorted(geometry_types),
                "crs": crs.to_json_dict(),
                "bbox": bbox,
                "covering": {"bbox": {k: ["bbox", k] for k in ("xmin", "ymin", "xmax", "ymax")}},
            }
        },
    }
    return {
        b"geo": json.dumps(geo).encode(),
        METADATA_KEY.encode(): json.dumps(metadata, sort_keys=True).encode(),
    }


def write_table(df: pd.DataFrame, path: Path, metadata: dict[str, Any]) -> None:
    """Write an attribute table that belongs with a layer as Parquet (no geometry).

    The project's metadata says which table it is (``"table": <key>``), so
    :func:`check_file` knows it holds no geometry by design.
    """
    table = pa.Table.from_pandas(df, preserve_index=False)
    meta = {METADATA_KEY.encode(): json.dumps(metadata, sort_keys=True).encode()}
    pq.write_table(table.replace_schema_metadata(meta), path, compression="zstd")
    fsync_file(path)


def verify_table(path: Path, expected: pd.DataFrame) -> None:
    """Open the written table and check it holds the rows and columns written."""
    back = pq.read_table(path)
    if back.num_rows != len(expected) or back.column_names != [str(c) for c in expected.columns]:
        raise ArtifactCheckError(
            f"{path.name}: read back {back.num_rows} rows of {back.column_names}, "
            f"wrote {len(expected)} of {list(expected.columns)}"
        )


def read_vector_metadata(path: Path) -> dict[str, Any]:
    """The project's metadata stored in a GeoParquet artifact."""
    meta = pq.read_schema(path).metadata or {}
    raw = meta.get(METADATA_KEY.encode())
    return json.loads(raw) if raw else {}


def write_raster(raster: RasterData, path: Path, metadata: dict[str, Any]) -> None:
    """Write ``raster`` as a Cloud-Optimized GeoTIFF with overviews and nodata.

    The pixels go strip by strip into a tiled GeoTIFF next to ``path``, which
    GDAL then copies into the COG (overviews included) through its block
    cache: neither step holds the whole raster in memory, so ``raster.data``
    may be a disk-backed array larger than memory.
    """
    import rasterio.shutil
    from rasterio.windows import Window

    check_raster(raster)
    data = raster.data
    integer = np.issubdtype(data.dtype, np.integer)
    stage = path.with_name(f".{path.name}.stage")
    tags = {k: str(v) for k, v in raster.tags.items()}
    tags[METADATA_KEY.upper()] = json.dumps(metadata, sort_keys=True)
    try:
        with rasterio.open(
            stage,
            "w",
            driver="GTiff",
            width=raster.width,
            height=raster.height,
            count=raster.count,
            dtype=str(data.dtype),
            crs=raster.crs,
            transform=raster.transform,
            nodata=raster.nodata,
            tiled=True,
            blockxsize=512,
            blockysize=512,
            bigtiff="if_safer",
        ) as dst:
            for rows in _row_strips(raster.height, raster.width):
                dst.write(
                    data[:, rows],
                    window=Window(0, rows.start, raster.width, rows.stop - rows.start),
                )
            dst.update_tags(**tags)
            for i, (name, unit) in enumerate(zip(raster.band_names, raster.units, strict=True), 1):
                dst.set_band_description(i, name)
                if unit:
                    dst.set_band_unit(i, unit)
        rasterio.shutil.copy(
            stage,
            path,
            driver="COG",
            compress="deflate",
            predictor=2 if integer else 3,
            blocksize=512,
            # Categories (serving cell ids) must not be averaged into values that mean nothing.
            overview_resampling="nearest" if integer else "average",
            bigtiff="if_safer",
        )
    except _gdal_errors() as exc:
        raise _write_error(path, data.nbytes, exc) from None
    finally:
        stage.unlink(missing_ok=True)
    fsync_file(path)


#: Web Mercator's latitude limit: a raster reaching beyond it gets no Web Mercator copy
MERCATOR_MAX_LAT = 85.0511287798
#: GDAL resampling names a style's ``resampling`` hint may give
RESAMPLING = ("nearest", "bilinear", "cubic", "average", "mode")


def tile_resampling(dtype: str, style: dict[str, Any]) -> str:
    """How to resample a raster's pixels onto a tile grid: the style's hint, else by type.

    Integer rasters are categories (serving cell ids, land-use classes) whose
    neighbours must not be blended into values that mean nothing: ``nearest``.
    Floating rasters are continuous (heights, signal levels): ``bilinear``.
    """
    hint = style.get("resampling")
    if hint is not None:
        if hint not in RESAMPLING:
            raise ArtifactCheckError(
                f"style resampling {hint!r} is not one of {', '.join(RESAMPLING)}"
            )
        return str(hint)
    return "nearest" if np.issubdtype(np.dtype(dtype), np.integer) else "bilinear"


def write_webmercator(source: Path, path: Path, resampling: str) -> None:
    """Copy the COG at ``source`` into a COG in EPSG:3857 on the WebMercatorQuad grid.

    The copy's pixels are the grid's pixels at the first zoom at least as fine
    as the source, and each overview is the next zoom out, so the tile server
    reads a WebMercatorQuad tile as a window of one level without reprojecting
    (GDAL's ``TILING_SCHEME=GoogleMapsCompatible``). Values are the source's
    resampled with ``resampling`` (nearest keeps categories), nodata is the
    source's, and the project's tags travel with it. Like :func:`write_raster`,
    GDAL warps through its block cache: the raster is never whole in memory.
    """
    import rasterio.shutil

    with rasterio.open(source) as src:
        dtype, nbytes = src.dtypes[0], src.count * src.width * src.height * 8
    integer = np.issubdtype(np.dtype(dtype), np.integer)
    try:
        rasterio.shutil.copy(
            source,
            path,
            driver="COG",
            tiling_scheme="GoogleMapsCompatible",
            zoom_level_strategy="upper",
            resampling=resampling,
            overview_resampling="nearest" if resampling in ("nearest", "mode") else "average",
            compress="deflate",
            predictor=2 if integer else 3,
            bigtiff="if_safer",
        )
    except _gdal_errors() as exc:
        raise _write_error(path, nbytes, exc) from None
    fsync_file(path)


def verify_webmercator(path: Path, source: Path) -> None:
    """Open the written Web Mercator copy and check it holds the source's bands and extent."""
    import rasterio

    with rasterio.open(source) as src, rasterio.open(path) as dst:
        if dst.crs is None or dst.crs.to_epsg() != 3857:
            raise ArtifactCheckError(f"{path.name}: not in EPSG:3857")
        # GDAL adds an alpha band to a source without nodata, to mark the pixels outside it
        alpha = 1 if src.nodata is None else 0
        if dst.count != src.count + alpha or dst.dtypes[0] != src.dtypes[0]:
            raise ArtifactCheckError(f"{path.name}: bands or data type changed in the copy")
        same_nodata = dst.nodata == src.nodata or (
            src.nodata is not None and math.isnan(src.nodata) and math.isnan(dst.nodata or 0.0)
        )
        if not same_nodata:
            raise ArtifactCheckError(f"{path.name}: nodata {dst.nodata}, the source's {src.nodata}")
        tr = Transformer.from_crs(src.crs, dst.crs, always_xy=True)
        sb = src.bounds
        left, bottom, right, top = tr.transform_bounds(
            sb.left, sb.bottom, sb.right, sb.top, densify_pts=21
        )
        b, slack = dst.bounds, abs(dst.res[0])
        if not (
            b.left <= left + slack
            and b.bottom <= bottom + slack
            and b.right >= right - slack
            and b.top >= top - slack
        ):
            raise ArtifactCheckError(f"{path.name}: does not cover the source's extent")
        for i in range(1, dst.count + 1):
            dst.checksum(i)


def _write_error(path: Path, size: int, exc: Exception) -> OSError:
    """GDAL's failed write as the OSError it was: libtiff reports a full disk as
    "Write error at scanline N" and keeps the errno to itself."""
    try:
        st = os.statvfs(path.parent)
        full = st.f_bavail * st.f_frsize < size
    except OSError:
        full = False
    if full:
        return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return OSError(errno.EIO, f"cannot write the GeoTIFF: {first}", str(path))


def read_raster_metadata(path: Path) -> dict[str, Any]:
    """The project's metadata stored in a COG artifact."""
    import rasterio

    with rasterio.open(path) as src:
        raw = src.tags().get(METADATA_KEY.upper())
    return json.loads(raw) if raw else {}


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def verify_vector(path: Path, expected: gpd.GeoDataFrame) -> None:
    """Open the written GeoParquet and check it holds what was written."""
    import geopandas as gpd

    back = gpd.read_parquet(path)
    if len(back) != len(expected):
        raise ArtifactCheckError(f"{path}: read back {len(back)} rows, wrote {len(expected)}")
    if back.crs is None or not same_crs(back.crs, expected.crs):
        raise ArtifactCheckError(f"{path}: CRS did not survive the round trip")
    if list(back.columns) != list(expected.columns):
        raise ArtifactCheckError(
            f"{path}: columns changed on the round trip: wrote {list(expected.columns)}, "
            f"read {list(back.columns)}"
        )


def verify_raster(path: Path, expected: RasterData) -> None:
    """Open the written COG and check shape, CRS, nodata and overviews."""
    import rasterio

    with rasterio.open(path) as src:
        if (src.count, src.height, src.width) != expected.data.shape:
            raise ArtifactCheckError(f"{path}: shape changed on the round trip")
        if src.crs is None or not same_crs(src.crs, expected.crs):
            raise ArtifactCheckError(f"{path}: CRS did not survive the round trip")
        if max(src.width, src.height) > 1024 and not src.overviews(1):
            raise ArtifactCheckError(f"{path}: has no overviews")
        # A checksum per band proves every block decodes.
        for i in range(1, src.count + 1):
            src.checksum(i)


#: bytes of pixels :func:`check_raster_file` decodes per read (a row of blocks, or part of one)
CHECK_BYTES = 32 << 20


def check_file(path: Path) -> None:
    """Read every byte of a published artifact that a reader may need, by its suffix.

    GeoParquet: every row group, geometries decoded (:func:`check_vector_file`);
    COG: every block of every band and overview (:func:`check_raster_file`);
    PMTiles: every directory (:meth:`tiles.pmtiles.PMTilesReader.check`).

    Raises
    ------
    ArtifactCheckError
        Saying what cannot be read, without the path (the caller names it).
    """
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        check_vector_file(path)
    elif suffix in (".tif", ".tiff"):
        check_raster_file(path)
    elif suffix == ".pmtiles":
        try:
            reader = PMTilesReader(str(path))
            try:
                reader.check()
            finally:
                reader.close()
        except ArtifactError as exc:
            raise ArtifactCheckError(str(exc).removeprefix(f"{path}: ")) from None
    elif not path.is_file():
        raise ArtifactCheckError("not a file")


def check_vector_file(path: Path) -> None:
    """Read every row group of a GeoParquet file and decode every geometry.

    One row group is in memory at a time.
    """
    try:
        pf = pq.ParquetFile(path)
    except (OSError, pa.ArrowException) as exc:
        raise ArtifactCheckError(f"not a readable Parquet file: {_one_line(exc)}") from None
    with pf:
        raw = (pf.schema_arrow.metadata or {}).get(b"geo")
        try:
            column = json.loads(raw)["primary_column"] if raw else None
        except (ValueError, KeyError, TypeError):
            raise ArtifactCheckError("the GeoParquet 'geo' metadata is not valid") from None
        ours = (pf.schema_arrow.metadata or {}).get(METADATA_KEY.encode())
        if raw is None and ours and "table" in json.loads(ours):
            column = None  # a layer's attribute table (write_table): no geometry by design
        elif column is None or column not in pf.schema_arrow.names:
            raise ArtifactCheckError("no GeoParquet geometry column")
        groups, rows = pf.num_row_groups, 0
        for i in range(groups):
            try:
                table = pf.read_row_group(i)
                if column is not None:
                    # to_pylist: pyarrow's to_numpy converts through pandas (loads it)
                    wkb = np.empty(table.num_rows, dtype=object)
                    wkb[:] = table.column(column).to_pylist()
                    shapely.from_wkb(wkb)
            except (OSError, pa.ArrowException, shapely.errors.GEOSException, ValueError) as exc:
                raise ArtifactCheckError(
                    f"row group {i} of {groups} cannot be read: {_one_line(exc)}"
                ) from None
            rows += table.num_rows
        if rows != pf.metadata.num_rows:
            raise ArtifactCheckError(f"{rows} rows read, the footer says {pf.metadata.num_rows}")


def check_raster_file(path: Path) -> None:
    """Decode every block of every band of a GeoTIFF, at full resolution and each overview.

    Blocks are read a row of blocks at a time (at most :data:`CHECK_BYTES`),
    each row through its own dataset: closing it frees the blocks GDAL
    cached, so memory stays at about one row of blocks whatever the raster's
    size and ``GDAL_CACHEMAX``. A read that fails is retried block by block to
    name the blocks that cannot be decoded, and every level is read, so the
    error counts every bad block, not just the first.
    """
    import rasterio

    try:
        with rasterio.open(path) as src:
            overviews = len(src.overviews(1))
    except _gdal_errors() as exc:
        raise ArtifactCheckError(f"not a readable GeoTIFF: {_one_line(exc)}") from None
    bad: list[str] = []
    for level in [None, *range(overviews)]:
        where = "" if level is None else f" of overview {level + 1}"
        kwargs = {} if level is None else {"overview_level": level}
        try:
            bad += [f"block {b}{where}: {why}" for b, why in _bad_blocks(path, kwargs)]
        except _gdal_errors() as exc:
            bad.append(f"level{where or ' 0'} cannot be opened: {_one_line(exc)}")
    if bad:
        more = f" (and {len(bad) - 1} more bad blocks)" if len(bad) > 1 else ""
        first, _, why = bad[0].partition(": ")
        raise ArtifactCheckError(f"{first} cannot be read: {why}{more}")


def _bad_blocks(path: Path, kwargs: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """``("(row r, col c)", reason)`` for each block of one level that cannot be decoded."""
    import rasterio
    from rasterio.windows import Window

    with rasterio.open(path, **kwargs) as src:
        (bh, bw), height, width = src.block_shapes[0], src.height, src.width
        per_block = bh * bw * src.count * np.dtype(src.dtypes[0]).itemsize
    span = max(1, CHECK_BYTES // max(1, per_block)) * bw  # columns read at once
    for r0 in range(0, height, bh):
        h = min(bh, height - r0)
        with rasterio.open(path, **kwargs) as src:
            for c0 in range(0, width, span):
                window = Window(c0, r0, min(span, width - c0), h)
                try:
                    src.read(window=window)
                    continue
                except _gdal_errors():
                    pass
                for c in range(c0, c0 + window.width, bw):
                    try:
                        src.read(window=Window(c, r0, min(bw, width - c), h))
                    except _gdal_errors() as exc:
                        yield f"(row {r0 // bh}, col {c // bw})", _one_line(exc)


def _gdal_errors() -> tuple[type[Exception], ...]:
    """rasterio's errors and GDAL's (imported when a raster is touched: a vector export
    does without rasterio and its start-up)."""
    from rasterio._err import CPLE_BaseError  # rasterio exports no public base of GDAL's errors
    from rasterio.errors import RasterioError

    return (RasterioError, CPLE_BaseError)


def _one_line(exc: BaseException) -> str:
    """The first line of what went wrong; rasterio's "see previous exception" is GDAL's error."""
    while exc.__cause__ is not None and "previous exception" in str(exc):
        exc = exc.__cause__
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def wgs84_bounds(bounds: tuple[float, float, float, float], crs: CRS) -> tuple[float, ...]:
    """``bounds`` in ``crs`` transformed to WGS84 (densified edges), rounded to 1e-7 degrees."""
    if same_crs(crs, WGS84):
        west, south, east, north = bounds
    else:
        tr = Transformer.from_crs(crs, WGS84, always_xy=True)
        west, south, east, north = tr.transform_bounds(*bounds, densify_pts=21)
    return (
        max(-180.0, round(west, 7)),
        max(-90.0, round(south, 7)),
        min(180.0, round(east, 7)),
        min(90.0, round(north, 7)),
    )


def field_types(df: pd.DataFrame) -> dict[str, str]:
    """Column name -> catalog field type, for every non-geometry column."""
    import pandas as pd
    from geopandas.array import GeometryDtype

    out: dict[str, str] = {}
    for name, dtype in df.dtypes.items():
        if isinstance(dtype, GeometryDtype):
            continue
        tests = ((getattr(pd.api.types, test), t) for test, t in _FIELD_TYPES)
        kind = next((t for test, t in tests if test(dtype)), "string")
        out[str(name)] = kind
    return out


def geometry_type(gdf: gpd.GeoDataFrame) -> str:
    """The layer's geometry type; mixed single/multi parts report the multi type."""
    return geometry_type_of(set(gdf.geom_type.unique()))


def geometry_type_of(kinds: set[str]) -> str:
    """The geometry type of a layer holding geometries of ``kinds``."""
    if len(kinds) == 1:
        return kinds.pop()
    bases = {k.removeprefix("Multi") for k in kinds}
    if len(bases) == 1:
        return "Multi" + bases.pop()
    return "Geometry"


def describe_vector(gdf: gpd.GeoDataFrame) -> dict[str, Any]:
    """The catalog fields of a vector layer: bounds, fields, geometry type, count."""
    crs = CRS.from_user_input(gdf.crs)
    return {
        "crs": crs.to_string(),
        "bounds": wgs84_bounds(tuple(gdf.total_bounds), crs),
        "fields": field_types(gdf),
        "geometry_type": geometry_type(gdf),
        "count": len(gdf),
    }


def describe_raster(raster: RasterData) -> dict[str, Any]:
    """The catalog fields of a raster layer: bounds, bands with statistics, resolution."""
    n = raster.count
    lo, hi = np.full(n, np.inf), np.full(n, -np.inf)
    total, counts = np.zeros(n), np.zeros(n, dtype=np.int64)
    first_band_valid = 0
    for rows, valid in _strips(raster):
        first_band_valid += int(valid[0].sum())
        for i in range(n):
            values = raster.data[i, rows][valid[i]]
            if values.size:
                lo[i] = min(lo[i], float(values.min()))
                hi[i] = max(hi[i], float(values.max()))
                total[i] += float(values.sum(dtype=np.float64))
                counts[i] += values.size
    bands = []
    for i in range(n):
        stats: dict[str, float | None] = {"min": None, "max": None, "mean": None}
        if counts[i]:
            stats = {
                "min": float(lo[i]),
                "max": float(hi[i]),
                "mean": round(float(total[i] / counts[i]), 6),
            }
        nodata = raster.nodata
        bands.append(
            Band(
                name=raster.band_names[i],
                dtype=str(raster.data.dtype),
                nodata=None if nodata is None or math.isnan(nodata) else float(nodata),
                unit=raster.units[i],
                **stats,
            )
        )
    return {
        "crs": raster.crs.to_string(),
        "bounds": wgs84_bounds(raster.bounds, raster.crs),
        "bands": bands,
        "count": first_band_valid,
        "resolution": float(raster.resolution[0]),
        "width": raster.width,
        "height": raster.height,
    }


def raster_zooms(resolution_m: float, width: int, height: int, lat: float) -> tuple[int, int]:
    """Web Mercator zooms at which a raster is worth showing.

    The max zoom is the first whose 256-pixel tiles are at least as fine as
    the raster's pixels at latitude ``lat``; the min zoom shows the whole
    raster in about one tile.
    """
    ground = 2 * math.pi * 6378137.0 * math.cos(math.radians(lat)) / 256
    maxzoom = max(0, math.ceil(math.log2(ground / resolution_m)))
    minzoom = max(0, maxzoom - math.ceil(math.log2(max(width, height) / 256)))
    return min(minzoom, maxzoom), min(maxzoom, 24)
