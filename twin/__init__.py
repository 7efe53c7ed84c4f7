"""OneMap Twin: a county's one map, from GIS sources to high-precision tiles.

Examples
--------
>>> from twin import Twin
>>> t = Twin.open("demo-county")  # doctest: +SKIP
>>> t.stats()  # doctest: +SKIP
"""

from twin._version import __version__
from twin.errors import BuildError, ConfigError, TwinError, WorkspaceError

__all__ = ["BuildError", "ConfigError", "Twin", "TwinError", "WorkspaceError", "__version__"]


def __getattr__(name: str) -> object:
    # Importing the workspace pulls in geopandas and rasterio; keep `import twin` light.
    if name == "Twin":
        from twin.workspace import Twin

        return Twin
    raise AttributeError(name)
