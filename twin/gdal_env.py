"""GDAL settings the build needs in every process it starts.

The tile server asks GDAL to skip its VRT driver (``GDAL_SKIP=VRT``): a
published artifact must never make the server read other files. Builds are
the opposite case: warping and COG overviews use VRT datasets internally. A
build process that inherits ``GDAL_SKIP=VRT`` (from a shell, or from a
process that also runs the tile server) fails with GDAL's "Unknown error",
so the CLI and the build's worker processes take VRT off the list before
GDAL starts. A script or notebook that starts its own Dask cluster for
``Twin.build(scheduler=...)`` calls :func:`allow_vrt` before the cluster starts.
"""

from __future__ import annotations

import os

__all__ = ["allow_vrt"]


def allow_vrt(environ: os._Environ[str] | dict[str, str] = os.environ) -> None:
    """Remove ``VRT`` from ``GDAL_SKIP`` (effective for GDAL started after this call)."""
    value = environ.get("GDAL_SKIP")
    if value is None:
        return
    # GDAL_SKIP is a space (or comma) separated list of driver names.
    kept = [d for d in value.replace(",", " ").split() if d.upper() != "VRT"]
    if kept:
        environ["GDAL_SKIP"] = " ".join(kept)
    else:
        del environ["GDAL_SKIP"]
