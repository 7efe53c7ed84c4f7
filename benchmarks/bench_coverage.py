"""Coverage benchmark: the demo county at 10 m with every cell, scaling, and SPLAT! side by side.

Run (every case is a subprocess with a time limit, so the whole run is bounded)::

    .venv/bin/python benchmarks/bench_coverage.py [--workdir DIR] [--quick] [--timeout 900]

Prints a markdown table (and writes it to ``DIR/coverage_bench.md``); CPU time
includes the worker processes the model forks, peak memory is the largest
process's:

- the demo county at 10 m (about 16 M pixels of DEM) with all ~250 sites /
  750 cells and terrain: wall time, CPU time, peak memory;
- how time grows with the number of sites (20 m) and with the pixels (resolution);
- one site at 30 m over a 20 km radius: this model (terrain sweep + diffraction
  + TR 38.901) against SPLAT! HD (``splat-hd -L``: Longley-Rice over the same
  terrain and radius), after converting the DEM to SRTM-1 tiles and those to
  SPLAT!'s SDF with ``srtm2sdf-hd``. SPLAT! comes from the Debian package
  ``splat`` (``apt-get install splat``); without it that row says so.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


# ----------------------------------------------------------------------------- one case


def run_case(args: argparse.Namespace) -> None:
    """Child process: one coverage run, prints a JSON line with its measurements."""
    from layers.coverage import CoverageModel, CoverageParams
    from layers.coverage.cells import prepare_cells
    from layers.raster import read_raster, reproject_raster
    from layers.vector import read_vector
    from twin import forked_pool

    root = Path(args.workdir)
    t0 = time.perf_counter()
    dem = reproject_raster(read_raster(root / "sources/dem.tif"), "EPSG:4549", resolution=args.res)
    cells = read_vector(root / "sources/cell_sites.csv", crs="EPSG:4326")
    table, _ = prepare_cells(cells, "EPSG:4549")
    if args.sites:
        keep = sorted(table["site_id"].unique())[: args.sites]
        table = table[table["site_id"].isin(keep)]
    params = CoverageParams()
    if args.single:
        # the county's most central site, one sector, 20 km
        cx, cy = np.mean(dem.bounds[::2]), np.mean(dem.bounds[1::2])
        i = int(np.argmin(np.hypot(table["x"] - cx, table["y"] - cy)))
        table = table.iloc[[i]]
        params = CoverageParams(max_radius_km=20.0, min_rsrp_dbm=-200.0)
    prep = time.perf_counter() - t0

    def children_cpu() -> float:
        ch = resource.getrusage(resource.RUSAGE_CHILDREN)
        return ch.ru_utime + ch.ru_stime

    c0, k0 = time.process_time(), children_cpu()
    t1 = time.perf_counter()
    model = CoverageModel(dem, table, params, keep=False, workers=args.workers)
    # the coverage builder's processes: forked at the first band's sites, inheriting the model
    with forked_pool(model.workers, keep_freed_memory=True) as pool:
        result = model.run(None if pool is None else pool.submit)
    wall = time.perf_counter() - t1
    # CPU of this process and of the worker processes it forked
    cpu = time.process_time() - c0 + children_cpu() - k0
    peak_mb = (
        max(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
        )
        / 1024
    )
    px = int(np.isfinite(result.rsrp.data[0]).sum())
    print(
        json.dumps(
            {
                "wall_s": wall,
                "cpu_s": cpu,
                "prep_s": prep,
                "peak_mb": peak_mb,
                "pixels": dem.width * dem.height,
                "covered_px": px,
                "cells": len(table),
                "sites": int(table["site_id"].nunique()),
                "res": args.res,
                "site": None
                if not args.single
                else [
                    float(table["x"].iloc[0]),
                    float(table["y"].iloc[0]),
                    float(table["height_m"].iloc[0]),
                ],
            }
        )
    )


def child(
    workdir: Path, res: float, timeout: float, workers: int, sites: int = 0, single: bool = False
) -> dict:
    cmd = [
        sys.executable,
        __file__,
        "--case",
        "--workdir",
        str(workdir),
        "--res",
        str(res),
        "--workers",
        str(workers),
        "--sites",
        str(sites),
    ]
    if single:
        cmd.append("--single")
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=True)
    except subprocess.TimeoutExpired:
        return {"error": f"> {timeout:.0f} s (timed out)"}
    except subprocess.CalledProcessError as exc:
        return {"error": exc.stderr.strip().splitlines()[-1] if exc.stderr else "failed"}
    return json.loads(out.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------- SPLAT!


def write_srtm1(dem_path: Path, out: Path, lat0: int, lon0: int) -> Path:
    """The DEM warped onto SRTM-1 tile N{lat0}E{lon0} (3601², big-endian int16; 0 off the DEM)."""
    import rasterio
    from rasterio.transform import from_origin
    from rasterio.warp import Resampling, reproject

    n = 3601
    dst = np.zeros((n, n), dtype=np.float32)
    with rasterio.open(dem_path) as src:
        reproject(
            source=rasterio.band(src, 1),
            destination=dst,
            dst_transform=from_origin(lon0 - 0.5 / 3600, lat0 + 1 + 0.5 / 3600, 1 / 3600, 1 / 3600),
            dst_crs="EPSG:4326",
            dst_nodata=0.0,
            resampling=Resampling.bilinear,
        )
    path = out / f"N{lat0:02d}E{lon0:03d}.hgt"
    np.round(np.nan_to_num(dst)).astype(">i2").tofile(path)
    return path


def run_splat(workdir: Path, demo: Path, site_xy_h: list[float], timeout: float) -> dict:
    """Convert ``demo``'s DEM to SDF and time ``splat-hd -L`` for one site over 20 km."""
    if not shutil.which("splat-hd") or not shutil.which("srtm2sdf-hd"):
        return {"error": "splat not installed (apt-get install splat)"}
    from pyproj import Transformer

    sdf = Path(tempfile.mkdtemp(prefix="splat-", dir=workdir))
    x, y, h = site_xy_h
    lon, lat = Transformer.from_crs("EPSG:4549", "EPSG:4326", always_xy=True).transform(x, y)
    t0 = time.perf_counter()
    # every 1° tile within 20 km of the site
    dlat, dlon = 20 / 111.0, 20 / (111.0 * math.cos(math.radians(lat)))
    tiles = {
        (math.floor(a), math.floor(b))
        for a in (lat - dlat, lat + dlat)
        for b in (lon - dlon, lon + dlon)
    }
    for la, lo in sorted(tiles):
        hgt = write_srtm1(demo / "sources/dem.tif", sdf, la, lo)
        subprocess.run(
            ["srtm2sdf-hd", hgt.name], cwd=sdf, check=True, capture_output=True, timeout=timeout
        )
        hgt.unlink()
    convert = time.perf_counter() - t0
    (sdf / "site.qth").write_text(f"site\n{lat:.6f}\n{360 - lon:.6f}\n{h:.1f} meters\n")
    (sdf / "site.lrp").write_text("15.000\n0.005\n301.000\n3500.000\n5\n1\n0.50\n0.50\n")
    cmd = [
        "splat-hd",
        "-t",
        "site.qth",
        "-L",
        "1.5",
        "-R",
        "20",
        "-metric",
        "-d",
        str(sdf),
        "-ngs",
        "-o",
        "map.ppm",
    ]
    t1 = time.perf_counter()
    try:
        subprocess.run(cmd, cwd=sdf, check=True, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"> {timeout:.0f} s (timed out)", "convert_s": convert}
    except subprocess.CalledProcessError as exc:
        return {"error": (exc.stderr or exc.stdout or b"").decode(errors="replace")[-200:]}
    wall = time.perf_counter() - t1
    ok = (sdf / "map.ppm").exists()
    shutil.rmtree(sdf, ignore_errors=True)
    return {"wall_s": wall, "convert_s": convert, "map": ok, "tiles": len(tiles)}


# ----------------------------------------------------------------------------- main


def ensure_demo(workdir: Path, res: float) -> Path:
    root = workdir / f"demo{res:g}"
    if not (root / "sources/dem.tif").exists():
        from twin.demo.generate import generate_sources

        generate_sources(root, resolution=res)
    return root


def fmt(r: dict, key: str = "wall_s") -> str:
    return r["error"] if "error" in r else f"{r[key]:.1f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--quick", action="store_true", help="skip the 10 m county run")
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds per case")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--case", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--res", type=float, default=20.0, help=argparse.SUPPRESS)
    ap.add_argument("--sites", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--single", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.case:
        run_case(args)
        return
    work = Path(args.workdir or tempfile.mkdtemp(prefix="bench-coverage-"))
    work.mkdir(parents=True, exist_ok=True)
    w = args.workers
    lines = [
        f"Machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start; "
        f"{w} worker processes.",
        "",
    ]

    demo20 = ensure_demo(work, 20.0)
    rows = []
    if not args.quick:
        demo10 = ensure_demo(work, 10.0)
        r = child(demo10, 10.0, args.timeout, w)
        rows.append(("Demo county, 10 m, all cells, terrain", r))
    r20 = child(demo20, 20.0, args.timeout, w)
    rows.append(("Demo county, 20 m, all cells, terrain", r20))
    lines += [
        "| Case | Pixels | Cells | Wall s | CPU s | Peak MB |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, r in rows:
        if "error" in r:
            lines.append(f"| {name} | | | {r['error']} | | |")
        else:
            lines.append(
                f"| {name} | {r['pixels']:,} | {r['cells']} | {r['wall_s']:.1f} | "
                f"{r['cpu_s']:.1f} | {r['peak_mb']:.0f} |"
            )

    lines += [
        "",
        "Growth with sites (20 m) and with pixels (50 sites):",
        "",
        "| Sites | Cells | Resolution m | Pixels | Wall s | CPU s | CPU ms per site |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for sites, res in [(25, 20.0), (50, 20.0), (100, 20.0), (0, 20.0), (50, 40.0), (50, 10.0)]:
        if res == 10.0 and args.quick:
            continue
        root = demo20 if res != 10.0 else ensure_demo(work, 10.0)
        r = r20 if (sites == 0 and res == 20.0) else child(root, res, args.timeout, w, sites=sites)
        if "error" in r:
            lines.append(f"| {sites or 'all'} | | {res:g} | | {r['error']} | | |")
            continue
        lines.append(
            f"| {r['sites']} | {r['cells']} | {res:g} | {r['pixels']:,} | "
            f"{r['wall_s']:.1f} | {r['cpu_s']:.1f} | {1000 * r['cpu_s'] / r['sites']:.0f} |"
        )

    ours = child(demo20, 30.0, args.timeout, w, single=True)
    splat = (
        run_splat(work, demo20, ours["site"], args.timeout)
        if "site" in ours
        else {"error": "no site"}
    )
    lines += [
        "",
        "One site, 30 m, 20 km radius, terrain-aware (same DEM, same radius):",
        "",
        "| Tool | Model | Wall s | Ratio |",
        "|---|---|---:|---:|",
    ]
    ratio = (
        f"{splat['wall_s'] / ours['wall_s']:.1f}× faster"
        if "wall_s" in splat and "wall_s" in ours
        else ""
    )
    lines.append(f"| OneMap Twin | radial sweep + Deygout + TR 38.901 | {fmt(ours)} | {ratio} |")
    conv = f" (+{splat['convert_s']:.1f} s DEM→SDF)" if "convert_s" in splat else ""
    lines.append(f"| SPLAT! HD 1.4 | Longley-Rice (ITM) path loss map | {fmt(splat)}{conv} | 1 |")
    table = "\n".join(lines)
    print(table)
    (work / "coverage_bench.md").write_text(table + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
