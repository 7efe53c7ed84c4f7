"""Prometheus metrics in the text exposition format, without a client library.

Counters and histograms live in this process; with ``--workers N`` each worker
reports its own (scrape them per worker, or sum them in Prometheus).
"""

from __future__ import annotations

import threading
from collections import defaultdict

#: upper bounds (seconds) of the tile latency histogram
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(labels.items())) + "}"


class Metrics:
    """Request counts, tile latency, tile encodings and cache figures."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: defaultdict[tuple[str, str, str], int] = defaultdict(int)
        self.encoded: defaultdict[str, int] = defaultdict(int)
        self.latency_counts: defaultdict[str, list[int]] = defaultdict(
            lambda: [0] * len(LATENCY_BUCKETS)
        )
        self.latency_sum: defaultdict[str, float] = defaultdict(float)
        self.latency_n: defaultdict[str, int] = defaultdict(int)
        self.reloads = 0
        #: orthophoto mosaic tiles: sheets read, overview reads, sheets left out past the bound
        self.mosaic = {"sheets": 0, "overview": 0, "left_out": 0}

    def request(self, method: str, route: str, status: int) -> None:
        with self._lock:
            self.requests[(method, route, str(status))] += 1

    def tile_encoded(self, kind: str) -> None:
        with self._lock:
            self.encoded[kind] += 1

    def tile_latency(self, kind: str, seconds: float) -> None:
        with self._lock:
            counts = self.latency_counts[kind]
            for i, bound in enumerate(LATENCY_BUCKETS):
                if seconds <= bound:
                    counts[i] += 1
            self.latency_sum[kind] += seconds
            self.latency_n[kind] += 1

    def mosaic_read(self, sheets: int, overview: bool, left_out: int) -> None:
        with self._lock:
            self.mosaic["sheets"] += sheets
            self.mosaic["overview"] += int(overview)
            self.mosaic["left_out"] += left_out

    def render(self, cache_hits: int, cache_misses: int, cache_bytes: int, cache_items: int) -> str:
        """All metrics as Prometheus text."""
        out: list[str] = []

        def family(name: str, kind: str, help_text: str) -> None:
            out.append(f"# HELP {name} {help_text}")
            out.append(f"# TYPE {name} {kind}")

        with self._lock:
            family(
                "twin_http_requests_total", "counter", "HTTP requests by method, route and status."
            )
            for (method, route, status), n in sorted(self.requests.items()):
                labels = _labels({"method": method, "route": route, "status": status})
                out.append(f"twin_http_requests_total{labels} {n}")
            family("twin_tile_seconds", "histogram", "Time to answer a tile request, by tile kind.")
            for kind, counts in sorted(self.latency_counts.items()):
                for bound, n in zip(LATENCY_BUCKETS, counts, strict=True):
                    out.append(
                        f"twin_tile_seconds_bucket{_labels({'kind': kind, 'le': str(bound)})} {n}"
                    )
                total = self.latency_n[kind]
                out.append(
                    f"twin_tile_seconds_bucket{_labels({'kind': kind, 'le': '+Inf'})} {total}"
                )
                out.append(
                    f"twin_tile_seconds_sum{_labels({'kind': kind})} {self.latency_sum[kind]}"
                )
                out.append(f"twin_tile_seconds_count{_labels({'kind': kind})} {total}")
            family(
                "twin_tiles_encoded_total", "counter", "Tiles encoded (cache misses that did work)."
            )
            for kind, n in sorted(self.encoded.items()):
                out.append(f"twin_tiles_encoded_total{_labels({'kind': kind})} {n}")
            family(
                "twin_mosaic_reads_total",
                "counter",
                "Imagery tiles: sheets read, overview reads, sheets left out past the bound.",
            )
            for what, n in self.mosaic.items():
                out.append(f"twin_mosaic_reads_total{_labels({'read': what})} {n}")
            family("twin_catalog_reloads_total", "counter", "New catalog versions picked up.")
            out.append(f"twin_catalog_reloads_total {self.reloads}")
        family("twin_tile_cache_hits_total", "counter", "Tile cache hits.")
        out.append(f"twin_tile_cache_hits_total {cache_hits}")
        family("twin_tile_cache_misses_total", "counter", "Tile cache misses.")
        out.append(f"twin_tile_cache_misses_total {cache_misses}")
        family("twin_tile_cache_bytes", "gauge", "Bytes held by the tile cache.")
        out.append(f"twin_tile_cache_bytes {cache_bytes}")
        family("twin_tile_cache_items", "gauge", "Tiles held by the tile cache.")
        out.append(f"twin_tile_cache_items {cache_items}")
        return "\n".join(out) + "\n"
