"""5G coverage of every cell at once: best-server SS-RSRP, serving cell and SS-SINR rasters.

For each cell (one row of :func:`layers.coverage.cells.prepare_cells`) and each pixel
within its radius:

``RSRP = P_RE + G_ant(φ, θ) - L_cable - PL - L_diffraction - L_clutter - L_body + G_rx``

- ``P_RE``: transmit power per resource element (total power over ``12 N_RB``
  sub-carriers, :func:`layers.coverage.cells.power_per_re`);
- ``G_ant``: the 3GPP sector pattern towards the pixel (:mod:`layers.coverage.antenna`),
  from the antenna's azimuth, mechanical and electrical down-tilt;
- ``PL``: TR 38.901 Table 7.4.1-1 for the cell's scenario (:mod:`layers.coverage.propagation`).
  Where the terrain blocks the direct path (:mod:`layers.coverage.terrain`) the NLOS
  formula applies plus knife-edge diffraction; where it is clear, either the
  LOS formula (``los_mode="terrain"``) or the mean power of LOS and NLOS
  weighted by the standard's LOS probability (``los_mode="probability"``, the
  default: clear terrain does not mean no buildings or trees in the way);
- ``L_clutter``: an optional raster of extra loss at the receiver, dB; an optional
  raster of clutter heights raises the obstacle surface of the terrain sweep
  (:mod:`layers.coverage.clutter`).

Per band, the best server is the strongest cell; SS-SINR is
``S / (load · Σ other cells of the band + N)`` with
``N = -174 dBm/Hz + 10 log10(SCS) + NF`` per resource element. Across bands
the serving cell is the strongest one and the SINR is that of its band.

Each cell's field is cached by :class:`CoverageModel`, so a what-if with added
or removed cells recomputes only the new ones (:func:`layers.coverage.zones.what_if`).
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.ndimage import distance_transform_edt

from layers.coverage._sum import BandSum, Submit, band_sums_submitted
from layers.coverage.antenna import sector_gain_trig
from layers.coverage.params import CoverageParams
from layers.coverage.propagation import VALIDITY, C, Flag, los_nlos, los_probability
from layers.coverage.terrain import site_window, sweep
from layers.errors import ParameterError, SourceError
from layers.types import RasterData

THERMAL_NOISE_DBM_HZ = -174.0


@dataclass
class _SiteLoss:
    """Path loss (with diffraction and clutter) from one antenna position to its pixels.

    ``idx`` are flat indices into the grid; the direction cosines serve every
    sector of the site (:func:`layers.coverage.antenna.sector_gain_trig`).
    """

    idx: NDArray[np.int64]
    cos_b: NDArray[np.float32]
    sin_b: NDArray[np.float32]
    cos_z: NDArray[np.float32]
    sin_z: NDArray[np.float32]
    zenith: NDArray[np.float32]
    loss: NDArray[np.float32]
    flags: dict[str, int]


@dataclass
class CellField:
    """One cell's RSRP (dBm) at the grid pixels it reaches (flat indices)."""

    idx: NDArray[np.int64]
    rsrp: NDArray[np.float32]
    flags: dict[str, int] = field(default_factory=dict)


@dataclass
class CoverageResult:
    """Best-server rasters on the model grid.

    Attributes
    ----------
    rsrp
        Best-server SS-RSRP, dBm, float32, NaN where no cell reaches or outside the region.
    sinr
        SS-SINR of the serving cell, dB, float32, NaN like ``rsrp``.
    serving
        Index of the serving cell into ``cell_ids``, int32, -1 where none.
    cell_ids
        Cell id per index of ``serving``.
    flags
        Pixel-cell pairs per model validity limit hit (clamped values).
    region
        Pixels that belong to the region (denominator of coverage shares).
    """

    rsrp: RasterData
    sinr: RasterData
    serving: RasterData
    cell_ids: list[str]
    flags: dict[str, int]
    region: NDArray[np.bool_]


class CoverageModel:
    """Every cell's coverage over a DEM grid, with per-cell results cached.

    Parameters
    ----------
    dem
        Ground heights on the output grid (square pixels, metric CRS, north up).
    cells
        A table from :func:`layers.coverage.cells.prepare_cells` in the DEM's CRS.
    params
        Link budget and model settings.
    region
        Optional boolean mask (True inside the region); outside pixels are NaN.
    clutter_db
        Optional extra loss at the receiver per pixel, dB (≥ 0), on the grid.
    clutter_m
        Optional clutter height per pixel, m (≥ 0), on the grid: added to the obstacle
        surface of the terrain sweep (not to the antenna's or receiver's ground).
    outside
        What to do with cells outside the DEM: ``"error"`` or ``"skip"``.
    workers
        Cells computed concurrently: on threads, or in that many tasks through the
        ``submit`` given to :meth:`run` (without ``keep``).
    keep
        Cache each cell's field (needed for cheap what-ifs; costs memory).
    """

    def __init__(
        self,
        dem: RasterData,
        cells: pd.DataFrame,
        params: CoverageParams | None = None,
        region: NDArray[np.bool_] | None = None,
        clutter_db: NDArray[np.floating] | None = None,
        clutter_m: NDArray[np.floating] | None = None,
        outside: Literal["error", "skip"] = "error",
        workers: int | None = None,
        keep: bool = True,
    ) -> None:
        self.params = params or CoverageParams()
        t = dem.transform
        if abs(abs(t.a) - abs(t.e)) > 1e-6 * abs(t.a) or t.b != 0 or t.d != 0 or t.e >= 0:
            raise ParameterError("dem: needs square, north-up pixels (reproject it first)")
        self.dem = dem
        self.resolution = float(abs(t.a))
        self.shape = (dem.height, dem.width)
        valid = dem.valid_mask()[0]
        if not valid.any():
            raise SourceError("dem: holds no valid heights")
        z = dem.data[0].astype(np.float32)
        if not valid.all():
            # Heights under nodata still shape the terrain sweep: borrow the nearest valid one.
            _, (ri, ci) = distance_transform_edt(~valid, return_indices=True)
            z = z[ri, ci]
        self.z = z
        self.region = valid if region is None else (valid & region)
        if clutter_db is not None:
            clutter_db = np.asarray(clutter_db, dtype=np.float32)
            if clutter_db.shape != self.shape:
                raise ParameterError(f"clutter: shape {clutter_db.shape} != grid {self.shape}")
            if np.nanmin(clutter_db) < 0:
                raise ParameterError("clutter: losses must be ≥ 0 dB")
            clutter_db = np.nan_to_num(clutter_db, nan=0.0)
        self.clutter = clutter_db
        if clutter_m is not None:
            clutter_m = np.nan_to_num(np.asarray(clutter_m, dtype=np.float32), nan=0.0)
            if clutter_m.shape != self.shape:
                raise ParameterError(
                    f"clutter heights: shape {clutter_m.shape} != grid {self.shape}"
                )
            if clutter_m.min() < 0:
                raise ParameterError("clutter heights: must be ≥ 0 m")
            if not clutter_m.any():
                clutter_m = None
        self.clutter_m = clutter_m
        self.outside = outside
        self.workers = workers or min(2, os.cpu_count() or 1)
        self.keep = keep
        self.warnings: list[str] = []
        self.cells = self._locate(cells)
        self._fields: dict[str, CellField] = {}
        self._sites: dict[tuple, _SiteLoss] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ cells

    def _locate(self, cells: pd.DataFrame) -> pd.DataFrame:
        # Band by band (one running sum at a time), sectors of a site together
        # (they share a terrain sweep).
        cells = cells.sort_values(["band", "site_id", "cell_id"], kind="stable")
        cells = cells.reset_index(drop=True).copy()
        inv = ~self.dem.transform
        cols, rows = inv * (cells["x"].to_numpy(), cells["y"].to_numpy())
        cells["col"], cells["row"] = cols, rows
        ri = np.floor(rows).astype(int)
        ci = np.floor(cols).astype(int)
        inside = (ri >= 0) & (ri < self.shape[0]) & (ci >= 0) & (ci < self.shape[1])
        ok = inside.copy()
        ok[inside] = self.dem.valid_mask()[0][ri[inside], ci[inside]]
        if not ok.all():
            bad = cells.loc[~ok, "cell_id"]
            msg = (
                f"cells: {len(bad)} cell(s) lie outside the DEM or on its nodata "
                f"(first: {bad.iloc[0]!r} at x={cells.loc[~ok, 'x'].iloc[0]:.1f}, "
                f"y={cells.loc[~ok, 'y'].iloc[0]:.1f})"
            )
            if self.outside == "error":
                raise SourceError(msg + "; set outside='skip' to leave them out")
            self.warnings.append(msg + "; skipped")
            cells = cells[ok].reset_index(drop=True)
        if cells.empty:
            raise SourceError("cells: no cell lies on the DEM")
        return cells

    def _key(self, cell: pd.Series) -> str:
        """Identity of a cell's field: every column but its pixel position."""
        values = "|".join(f"{k}={cell[k]}" for k in sorted(cell.index) if k not in ("row", "col"))
        return hashlib.sha1(values.encode()).hexdigest()

    def with_changes(
        self, add: pd.DataFrame | None = None, remove: Iterable[str] = ()
    ) -> CoverageModel:
        """A model with cells added (prepared rows) and removed (by id), sharing this cache."""
        remove = set(map(str, remove))
        unknown = remove - set(self.cells["cell_id"])
        if unknown:
            raise ParameterError(f"remove: no cell with id {sorted(unknown)[0]!r}")
        cells = self.cells[~self.cells["cell_id"].isin(remove)]
        if add is not None and len(add):
            clash = set(add["cell_id"]) & set(cells["cell_id"])
            if clash:
                raise ParameterError(f"add: cell id {sorted(clash)[0]!r} already exists")
            cells = pd.concat([cells, add], ignore_index=True)
        new = object.__new__(CoverageModel)
        new.__dict__.update(self.__dict__)
        new.warnings = list(self.warnings)
        new.cells = new._locate(cells.drop(columns=["row", "col"], errors="ignore"))
        return new

    # ------------------------------------------------------------------ per cell

    def radius(self, cell: pd.Series) -> float:
        """Distance beyond which this cell cannot reach ``min_rsrp_dbm`` even unobstructed, m."""
        p = self.params
        cap = p.max_radius_m or VALIDITY[cell["scenario"]].d2d_nlos[1]
        d = np.arange(10.0, cap + self.resolution, self.resolution)
        pl = self._clear_loss(cell, d, np.hypot(d, cell["height_m"] - p.rx_height_m))[0]
        best = self._budget(cell) + cell["gain_dbi"] - pl
        reach = np.flatnonzero(best >= self._floor(cell))
        if not len(reach):
            return float(10.0 + self.resolution)
        return float(min(cap, d[reach[-1]] + self.resolution))

    def _floor(self, cell: pd.Series) -> float:
        """The weakest RSRP of this cell worth keeping, dBm."""
        p = self.params
        if p.min_rsrp_dbm is not None:
            return p.min_rsrp_dbm
        noise = THERMAL_NOISE_DBM_HZ + 10 * np.log10(cell["scs_khz"] * 1e3) + p.noise_figure_db
        return float(noise - p.noise_margin_db)

    def _budget(self, cell: pd.Series) -> float:
        p = self.params
        return float(cell["power_re_dbm"] - p.cable_loss_db - p.body_loss_db + p.rx_gain_dbi)

    def _clear_loss(
        self, cell: pd.Series, d2d: NDArray[np.floating], d3d: NDArray[np.floating]
    ) -> tuple[NDArray[np.floating], NDArray[np.floating], NDArray[np.uint8]]:
        """Loss where the terrain is clear, the NLOS loss, and their validity flags."""
        p = self.params
        los, nlos = los_nlos(
            cell["scenario"],
            d2d,
            d3d,
            cell["height_m"],
            p.rx_height_m,
            cell["fc_ghz"],
            p.building_height_m,
            p.street_width_m,
        )
        if p.los_mode == "terrain":
            clear = los.loss
        else:
            prob = los_probability(cell["scenario"], d2d, p.rx_height_m)
            # mean received power of the two conditions, relative to the LOS one
            # (keeps float32 far from underflow)
            rel = 10 ** ((los.loss - nlos.loss) / 10)
            clear = los.loss - 10 * np.log10(prob + (1 - prob) * rel)
        return clear, nlos.loss, los.flags | nlos.flags

    def _site(self, cell: pd.Series, radius: float) -> _SiteLoss:
        """Path loss from one antenna position to its pixels, shared by the sectors there."""
        key = (cell["x"], cell["y"], cell["height_m"], cell["fc_ghz"], cell["scenario"], radius)
        with self._lock:
            site = self._sites.get(key)
        if site is not None:
            return site
        p = self.params
        view = sweep(
            self.z,
            self.resolution,
            cell["row"],
            cell["col"],
            cell["height_m"],
            p.rx_height_m,
            radius,
            C / (cell["fc_ghz"] * 1e9),
            p.k_factor if p.terrain else np.inf,
            # only the region's pixels are kept: a window task's region is its window
            wanted=self.region[
                site_window(self.shape, cell["row"], cell["col"], radius / self.resolution)
            ],
            clutter_m=self.clutter_m if p.terrain else None,
        )
        rows, cols = view.rows, view.cols
        rr, cc = np.nonzero(view.inside & self.region[rows, cols])
        idx = (rr + rows.start) * self.shape[1] + (cc + cols.start)
        d2d = view.d2d[rr, cc]
        dz = np.float32(view.z_site + cell["height_m"] - p.rx_height_m) - self.z.ravel()[idx]
        d3d = np.hypot(d2d, dz)
        elevation = np.arctan2(dz, np.maximum(d2d, np.float32(0.1)))
        clear, nlos, flags = self._clear_loss(cell, d2d, d3d)
        blocked = view.blocked[rr, cc]
        loss = np.where(blocked, nlos + view.diffraction_db[rr, cc], clear)
        if self.clutter is not None:
            loss += self.clutter.ravel()[idx]
        counts = {f.name.lower(): int(np.count_nonzero(flags & f)) for f in Flag if f and f.name}
        # Compass bearing from the pixel offsets: cos b = north / d, sin b = east / d.
        north = ((rows.start + rr + 0.5 - cell["row"]) * -self.resolution).astype(np.float32)
        east = ((cols.start + cc + 0.5 - cell["col"]) * self.resolution).astype(np.float32)
        inv = np.float32(1.0) / np.maximum(d2d, np.float32(1e-3))
        at_site = d2d < np.float32(1e-3)
        # zenith = 90° + elevation below the horizon: cos z = -sin e, sin z = cos e
        dd = np.maximum(d3d, np.float32(1e-3))
        site = _SiteLoss(
            idx,
            np.where(at_site, np.float32(1.0), north * inv),
            np.where(at_site, np.float32(0.0), east * inv),
            -dz / dd,
            d2d / dd,
            (90.0 + np.degrees(elevation)).astype(np.float32),
            loss.astype(np.float32),
            {k: v for k, v in counts.items() if v},
        )
        with self._lock:
            self._sites[key] = site
            # Sectors of a site come one after another: a few recent sites suffice.
            while len(self._sites) > 2 * self.workers + 2:
                self._sites.pop(next(iter(self._sites)))
        return site

    def cell_field(self, cell: pd.Series) -> CellField:
        """RSRP of one cell on its window (cached when ``keep``)."""
        key = self._key(cell) if self.keep else ""
        cached = self._fields.get(key) if self.keep else None
        if cached is not None:
            return cached
        site = self._site(cell, self.radius(cell))
        gain = sector_gain_trig(
            site.cos_b,
            site.sin_b,
            site.cos_z,
            site.sin_z,
            site.zenith,
            float(cell["azimuth_deg"]),
            float(cell["downtilt_deg"]),
            float(cell["etilt_deg"]),
            float(cell["gain_dbi"]),
        )
        rsrp = gain - site.loss
        rsrp += np.float32(self._budget(cell))
        keep = rsrp >= np.float32(self._floor(cell))
        result = CellField(site.idx[keep], rsrp[keep], dict(site.flags))
        if self.keep:
            self._fields[key] = result
        return result

    def _groups(self) -> list[list[int]]:
        """Cell indices grouped by antenna position (cells are sorted by band, then site)."""
        groups: list[list[int]] = []
        last = None
        for i, r in enumerate(self.cells.itertuples(index=False)):
            here = (r.x, r.y, r.height_m, r.fc_ghz, r.scenario)
            if here != last:
                groups.append([])
                last = here
            groups[-1].append(i)
        return groups

    def fields(self) -> Iterator[tuple[int, CellField]]:
        """``(cell index, field)`` for every cell, in order, computed on ``workers`` threads.

        A task is one antenna position with all its sectors, so two threads never
        sweep the same site's terrain at once.
        """
        groups = self._groups()

        def work(group: list[int]) -> list[tuple[int, CellField]]:
            return [(i, self.cell_field(self.cells.iloc[i])) for i in group]

        if self.workers <= 1:
            for group in groups:
                yield from work(group)
            return
        # A bounded window of tasks in flight: results wait in memory only briefly.
        with ThreadPoolExecutor(self.workers) as pool:
            pending: deque[Future[list[tuple[int, CellField]]]] = deque()
            for group in groups:
                pending.append(pool.submit(work, group))
                if len(pending) > 2 * self.workers:
                    yield from pending.popleft().result()
            while pending:
                yield from pending.popleft().result()

    def band_sum(
        self,
        band: str,
        start: tuple[NDArray[np.float32], NDArray[np.float64], NDArray[np.int32]] | None = None,
    ) -> BandSum:
        """A running sum for ``band`` on this grid: empty, or taking over the grids ``start``."""
        return BandSum(band, self.shape, self._noise_mw(band), self.params.cell_load, start)

    def _band_sums(self, flags: dict[str, int], submit: Submit | None) -> Iterator[BandSum]:
        """Every band's best server and total power, counting validity flags into ``flags``."""

        def count(more: dict[str, int]) -> None:
            for k, v in more.items():
                flags[k] = flags.get(k, 0) + v

        if submit is not None and not self.keep:
            bands: dict[str, list[list[int]]] = {}
            for group in self._groups():
                bands.setdefault(str(self.cells["band"].iloc[group[0]]), []).append(group)
            yield from band_sums_submitted(self, list(bands.items()), self.workers, submit, count)
            return
        names = self.cells["band"].to_numpy()
        acc: BandSum | None = None
        for i, f in self.fields():
            if acc is None or acc.band != names[i]:
                if acc is not None:
                    yield acc
                acc = self.band_sum(str(names[i]))
            count(f.flags)
            acc.add(i, f)
        if acc is not None:
            yield acc

    # ------------------------------------------------------------------ all cells

    def run(self, submit: Submit | None = None) -> CoverageResult:
        """Best server, serving cell and SINR over the grid.

        Parameters
        ----------
        submit
            ``submit(fn, *args) -> Future``, as :meth:`concurrent.futures.Executor.submit`:
            without the what-if cache, each band's sites are shared out in ``workers``
            tasks through it (``twin`` passes a pool of processes forked at the first
            submit, which inherit this model; see :mod:`layers.coverage._sum`). None,
            or with ``keep`` (the cache lives in this process): ``workers`` threads,
            with the same RSRP and serving cell (the SINR's interference is summed in
            another order: equal to float64 rounding).
        """
        h, w = self.shape
        rsrp = np.full((h, w), -np.inf, dtype=np.float32)
        sinr = np.full((h, w), np.nan, dtype=np.float32)
        serving = np.full((h, w), -1, dtype=np.int32)
        flags: dict[str, int] = {}
        for acc in self._band_sums(flags, submit):
            acc.merge_into(rsrp, sinr, serving)
        rsrp[~np.isfinite(rsrp) | ~self.region] = np.nan
        sinr[np.isnan(rsrp)] = np.nan
        serving[np.isnan(rsrp)] = -1
        return self.result(rsrp, sinr, serving, flags)

    def result(
        self,
        rsrp: NDArray[np.float32],
        sinr: NDArray[np.float32],
        serving: NDArray[np.int32],
        flags: dict[str, int],
    ) -> CoverageResult:
        """Wrap best-server grids computed on this model's grid as a :class:`CoverageResult`."""
        ids = list(self.cells["cell_id"])
        t, crs = self.dem.transform, self.dem.crs
        tags = {"cell_ids": ",".join(ids)}
        return CoverageResult(
            rsrp=RasterData(rsrp, t, crs, float("nan"), ["rsrp"], ["dBm"], dict(tags)),
            sinr=RasterData(sinr, t, crs, float("nan"), ["sinr"], ["dB"], dict(tags)),
            serving=RasterData(serving, t, crs, -1, ["serving_cell"], [None], dict(tags)),
            cell_ids=ids,
            flags=flags,
            region=self.region,
        )

    def _noise_mw(self, band: str) -> float:
        """Thermal noise plus noise figure per resource element of ``band``, mW."""
        scs = float(self.cells.loc[self.cells["band"] == band, "scs_khz"].median())
        dbm = THERMAL_NOISE_DBM_HZ + 10 * np.log10(scs * 1e3) + self.params.noise_figure_db
        return float(10 ** (dbm / 10))


def compute_coverage(
    dem: RasterData,
    cells: pd.DataFrame,
    params: CoverageParams | None = None,
    submit: Submit | None = None,
    **kwargs,
) -> CoverageResult:
    """One-shot :class:`CoverageModel` run without the per-cell cache.

    ``submit`` is :meth:`CoverageModel.run`'s.
    """
    return CoverageModel(dem, cells, params, keep=False, **kwargs).run(submit)


__all__ = [
    "THERMAL_NOISE_DBM_HZ",
    "CellField",
    "CoverageModel",
    "CoverageResult",
    "compute_coverage",
]
