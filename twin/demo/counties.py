"""A provincial-scale synthetic workload: ``n`` demo counties side by side in one workspace.

Each county is the ordinary demo county (:func:`twin.demo.generate_sources`)
drawn with seed ``seed + k`` and moved ``k`` places along a grid of counties
(in the working CRS, by whole multiples of 100 m so the DEMs stay aligned).
Ids stay unique: codes starting with the demo county's code ``330521`` take
``330521 + k`` instead, every other id gets a ``K<k>-`` prefix, OSM ids an
offset of ``k`` x 10^8. County 0 is exactly the single demo county, so
``n = 1`` writes the same files as :func:`twin.demo.generate_sources`.
"""

from __future__ import annotations

import math
import shutil
import tempfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import osmium
import pandas as pd
import pyogrio
import rasterio
from osmium.osm.mutable import Node, Way
from pyproj import Transformer

from twin.demo._io import write_csv, write_dem, write_gpkg
from twin.demo._names import COUNTY_CODE
from twin.demo._shapes import TO_WORK, WORK_CRS
from twin.demo._terrain import NODATA, Grid
from twin.demo.generate import DEFAULT_SEED, SOURCE_FILES, generate_sources
from twin.errors import TwinError

#: gap between neighbouring counties' DEM frames, m
GAP_M = 2_000.0
OSM_ID_STEP = 100_000_000
MAX_COUNTIES = 99
_ID_COLUMNS = (
    "site_id",
    "cell_id",
    "enterprise_id",
    "facility_id",
    "water_id",
    "landcover_id",
    "building_id",
)
_CODE_COLUMNS = ("county_code", "town_code", "village_code")


def generate_counties(
    root: Path,
    n: int,
    *,
    seed: int = DEFAULT_SEED,
    resolution: float = 20.0,
    imagery: bool = False,
) -> dict[str, Path]:
    """Write the sources of ``n`` demo counties, side by side, under ``root / "sources"``.

    Parameters
    ----------
    root
        The workspace directory (created if missing).
    n
        Number of counties, 1-99 (a province like Zhejiang has about 90).
    seed
        County ``k`` is drawn with ``seed + k``.
    resolution
        DEM pixel size in metres.
    imagery
        The orthophoto of :func:`twin.demo.generate_sources`: one county only (``n`` = 1);
        several counties side by side are drawn without it.

    Returns
    -------
    dict[str, Path]
        Source name -> file path, as :func:`twin.demo.generate_sources`.
    """
    if not 1 <= n <= MAX_COUNTIES:
        raise TwinError(f"counties must be 1-{MAX_COUNTIES}, got {n}")
    if n == 1:
        return generate_sources(root, seed=seed, resolution=resolution, imagery=imagery)
    out = Path(root) / "sources"
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".counties-", dir=root) as tmp:
        parts = []
        for k in range(n):
            part = Path(tmp) / f"c{k}"
            generate_sources(part, seed=seed + k, resolution=resolution)
            parts.append(part / "sources")
        offsets = _layout(parts, n)
        _merge_vectors(parts, offsets, out, n)
        _merge_tables(parts, offsets, out)
        _merge_dem(parts, offsets, out / SOURCE_FILES["dem"], resolution, n)
        _merge_osm(parts, offsets, out / SOURCE_FILES["roads"])
        shutil.copy(parts[0] / "README.md", out / "README.md")
        with (out / "README.md").open("a", encoding="utf-8") as f:
            f.write(
                f"\n{n} synthetic counties side by side (seeds {seed}..{seed + n - 1}); "
                "see twin/demo/counties.py.\n"
            )
    return {name: out / file for name, file in SOURCE_FILES.items()}


def _layout(parts: list[Path], n: int) -> list[tuple[float, float]]:
    """Offsets (dx, dy) in metres putting the counties on a near-square grid, row by row."""
    widths, heights = [], []
    for p in parts:
        with rasterio.open(p / SOURCE_FILES["dem"]) as src:
            widths.append(src.bounds.right - src.bounds.left)
            heights.append(src.bounds.top - src.bounds.bottom)
    pitch_x = math.ceil((max(widths) + GAP_M) / 100.0) * 100.0
    pitch_y = math.ceil((max(heights) + GAP_M) / 100.0) * 100.0
    cols = math.ceil(math.sqrt(n))
    return [((k % cols) * pitch_x, -(k // cols) * pitch_y) for k in range(n)]


def _renamed(df: pd.DataFrame, k: int) -> pd.DataFrame:
    if k == 0:
        return df
    df = df.copy()
    for col in _CODE_COLUMNS:
        if col in df.columns:
            df[col] = [
                str(int(COUNTY_CODE) + k) + v[len(COUNTY_CODE) :]
                if isinstance(v, str) and v.startswith(COUNTY_CODE)
                else v
                for v in df[col]
            ]
    for col in _ID_COLUMNS:
        if col in df.columns:
            df[col] = [f"K{k}-{v}" for v in df[col]]
    if "name" in df.columns and "county_code" in df.columns:
        df["name"] = [f"{v} {k + 1}" for v in df["name"]]
    return df


def _merge_vectors(
    parts: list[Path], offsets: list[tuple[float, float]], out: Path, n: int
) -> None:
    for fname in dict.fromkeys(
        SOURCE_FILES[s]
        for s in ("county", "townships", "villages", "water", "landcover", "buildings")
    ):
        first = parts[0] / fname
        for i, (layer, _) in enumerate(pyogrio.list_layers(first)):
            frames = []
            for k, (part, (dx, dy)) in enumerate(zip(parts, offsets, strict=True)):
                gdf = gpd.read_file(part / fname, layer=layer)
                gdf = _renamed(gdf, k)
                gdf["geometry"] = gdf.geometry.translate(dx, dy)
                frames.append(gdf)
            merged = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=WORK_CRS)
            info = pyogrio.read_info(first, layer=layer)
            meta = dict(info.get("layer_metadata") or {})
            meta["COUNTIES"] = str(n)
            write_gpkg(
                merged,
                out / fname,
                layer,
                f"SYNTHETIC demo data: {n} demo counties side by side.",
                meta,
                add=i > 0,
            )


def _merge_tables(parts: list[Path], offsets: list[tuple[float, float]], out: Path) -> None:
    to_ll = Transformer.from_crs(WORK_CRS, "EPSG:4326", always_xy=True)
    for source in ("cell_sites", "drive_test", "enterprises", "facilities", "village_indicators"):
        frames = []
        for k, (part, (dx, dy)) in enumerate(zip(parts, offsets, strict=True)):
            df = pd.read_csv(part / SOURCE_FILES[source], dtype=str, keep_default_na=False)
            df = _renamed(df, k)
            if k and {"lon", "lat"} <= set(df.columns):
                x, y = TO_WORK.transform(df["lon"].astype(float), df["lat"].astype(float))
                lon, lat = to_ll.transform(np.asarray(x) + dx, np.asarray(y) + dy)
                df["lon"] = [f"{v:.6f}" for v in lon]
                df["lat"] = [f"{v:.6f}" for v in lat]
            frames.append(df)
        write_csv(pd.concat(frames, ignore_index=True), out / SOURCE_FILES[source])


def _merge_dem(
    parts: list[Path], offsets: list[tuple[float, float]], path: Path, res: float, n: int
) -> None:
    boxes: list[tuple[float, float, float, float]] = []
    tags: dict[str, str] = {}
    for part, (dx, dy) in zip(parts, offsets, strict=True):
        with rasterio.open(part / SOURCE_FILES["dem"]) as src:
            b = src.bounds
            boxes.append((b.left + dx, b.bottom + dy, b.right + dx, b.top + dy))
            tags = tags or src.tags()
    x0, y1 = min(b[0] for b in boxes), max(b[3] for b in boxes)
    width = math.ceil((max(b[2] for b in boxes) - x0) / res)
    height = math.ceil((y1 - min(b[1] for b in boxes)) / res)
    dem = np.full((height, width), NODATA, dtype=np.float32)
    for part, box in zip(parts, boxes, strict=True):
        with rasterio.open(part / SOURCE_FILES["dem"]) as src:
            data = src.read(1)
        # county frames sit on 100 m multiples: whole pixels for the usual resolutions
        r0, c0 = round((y1 - box[3]) / res), round((box[0] - x0) / res)
        h, w = min(data.shape[0], height - r0), min(data.shape[1], width - c0)
        dem[r0 : r0 + h, c0 : c0 + w] = data[:h, :w]
    frame = (x0, y1 - height * res, x0 + width * res, y1)
    tags["DESCRIPTION"] = f"Synthetic elevation (m) of {n} demo counties, {res:g} m"
    write_dem(dem, Grid(x0, y1, res, width, height, frame), WORK_CRS, path, tags)


def _merge_osm(parts: list[Path], offsets: list[tuple[float, float]], path: Path) -> None:
    to_ll = Transformer.from_crs(WORK_CRS, "EPSG:4326", always_xy=True)
    header = osmium.io.Header()
    header.set("generator", "onemap-twin demo counties (SYNTHETIC data)")
    path.unlink(missing_ok=True)
    with osmium.SimpleWriter(str(path), header=header) as writer:
        for k, (part, (dx, dy)) in enumerate(zip(parts, offsets, strict=True)):
            off = k * OSM_ID_STEP
            for o in osmium.FileProcessor(str(part / SOURCE_FILES["roads"]), osmium.osm.NODE):
                assert isinstance(o, osmium.osm.Node)
                x, y = TO_WORK.transform(o.location.lon, o.location.lat)
                lon, lat = to_ll.transform(x + dx, y + dy)
                loc = (round(float(lon), 7), round(float(lat), 7))
                writer.add_node(Node(base=o, id=o.id + off, location=loc))
        for k, part in enumerate(parts):
            off = k * OSM_ID_STEP
            for o in osmium.FileProcessor(str(part / SOURCE_FILES["roads"]), osmium.osm.WAY):
                assert isinstance(o, osmium.osm.Way)
                refs = [r.ref + off for r in o.nodes]
                writer.add_way(Way(base=o, id=o.id + off, nodes=refs))
