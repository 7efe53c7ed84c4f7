"""Roads: our PBF reader + network build vs pyrosm and osmnx, on the same files.

Each (dataset, tool) pair runs in its own fresh Python process (imports done
before the clock starts, no warm-up, caches cleared), so wall time and peak
memory are a cold first run of the work itself; the table shows the median of
``--repeat`` such runs (default 3) because the machine may be shared:

- ``ours``: ``layers.roads.read_osm_roads(path, network="drive")`` (edges and
  nodes GeoDataFrames, split at intersections, simplified, lengths in a UTM CRS);
- ``ours+graph``: the same, then ``layers.roads.to_networkx`` (a routable MultiDiGraph);
- ``pyrosm``: ``OSM(path).get_network("driving", nodes=True)`` then
  ``OSM.to_graph(nodes, edges, retain_all=True)`` (networkx, simplified), with
  pyrosm's on-disk result cache cleared first;
- ``pyrosm net``: only ``get_network`` (no graph);
- ``osmnx``: ``osmnx.graph_from_xml(path, retain_all=True)`` on an OSM XML copy
  holding exactly the ways our drive filter keeps (osmnx reads no PBF; the
  conversion is not timed).

Datasets: the real ``tests/data/Helsinki.osm.pbf`` (central Helsinki, ODbL)
and a synthetic county-like street grid the size of the demo county's roads
(~940 km) and 10 times that, written with pyosmium, to show how cost grows.

Run (needs the ``bench`` extra: ``pip install -e .[bench]``)::

    .venv/bin/python benchmarks/bench_roads.py            # all datasets, ~2-4 min
    .venv/bin/python benchmarks/bench_roads.py --sizes 1 --timeout 120

Prints a markdown table; ratios are the tool's wall time, CPU time (all
threads) and added memory over ours. CPU time is the steadier figure when
other work shares the machine.
"edges" is what each tool returns: our undirected edge table, or the number of
edges in a directed networkx graph; "road km" counts each street once.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HELSINKI = ROOT / "tests" / "data" / "Helsinki.osm.pbf"
TOOLS = ("ours", "ours+graph", "pyrosm", "pyrosm net", "osmnx")

# Child program: run one tool on one file, print a JSON line with time, memory and sizes.
CHILD = textwrap.dedent(
    """
    import json, resource, sys, time, warnings
    warnings.simplefilter("ignore")
    tool, path = sys.argv[1], sys.argv[2]
    if tool.startswith("ours"):
        from layers.roads import read_osm_roads, to_networkx
    elif tool.startswith("pyrosm"):
        import pyrosm
        pyrosm.OSM.clear_cache()
    else:
        import osmnx as ox
    import networkx  # imported by every graph-making tool; keep imports out of the clock
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0, c0 = time.perf_counter(), time.process_time()
    if tool.startswith("ours"):
        net = read_osm_roads(path, network="drive")
        edges, km = len(net.edges), net.edges["length_m"].sum() / 1000
        if tool == "ours+graph":
            g = to_networkx(net.edges, net.nodes)
            edges = g.number_of_edges()
    elif tool.startswith("pyrosm"):
        osm = pyrosm.OSM(path)
        nodes, e = osm.get_network("driving", nodes=True)
        edges, km = len(e), float(e["length"].sum()) / 1000
        if tool == "pyrosm":
            g = osm.to_graph(nodes, e, graph_type="networkx", retain_all=True)
            edges = g.number_of_edges()
    else:
        g = ox.graph_from_xml(path, retain_all=True, simplify=True)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    if tool == "osmnx":  # road km counts each street once, as the other tools do
        edges = g.number_of_edges()
        und = ox.convert.to_undirected(g)
        km = sum(d["length"] for _, _, d in und.edges(data=True)) / 1000
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"seconds": seconds, "cpu": cpu, "peak_mb": after / 1024,
                      "delta_mb": (after - before) / 1024, "edges": int(edges), "km": float(km)}))
    """
)


def write_grid(path: Path, scale: int) -> Path:
    """A jittered street grid: ~940 km of drivable road per unit of ``scale``, plus footways.

    Blocks of 300 m with three shape nodes per block side; every 8th street is
    primary (maxspeed 60), every 4th secondary, the rest residential, some
    oneway; one footway per block row is left out by the drive filter.
    """
    import numpy as np
    import osmium
    from osmium.osm.mutable import Node, Way

    rng = np.random.default_rng(42)
    n = round(40 * scale**0.5)  # streets per direction
    sub = 4  # segments per block side
    step = 300.0 / sub
    m_per_deg_lat, m_per_deg_lon = 111_320.0, 111_320.0 * np.cos(np.radians(30.5))
    size = (n - 1) * sub + 1
    ii, jj = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
    jitter = rng.normal(0, 4.0, (2, size, size))
    lon = 119.5 + (ii * step + jitter[0]) / m_per_deg_lon
    lat = 30.2 + (jj * step + jitter[1]) / m_per_deg_lat
    ids = 1 + ii * size + jj
    writer = osmium.SimpleWriter(str(path))
    try:
        for i in range(size):
            for j in range(size):
                writer.add_node(Node(id=int(ids[i, j]), location=(lon[i, j], lat[i, j])))
        way_id = 1
        for k in range(n):
            for axis in (0, 1):
                line = ids[k * sub, :] if axis == 0 else ids[:, k * sub]
                cls = "primary" if k % 8 == 0 else "secondary" if k % 4 == 0 else "residential"
                tags = {"highway": cls, "name": f"Street {axis}-{k}"}
                if cls == "primary":
                    tags["maxspeed"] = "60"
                elif k % 5 == 1:
                    tags["oneway"] = "yes"
                # one OSM way per 3 blocks, as real data splits long streets
                for start in range(0, size - 1, 3 * sub):
                    refs = [int(r) for r in line[start : start + 3 * sub + 1]]
                    writer.add_way(Way(id=way_id, nodes=refs, tags=tags))
                    way_id += 1
        for k in range(n - 1):
            i = k * sub + sub // 2
            refs = [int(r) for r in ids[i, :: sub // 2]]
            writer.add_way(Way(id=way_id, nodes=refs, tags={"highway": "footway"}))
            way_id += 1
    finally:
        writer.close()
    return path


def to_drive_xml(pbf: Path, xml: Path) -> Path:
    """Copy the ways our drive filter keeps, with their nodes, to OSM XML for osmnx."""
    import numpy as np
    import osmium
    from osmium.osm.mutable import Node, Way

    from layers.roads.filters import network_mask
    from layers.roads.osm import WAY_KEYS, read_osm_ways

    ways = read_osm_ways(pbf, keys=WAY_KEYS)
    keep = network_mask("drive", ways.tags)
    writer = osmium.SimpleWriter(str(xml))
    try:
        ok = np.isfinite(ways.lon)
        seen: dict[int, tuple[float, float]] = {}
        for i in np.flatnonzero(keep):
            for s in range(ways.offsets[i], ways.offsets[i + 1]):
                if ok[s]:
                    seen[int(ways.node_id[s])] = (float(ways.lon[s]), float(ways.lat[s]))
        for nid in sorted(seen):
            writer.add_node(Node(id=nid, location=seen[nid], version=1))
        for i in np.flatnonzero(keep):
            sl = slice(ways.offsets[i], ways.offsets[i + 1])
            refs = [int(r) for r, good in zip(ways.node_id[sl], ok[sl], strict=True) if good]
            if len(refs) < 2:
                continue
            tags = {k: v[i] for k, v in ways.tags.items() if v[i] is not None}
            writer.add_way(Way(id=int(ways.way_id[i]), nodes=refs, tags=tags, version=1))
    finally:
        writer.close()
    return xml


def run_all(tools: list[str], pbf: Path, xml: Path, timeout: float, repeat: int) -> dict:
    """Median-time run of each tool over ``repeat`` rounds of fresh processes.

    Rounds interleave the tools, so load from other processes on a shared
    machine falls on all of them alike.
    """
    runs: dict[str, list] = {t: [] for t in tools}
    for _ in range(repeat):
        for tool in tools:
            if runs[tool] and isinstance(runs[tool][-1], str):
                continue  # failed or timed out once: do not try again
            runs[tool].append(_run_once(tool, xml if tool == "osmnx" else pbf, timeout))
    out: dict[str, dict[str, float] | str] = {}
    for tool, results in runs.items():
        failed = [r for r in results if isinstance(r, str)]
        if failed:
            out[tool] = failed[0]
            continue
        results.sort(key=lambda r: r["seconds"])
        out[tool] = results[len(results) // 2]
    return out


def _run_once(tool: str, path: Path, timeout: float) -> dict[str, float] | str:
    try:
        out = subprocess.run(
            [sys.executable, "-c", CHILD, tool, str(path)],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=ROOT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return f"timeout > {timeout:.0f} s"
    if out.returncode != 0:
        last = (out.stderr.strip().splitlines() or ["failed"])[-1]
        return f"error: {last[:80]}"
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,10", help="synthetic grid scales (comma list)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per run")
    parser.add_argument("--tools", default=",".join(TOOLS), help="comma list of tools")
    parser.add_argument("--repeat", type=int, default=3, help="fresh runs per cell (median)")
    args = parser.parse_args()
    tools = [t for t in args.tools.split(",") if t]
    with tempfile.TemporaryDirectory(prefix="bench_roads_") as tmp:
        datasets: list[tuple[str, Path]] = [("Helsinki (real, 685 kB)", HELSINKI)]
        for scale in [int(s) for s in args.sizes.split(",") if s]:
            path = write_grid(Path(tmp) / f"grid{scale}.osm.pbf", scale)
            kb = path.stat().st_size / 1024
            datasets.append((f"grid x{scale} (synthetic, {kb:,.0f} kB)", path))
        rows = []
        for name, pbf in datasets:
            xml = (
                to_drive_xml(pbf, Path(tmp) / (pbf.stem + ".drive.osm"))
                if "osmnx" in tools
                else pbf
            )
            t0 = time.perf_counter()
            results = run_all(tools, pbf, xml, args.timeout, args.repeat)
            print(f"  {name}: {time.perf_counter() - t0:.0f} s {results}", file=sys.stderr)
            rows.append((name, results))
    print(table(rows, tools))


def table(rows: list[tuple[str, dict]], tools: list[str]) -> str:
    lines = [
        "| data | tool | wall (s) | wall / ours | CPU (s) | CPU / ours | peak RSS (MB) "
        "| added RSS (MB) | RSS / ours | edges | road km |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, results in rows:
        base = results.get("ours")
        for tool in tools:
            r = results[tool]
            if isinstance(r, str):
                lines.append(f"| {name} | {tool} | {r} | | | | | | | | |")
                continue
            tr = cr = mr = ""
            if isinstance(base, dict):
                tr = f"{r['seconds'] / base['seconds']:.1f}x"
                cr = f"{r['cpu'] / base['cpu']:.1f}x"
                mr = f"{r['delta_mb'] / max(base['delta_mb'], 1e-9):.1f}x"
            lines.append(
                f"| {name} | {tool} | {r['seconds']:.2f} | {tr} | {r['cpu']:.2f} | {cr} "
                f"| {r['peak_mb']:.0f} | {r['delta_mb']:.0f} | {mr} | {r['edges']:,} "
                f"| {r['km']:,.1f} |"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
