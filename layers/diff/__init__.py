"""What changed between two versions of a layer.

- :mod:`~layers.diff.vector`: features added, removed and changed, matched by id, with
  the fields that changed and how far geometries moved;
- :mod:`~layers.diff.raster`: the difference grid's statistics, per zone too, walked
  block by block (:mod:`layers.blocks`), and the share of each zone covered by 5G
  gained and lost (:func:`coverage_change`);
- :mod:`~layers.diff.params`: :class:`DiffParams`, the parameters of a ``diff`` layer.
"""

from layers.diff.params import DiffParams
from layers.diff.raster import Covered, RasterDiff, coverage_change, raster_diff
from layers.diff.vector import CHANGES, VectorDiff, diff_features, vector_diff

__all__ = [
    "CHANGES",
    "Covered",
    "DiffParams",
    "RasterDiff",
    "VectorDiff",
    "coverage_change",
    "diff_features",
    "raster_diff",
    "vector",
    "vector_diff",
]
