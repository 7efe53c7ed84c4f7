"""A synthetic 5G drive test along the demo county's main roads.

The measurements come from a hidden "truth": the coverage model's own best-server
RSRP (computed only on the pixels under the route, at the coverage layer's
resolution), a bias the model does not know (an overall offset and one offset per
cell, for antenna and feeder errors) and log-normal shadowing of
:data:`SIGMA_DB` correlated along the track over :data:`DECORRELATION_M`
(Gudmundson). Only the measurements are written; the planted offsets stay here,
so calibrating the demo is a real test of recovering them.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from layers.coverage import CoverageParams, run_coverage
from layers.coverage.calibration import sample_grid
from layers.coverage.shadowing import gudmundson_shadowing
from layers.types import RasterData
from twin.demo._shapes import TO_LONLAT, WORK_CRS

#: Shadowing spread and decorrelation distance of the truth.
SIGMA_DB, DECORRELATION_M = 8.0, 50.0
#: A sample every SPACING_M of road, about this many samples.
SPACING_M, N_POINTS = 25.0, 3000
#: The truth's overall bias and the spread of its per-cell offsets, dB.
BIAS_DB, CELL_SPREAD_DB = -5.0, 3.0


def drive_test(
    rng: np.random.Generator,
    roads: list[shapely.LineString],
    county: shapely.Geometry,
    dem: RasterData,
    sites: gpd.GeoDataFrame,
    resolution: float,
) -> pd.DataFrame:
    """Measurements (lon, lat, ss_rsrp, cell_id, timestamp) along ``roads`` in ``county``.

    ``roads`` and ``county`` are in the working CRS; roads leaving the county are cut.
    """
    order = rng.permutation(len(roads))
    tracks, total = [], 0
    for i in order:
        line = roads[i]
        n = int(line.length // SPACING_M)
        if n < 20:
            continue
        xy = shapely.get_coordinates(shapely.line_interpolate_point(line, np.arange(n) * SPACING_M))
        xy = xy[shapely.contains_xy(county, xy[:, 0], xy[:, 1])]
        tracks.append(xy)
        total += len(xy)
        if total >= N_POINTS:
            break
    xy = np.concatenate(tracks)[:N_POINTS]
    corridor = shapely.buffer(shapely.multipoints(xy), 2 * resolution)
    out = run_coverage(
        dem,
        sites,
        CoverageParams(resolution=resolution),
        WORK_CRS,
        boundary=gpd.GeoDataFrame(geometry=[corridor], crs=WORK_CRS),
    )
    x, y = xy[:, 0], xy[:, 1]
    model = sample_grid(out.rsrp.data[0], out.rsrp.transform, x, y, nodata=out.rsrp.nodata)
    idx = sample_grid(out.serving.data[0], out.serving.transform, x, y, method="nearest")
    ok = np.isfinite(model) & (idx >= 0)
    ids = out.cells.sort_values("index")["cell_id"].astype(str).to_numpy()
    cell_offset = rng.normal(0.0, CELL_SPREAD_DB, len(ids))
    serving = idx[ok].astype(np.int64)
    truth = model[ok] + BIAS_DB + cell_offset[serving]
    truth += gudmundson_shadowing(x[ok], y[ok], SIGMA_DB, DECORRELATION_M, rng)
    lon, lat = TO_LONLAT.transform(x[ok], y[ok])
    start = datetime(2025, 5, 12, 9, 0, 0)
    # 25 m a second (90 km/h), a new route an hour later
    steps = np.r_[0.0, np.hypot(np.diff(x[ok]), np.diff(y[ok]))]
    seconds = np.cumsum(np.where(steps > 4 * SPACING_M, 3600.0, steps / SPACING_M))
    return pd.DataFrame(
        {
            "lon": np.round(lon, 7),
            "lat": np.round(lat, 7),
            "ss_rsrp": np.round(np.clip(truth, -140, -30), 1),
            "cell_id": ids[serving],
            "timestamp": [
                (start + timedelta(seconds=float(s))).isoformat(timespec="seconds") for s in seconds
            ],
        }
    )
