"""``twin validate``: check a workspace's sources and published artifacts."""

from __future__ import annotations

import pandas as pd
import pyogrio
import rasterio
from rasterio.errors import RasterioIOError

from twin.errors import ConfigError
from twin.workspace import Twin

RASTER_SUFFIXES = {".tif", ".tiff", ".vrt", ".img", ".asc", ".nc", ".jp2"}
TABLE_SUFFIXES = {".csv", ".tsv", ".txt"}


def validate_workspace(twin: Twin) -> list[str]:
    """Every problem found, one line each (empty when all is well).

    ``Twin.open`` has already checked ``twin.toml`` (keys, files, builders,
    inputs, parameters, cycles); this checks the working CRS fits the region
    (:meth:`Twin.check_crs`), opens each source and each published artifact.
    """
    problems: list[str] = []
    try:
        twin.check_crs()
    except ConfigError as exc:
        problems.append(str(exc))
    for name in twin.config.sources:
        path = twin.source_path(name)
        problem = _open_source(path)
        if problem:
            problems.append(f"sources.{name}: {path}: {problem}")
    try:
        catalog = twin.catalog
    except Exception as exc:  # a broken catalog is itself the finding
        return [*problems, str(exc)]
    for layer, entry in catalog.layers.items():
        for key, rel in entry.artifacts.items():
            path = twin.build_dir / rel
            if not path.exists():
                problems.append(f"layer {layer}: artifact {key} missing at {path}")
    return problems


def _open_source(path: object) -> str | None:
    from pathlib import Path

    p = Path(str(path))
    suffix = p.suffix.lower()
    try:
        if suffix in TABLE_SUFFIXES:
            pd.read_csv(p, nrows=5, sep="\t" if suffix == ".tsv" else ",")
        elif suffix in RASTER_SUFFIXES:
            with rasterio.open(p):
                pass
        elif suffix == ".pbf":
            with p.open("rb") as fh:
                if len(fh.read(16)) < 16:
                    return "too short to be an OSM PBF"
        else:
            pyogrio.read_info(p)
    except (RasterioIOError, pyogrio.errors.DataSourceError, OSError, ValueError) as exc:
        text = str(exc).strip().splitlines()
        return text[0] if text else type(exc).__name__
    return None
