"""What a notebook adds to the workspace: rich layer listings, maps, progress and a tile server.

- :class:`Layers` is what ``Twin.layers`` returns: a read-only mapping of layer
  name to catalog entry whose HTML form (``_repr_html_``) is a table of kind,
  version, features or pixels, bounds and fields; :class:`Raster` is what
  ``Twin.layer`` returns for a raster layer. Both are plain views defined in
  :mod:`twin.handles`, next to the workspace, and listed here for notebooks.
- :func:`explore` draws every layer on an interactive MapLibre map that works
  offline (an :class:`ExploreMap`: one HTML document with everything inlined),
  from the data or from a running tile server.
- :class:`NotebookProgress` draws a build's progress with ``tqdm.auto``;
  ``Twin.build`` uses it by itself (through :func:`progress_events`) when it
  runs inside Jupyter.
- :func:`decorate_map` adds a north arrow and a scale bar to a static
  matplotlib map in a projected CRS (metres); no extra dependency.
- :class:`BackgroundServer` runs the tile server in a thread of the kernel so
  that a notebook can serve its own workspace and map it.

This package sits on top of :class:`twin.Twin`: it takes a ``Twin`` and draws
what it reads. ``Twin`` imports it only inside the methods that hand over to
it (``explore``, ``build(progress=...)``), never when ``twin.workspace`` loads.

Examples
--------
>>> from twin import Twin
>>> t = Twin.open("demo-county")  # doctest: +SKIP
>>> t.layers  # doctest: +SKIP
>>> t.explore(["village_boundaries", "dem"])  # doctest: +SKIP
"""

from twin.handles import Layers, Raster
from twin.notebook._explore import ExploreMap, explore
from twin.notebook._progress import NotebookProgress, in_notebook, progress_events
from twin.notebook._server import BackgroundServer
from twin.notebook._static import add_north_arrow, add_scale_bar, decorate_map, nice_length

__all__ = [
    "BackgroundServer",
    "ExploreMap",
    "Layers",
    "NotebookProgress",
    "Raster",
    "add_north_arrow",
    "add_scale_bar",
    "decorate_map",
    "explore",
    "in_notebook",
    "nice_length",
    "progress_events",
]
