"""``twin validate``: check a workspace's sources and published artifacts."""

from __future__ import annotations

import warnings
from pathlib import Path

import pyarrow.parquet as pq
import pyogrio
import rasterio
from rasterio.errors import RasterioIOError

from layers.errors import LayerError, SourceWarning
from layers.imagery import SheetSource, plan_sheets
from layers.sources import expand, is_glob
from layers.tables import EXCEL_SUFFIXES, has_point_columns
from layers.vector import read_table, read_vector
from tiles.catalog import MOSAIC_ARTIFACT
from twin.artifacts import ArtifactCheckError, check_file
from twin.builders.context import shifted_raster
from twin.config import SourceConfig
from twin.errors import ConfigError
from twin.workspace import Twin

RASTER_SUFFIXES = {".tif", ".tiff", ".vrt", ".img", ".asc", ".nc", ".jp2"}
TABLE_SUFFIXES = {".csv", ".tsv", ".txt"}


def validate_workspace(twin: Twin) -> list[str]:
    """Every problem found, one line each (empty when all is well).

    ``Twin.open`` has already checked ``twin.toml`` (keys, files, builders,
    inputs, parameters, cycles); this checks the working CRS fits the region
    (:meth:`Twin.check_crs`), opens each source and reads every byte of each
    published artifact (:func:`twin.artifacts.check_file`), the sheets of a
    mosaic's index included.
    """
    problems: list[str] = []
    try:
        twin.check_crs()
    except ConfigError as exc:
        problems.append(str(exc))
    columns: dict[str, list[str]] = {}
    sheets = {
        ref
        for layer in twin.config.layers.values()
        if layer.builder == "imagery"
        for ref in layer.inputs.values()
    }
    for name, source in twin.config.sources.items():
        if name in sheets:  # a folder or glob of orthophoto sheets: every header checked
            try:
                plan_sheets([SheetSource(str(twin.source_path(name)), source.crs)])
            except LayerError as exc:
                problems.append(f"sources.{name}: {exc}")
            continue
        problem, found = _open_source(twin.source_path(name), source, name)
        if problem:
            problems.append(f"sources.{name}: {problem}")
        elif found is not None:
            columns[name] = found
    problems += _layer_columns(twin, columns)
    try:
        catalog = twin.catalog
    except Exception as exc:  # a broken catalog is itself the finding
        return [*problems, str(exc)]
    for layer, entry in catalog.layers.items():
        for key, rel in entry.artifacts.items():
            path = twin.build_dir / rel
            if not path.exists():
                problems.append(f"layer {layer}: artifact {key} missing at {path}")
                continue
            try:
                check_file(path)  # every row group, block, overview and directory
            except ArtifactCheckError as exc:
                problems.append(f"layer {layer}: {_shown(path, twin.root)}: {exc}")
                continue
            if key == MOSAIC_ARTIFACT:
                problems += _sheet_problems(layer, path, twin.root)
    return problems


def _sheet_problems(layer: str, index: Path, root: Path) -> list[str]:
    """A line for each sheet of a mosaic's index that is missing or cannot be decoded."""
    problems = []
    for rel in pq.read_table(index, columns=["file"]).column("file").to_pylist():
        sheet = index.parent / rel
        if not sheet.is_file():
            problems.append(f"layer {layer}: sheet missing at {_shown(sheet, root)}")
            continue
        try:
            check_file(sheet)
        except ArtifactCheckError as exc:
            problems.append(f"layer {layer}: {_shown(sheet, root)}: {exc}")
    return problems


def _shown(path: Path, root: Path) -> str:
    """``path`` as the user knows it: relative to the workspace when inside it."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def _open_source(
    path: Path, source: SourceConfig, name: str
) -> tuple[str | None, list[str] | None]:
    """The problem opening a source (None: it opens) and its columns (None: not a table).

    Vector sources and tables are opened by the readers a build uses, with the
    source's encoding, crs, x/y and layer, so validate and build say the same.
    """
    suffix = path.suffix.lower()
    try:
        if suffix in RASTER_SUFFIXES:
            refused = shifted_raster(name, source.crs)
            if refused:
                return refused.removeprefix(f"sources.{name}: "), None
            for file in expand(path):  # one file, or every tile a glob names
                with rasterio.open(file):
                    pass
            return None, None
        if suffix == ".pbf":
            with path.open("rb") as fh:
                if len(fh.read(16)) < 16:
                    return f"{path}: too short to be an OSM PBF", None
            return None, None
        with warnings.catch_warnings():
            warnings.simplefilter(
                "ignore", SourceWarning
            )  # a guess is a build warning, not a fault
            return None, _source_columns(path, source)
    except LayerError as exc:
        return str(exc), None
    except (RasterioIOError, pyogrio.errors.DataSourceError, OSError, ValueError) as exc:
        text = str(exc).strip().splitlines()
        return f"{path}: {text[0] if text else type(exc).__name__}", None


def _source_columns(path: Path, source: SourceConfig) -> list[str]:
    """The columns a build sees in ``source`` (coordinates taken out of a point table)."""
    how = {"layer": source.layer, "encoding": source.encoding}
    point = {"crs": source.crs, "x": source.x, "y": source.y}
    if is_glob(path):  # tables one file per period: each file opens, the first has the columns
        files = expand(path)
        for file in files[1:]:
            read_table(file, **how)
        path = files[0]
    suffix = path.suffix.lower()
    if suffix in TABLE_SUFFIXES or suffix in EXCEL_SUFFIXES:
        table = read_table(path, **how)
        if source.x is None and source.y is None and not has_point_columns(table):
            return [str(c) for c in table.columns]  # an attribute table, not points
    elif pyogrio.read_info(path, layer=source.layer).get("geometry_type") is None:
        return [str(c) for c in read_table(path, **how).columns]
    gdf = read_vector(path, rows=(0, 1), **how, **point)
    return [str(c) for c in gdf.columns if c != gdf.geometry.name]


def _layer_columns(twin: Twin, columns: dict[str, list[str]]) -> list[str]:
    """A line for each column a ``vector`` layer names that its source does not have."""
    problems = []
    for name, layer in twin.config.layers.items():
        ref = layer.inputs.get("source")
        if layer.builder != "vector" or ref not in columns:
            continue
        have = columns[ref]
        params = layer.params
        wanted = [("columns", c) for c in params.get("columns") or []]
        wanted += [("rename", c) for c in params.get("rename") or {}]
        for key, col in wanted:
            if col not in have:
                problems.append(f"layers.{name}.params.{key}: source {ref!r} has no column {col!r}")
        kept = params.get("columns") or have
        renamed = [params.get("rename", {}).get(c, c) for c in kept]
        if params.get("id") is not None and params["id"] not in renamed:
            problems.append(
                f"layers.{name}.params.id: source {ref!r} has no column {params['id']!r}"
            )
    return problems
