"""The table of ``bench_tiles.py``: its rows, and the markdown it is written as."""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

GOAL_CLI_S = 0.5


@dataclass
class Row:
    """One line of the table: ours and the peer's value in each round."""

    workload: str
    peer: str
    ours: str
    unit: str  # "req/s", "tiles/s" (speeds) or "s" (times)
    peer_unit: str = ""  # when the peer's differs (PostGIS: tiles/s, no HTTP)
    peer_vals: list[float] = field(default_factory=list)
    our_vals: list[float] = field(default_factory=list)
    ratios: list[float] = field(default_factory=list)
    notes: dict[str, str] = field(default_factory=dict)  # side -> why it has no value

    def speed_ratio(self, ours: float, peer: float) -> float:
        return ours / peer if self.unit != "s" else peer / ours


def rows() -> dict[str, Row]:
    pg1 = "PostGIS `ST_AsMVT`, 1 client thread (encoder only, no HTTP)"
    pg2 = "PostGIS `ST_AsMVT`, 2 client threads"
    r: dict[str, Row] = {
        "otf1": Row(
            "3-layer vector tile built per request, 1 connection",
            pg1,
            "1 worker, cache off",
            "req/s",
            "tiles/s",
        ),
        "otf2": Row("same, 2 connections", pg2, "2 workers, cache off", "req/s", "tiles/s"),
        "otf64w1": Row("same, 64 connections", pg2, "1 worker, cache off", "req/s", "tiles/s"),
        "otf64w2": Row("same, 64 connections", pg2, "2 workers, cache off", "req/s", "tiles/s"),
    }
    for c in (1, 16, 64):
        r[f"cached{c}"] = Row(
            f"cached tiles, {c} connection{'s' * (c > 1)}",
            "TileServer GL light (MBTiles of the same tiles)",
            "default workers, cache on, warmed",
            "req/s",
        )
    for c in (1, 16, 64):
        r[f"archive{c}"] = Row(
            f"archive serving, cache off, {c} connection{'s' * (c > 1)}",
            "TileServer GL light (one PMTiles)",
            "default workers, composite from the layers' PMTiles",
            "req/s",
        )
    for hi in (14, 16):
        for mode in ("keep-all", "default"):
            r[f"gen{hi}{mode}"] = Row(
                f"archive generation z0–{hi}, 3 layers, PMTiles",
                f"tippecanoe 2.72 {mode}",
                "`twin export`",
                "s",
            )
    for crs in ("4549", "3857"):
        for c in (1, 4):
            r[f"raster{crs}c{c}"] = Row(
                f"raster PNG, cache off, {c} connection{'s' * (c > 1)}, COG in EPSG:{crs}",
                "titiler.core 2.4 `TilerFactory`",
                "workspace in EPSG:" + crs,
                "req/s",
            )
    r["cli_help"] = Row("CLI start-up: `twin --help`", f"goal {GOAL_CLI_S} s", "best of 3", "s")
    r["cli_export"] = Row(
        "CLI: `twin export` of a 10-point layer, z0", f"goal {GOAL_CLI_S} s", "best of 3", "s"
    )
    return r


# -- report ------------------------------------------------------------------------------------


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    for line in (
        Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []
    ):
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    mem = ""
    if Path("/proc/meminfo").exists():
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 2**20:.0f} GiB"
    return (
        f"{cpu}, {cores} cores usable of {os.cpu_count()}{mem}, Linux {platform.release()}, "
        f"Python {platform.python_version()}"
    )


def spread(values: list[float], unit: str, digits: int) -> str:
    if not values:
        return ""
    med = statistics.median(values)
    text = f"{med:,.{digits}f} {unit}".strip()
    if len(values) > 1:
        text += f" ({min(values):,.{digits}f}–{max(values):,.{digits}f})"
    return text


def report(
    table: dict[str, Row], loads: list[tuple[float, float]], args: argparse.Namespace, ctx_info: str
) -> str:
    lines = [
        f"Machine: {machine()}. Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
        f"{len(loads)} interleaved round(s) (ours first in odd rounds, peers first in even ones), "
        f"wrk {args.duration:.0f} s per run. {ctx_info}",
        "",
        "1-minute load average before → after each round (above the cores: shared): "
        + ", ".join(f"round {i + 1}: {b:.2f} → {a:.2f}" for i, (b, a) in enumerate(loads)),
        "",
        "Values: median over rounds (min–max). ours ÷ peer: our speed over the peer's in the same "
        "round (for times, the peer's time over ours); above 1, ours is faster.",
        "",
        "| workload | peer | peer | ours | ours | ours ÷ peer |",
        "|---|---|---:|---|---:|---:|",
    ]
    for row in table.values():
        digits = 2 if row.unit == "s" else 0
        peer = row.notes.get("peer") or spread(row.peer_vals, row.peer_unit or row.unit, digits)
        ours = row.notes.get("ours") or spread(row.our_vals, row.unit, digits)
        if "peer size" in row.notes:
            peer += f", {row.notes['peer size']}"
        if "ours size" in row.notes:
            ours += f", {row.notes['ours size']}"
        ratio = spread(row.ratios, "", 2) if row.ratios else "—"
        lines.append(f"| {row.workload} | {row.peer} | {peer} | {row.ours} | {ours} | {ratio} |")
    return "\n".join(lines) + "\n"
