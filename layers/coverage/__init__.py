"""5G coverage: cell sites + DEM -> best-server SS-RSRP, SINR and serving-cell rasters.

- :mod:`layers.coverage.pipeline`: :func:`run_coverage`, a whole coverage layer (grid,
  region mask, clutter, the model run, checks, cells, zones, polygons) in one call;
- :mod:`layers.coverage.params`: :class:`CoverageParams`, every parameter of a run (what
  ``twin.toml`` validates a coverage layer's ``params`` with);
- :mod:`layers.coverage.model`: :class:`CoverageModel` (TR 38.901 path loss, terrain
  line of sight and diffraction, sector antennas, link budget);
- :mod:`layers.coverage.cells`: :func:`prepare_cells`, a sites table checked and
  completed into cells;
- :mod:`layers.coverage.propagation`, :mod:`~layers.coverage.antenna`,
  :mod:`~layers.coverage.terrain`: the formulas, each against its standard;
- :mod:`layers.coverage.windows`: the model window by window (bounded memory, a cluster);
- :mod:`layers.coverage.clutter`: land-cover classes, their losses and heights on the grid;
- :mod:`layers.coverage.zones`: coverage shares per zone, coverage polygons, what-if runs;
- :mod:`layers.coverage.calibration`, :mod:`~layers.coverage.measured`,
  :mod:`~layers.coverage.shadowing`: drive-test measurements, the model's error at them,
  calibration (Huber fit, route-grouped cross-validation), location reliability.
"""

from layers.coverage.cells import prepare_cells
from layers.coverage.model import CoverageModel, CoverageResult, compute_coverage
from layers.coverage.params import CoverageParams
from layers.coverage.pipeline import CoveragePipelineResult, run_coverage
from layers.coverage.zones import coverage_polygons, coverage_share, covered_mask, what_if

__all__ = [
    "CoverageModel",
    "CoverageParams",
    "CoveragePipelineResult",
    "CoverageResult",
    "antenna",
    "calibration",
    "cells",
    "clutter",
    "compute_coverage",
    "coverage_polygons",
    "coverage_share",
    "covered_mask",
    "labels",
    "measured",
    "prepare_cells",
    "propagation",
    "run_coverage",
    "shadowing",
    "terrain",
    "what_if",
    "windows",
    "zones",
]
