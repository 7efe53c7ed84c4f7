"""OneMap Twin: a county's one map, from GIS sources to high-precision tiles.

:class:`Twin` (in :mod:`~twin.workspace`) is the notebook API over a workspace; the
``twin`` command is :mod:`~twin.cli`. Where things live:

- the workspace: ``twin.toml`` read by :mod:`~twin.config`, artifacts written and read
  back by :mod:`~twin.artifacts`;
- building a layer: the graph (fingerprints, incremental rebuilds, atomic publishing)
  in :mod:`~twin.build`; each layer kind is a builder in :mod:`twin.builders`, which
  hands the geoprocessing to :mod:`layers`;
- processes: every one is started in ``twin._executors`` (the build's process pool
  or Dask cluster, coverage and export workers; ``layers`` and ``tiles`` take a
  ``map`` or ``submit`` from their caller, and :func:`forked_pool` is the one to hand
  them outside a build; GDAL's environment for them in :mod:`~twin.gdal_env`), and
  Ctrl-C ends them in ``twin._interrupt``;
- :mod:`~twin.diff` compares two published versions of a layer (``twin diff``, ``Twin.diff``);
- :mod:`twin.demo` generates the demo county, :mod:`twin.notebook` draws maps and
  progress in Jupyter; :mod:`~twin.errors` holds :class:`TwinError` and its kinds.

Logging goes to the ``twin`` logger (a :class:`logging.NullHandler` only; the ``twin``
command shows it on stderr with ``--verbose``).

Examples
--------
>>> from twin import Twin
>>> t = Twin.open("demo-county")  # doctest: +SKIP
>>> t.stats()  # doctest: +SKIP
"""

import logging

from twin._version import __version__
from twin.errors import BuildError, ConfigError, TwinError, WorkspaceError

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "BuildError",
    "ConfigError",
    "Twin",
    "TwinError",
    "WorkspaceError",
    "__version__",
    "artifacts",
    "build",
    "builders",
    "cli",
    "config",
    "demo",
    "errors",
    "forked_pool",
    "gdal_env",
    "notebook",
    "workspace",
]


def __getattr__(name: str) -> object:
    # Importing the workspace pulls in geopandas and rasterio; keep `import twin` light.
    if name == "Twin":
        from twin.workspace import Twin

        return Twin
    if name == "forked_pool":
        from twin._executors import forked_pool

        return forked_pool
    raise AttributeError(name)
