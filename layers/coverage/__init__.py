"""5G coverage: cell sites + DEM -> best-server SS-RSRP, SINR and serving-cell rasters.

- :mod:`layers.coverage.model`: where a coverage raster is computed:
  :class:`CoverageModel` (TR 38.901 path loss, terrain line of sight and diffraction,
  sector antennas, link budget) and its parameters;
- :mod:`layers.coverage.cells`: :func:`prepare_cells`, a sites table checked and
  completed into cells;
- :mod:`layers.coverage.propagation`, :mod:`~layers.coverage.antenna`,
  :mod:`~layers.coverage.terrain`: the formulas, each against its standard;
- :mod:`layers.coverage.windows`: the model window by window (bounded memory, a cluster);
- :mod:`layers.coverage.zones`: coverage shares per zone, coverage polygons, what-if runs.
"""

from layers.coverage.cells import prepare_cells
from layers.coverage.model import CoverageModel, CoverageParams, CoverageResult, compute_coverage
from layers.coverage.zones import coverage_polygons, coverage_share, covered_mask, what_if

__all__ = [
    "CoverageModel",
    "CoverageParams",
    "CoverageResult",
    "antenna",
    "cells",
    "compute_coverage",
    "coverage_polygons",
    "coverage_share",
    "covered_mask",
    "prepare_cells",
    "propagation",
    "terrain",
    "what_if",
    "windows",
    "zones",
]
