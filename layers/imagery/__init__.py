"""Orthophoto mosaics: sheets in any CRS, collars masked, converted to COGs and indexed.

- :mod:`~layers.imagery.sheets`: which files a delivery is, and each sheet's header
  (CRS from the file, a ``.prj`` or the source; world files for JPEG);
- :mod:`~layers.imagery.collar`: the black or white borders to mask;
- :mod:`~layers.imagery.convert`: one sheet into a COG in the working CRS;
- :mod:`~layers.imagery.mosaic`: every sheet, the footprint index and the overview.
"""

from layers.imagery.mosaic import (
    ImageryParams,
    Mosaic,
    SheetSource,
    build_mosaic,
    plan_sheets,
)

__all__ = [
    "ImageryParams",
    "Mosaic",
    "SheetSource",
    "build_mosaic",
    "collar",
    "convert",
    "mosaic",
    "plan_sheets",
    "sheets",
]
