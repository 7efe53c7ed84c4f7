"""OneMap Twin: a county's one map, from GIS sources to high-precision tiles.

Every process is started by :mod:`twin._executors` (``layers`` and ``tiles``
take a ``map`` or ``submit`` from their caller); :func:`forked_pool` is the
one to hand them outside a build.

Examples
--------
>>> from twin import Twin
>>> t = Twin.open("demo-county")  # doctest: +SKIP
>>> t.stats()  # doctest: +SKIP
"""

from twin._version import __version__
from twin.errors import BuildError, ConfigError, TwinError, WorkspaceError

__all__ = [
    "BuildError",
    "ConfigError",
    "Twin",
    "TwinError",
    "WorkspaceError",
    "__version__",
    "forked_pool",
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
