"""What a notebook adds to the workspace: rich layer listings, maps, progress and a tile server.

- :class:`Layers` is what ``Twin.layers`` returns: a read-only mapping of layer
  name to catalog entry whose HTML form (``_repr_html_``) is a table of kind,
  version, features or pixels, bounds and fields.
- :func:`explore` draws every layer on an interactive folium map, from the
  data or from a running tile server (see :mod:`twin.notebook._explore` for why folium).
- :class:`NotebookProgress` draws a build's progress with ``tqdm.auto``;
  ``Twin.build`` uses it by itself when it runs inside Jupyter.
- :func:`decorate_map` adds a north arrow and a scale bar to a static
  matplotlib map in a projected CRS (metres); no extra dependency.
- :class:`BackgroundServer` runs the tile server in a thread of the kernel so
  that a notebook can serve its own workspace and map it.

Examples
--------
>>> from twin import Twin
>>> t = Twin.open("demo-county")  # doctest: +SKIP
>>> t.layers  # doctest: +SKIP
>>> t.explore(["village_boundaries", "dem"])  # doctest: +SKIP
"""

from __future__ import annotations

import html
import math
import socket
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from tiles.catalog import LayerEntry
from twin.errors import TwinError

if TYPE_CHECKING:
    from twin.workspace import Twin

__all__ = [
    "BackgroundServer",
    "Layers",
    "NotebookProgress",
    "add_north_arrow",
    "add_scale_bar",
    "decorate_map",
    "explore",
    "in_notebook",
]

#: Field lists longer than this fold into a <details> element in the HTML table.
_FIELDS_SHOWN = 8


# -- the layer listing --------------------------------------------------------------------------


class Layers(Mapping[str, LayerEntry]):
    """Every published layer's catalog entry, by name, with a table for notebooks.

    It behaves like the ``dict`` it wraps (``layers["roads"].version``,
    ``list(layers)``, ``layers.items()``) and is read-only: layers change by
    building, not by editing this mapping.

    Examples
    --------
    >>> layers = Layers({}, workspace="Demo")
    >>> len(layers), layers.to_frame().empty
    (0, True)
    """

    def __init__(
        self, entries: Mapping[str, LayerEntry], workspace: str = "", updated: str = ""
    ) -> None:
        self._entries = dict(entries)
        self.workspace = workspace
        self.updated = updated

    def __getitem__(self, name: str) -> LayerEntry:
        return self._entries[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def to_frame(self) -> pd.DataFrame:
        """One row per layer: title, kind, version, count, geometry or bands, bounds, fields."""
        rows = []
        for name, e in self._entries.items():
            rows.append(
                {
                    "name": name,
                    "title": e.title,
                    "kind": e.kind,
                    "version": e.version,
                    "count": e.count,
                    "geometry": e.geometry_type if e.kind == "vector" else _bands_text(e),
                    "crs": e.crs,
                    "bounds": tuple(e.bounds),
                    "fields": len(e.fields),
                    "parent": e.parent,
                }
            )
        columns = ["title", "kind", "version", "count", "geometry", "crs", "bounds", "fields"]
        frame = pd.DataFrame(rows, columns=["name", *columns, "parent"])
        return frame.set_index("name")

    def __repr__(self) -> str:
        if not self._entries:
            return f"<Layers of {self.workspace!r}: none published yet>"
        lines = [f"<Layers of {self.workspace!r}: {len(self)} published>"]
        width = max(len(n) for n in self._entries)
        for name, e in self._entries.items():
            lines.append(f"  {name:<{width}}  {e.kind:<6}  {e.version}  {_count_text(e)}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        esc = html.escape
        head = f"{len(self)} layer{'s' if len(self) != 1 else ''}"
        if self.workspace:
            head += f" in <b>{esc(self.workspace)}</b>"
        if self.updated:
            head += f", updated {esc(self.updated)}"
        if not self._entries:
            return f"<div class='twin-layers'><p>{head}: none published yet (run build).</p></div>"
        columns = ["layer", "kind", "version", "features / pixels", "bounds (WGS84)", "fields"]
        header = "".join(f"<th style='text-align:left'>{c}</th>" for c in columns)
        rows = "".join(_html_row(name, e) for name, e in self._entries.items())
        return (
            "<div class='twin-layers'>"
            f"<p>{head}</p>"
            f"<table><thead><tr>{header}</tr></thead><tbody>{rows}</tbody></table>"
            "</div>"
        )


def _count_text(e: LayerEntry) -> str:
    if e.count is None:
        return ""
    if e.kind == "vector":
        return f"{e.count:,} feature{'s' if e.count != 1 else ''}"
    res = f" at {e.resolution:g} m" if e.resolution else ""
    return f"{e.count:,} pixels{res}"


def _bands_text(e: LayerEntry) -> str:
    return ", ".join(f"{b.name} ({b.unit})" if b.unit else b.name for b in e.bands)


def _html_row(name: str, e: LayerEntry) -> str:
    esc = html.escape
    w, s, east, n = e.bounds
    bounds = f"{w:.4f}, {s:.4f}, {east:.4f}, {n:.4f}"
    layer = f"<b>{esc(name)}</b><br><small>{esc(e.title)}</small>"
    if e.parent:
        layer += f"<br><small>(built with {esc(e.parent)})</small>"
    kind = esc(e.kind)
    if e.kind == "vector" and e.geometry_type:
        kind += f"<br><small>{esc(e.geometry_type)}</small>"
    if e.kind == "raster":
        items = [
            f"{esc(b.name)} <small>{esc(b.dtype)}{', ' + esc(b.unit) if b.unit else ''}</small>"
            for b in e.bands
        ]
        label = f"{len(e.bands)} band{'s' if len(e.bands) != 1 else ''}"
    else:
        items = [f"{esc(f)} <small>{esc(t)}</small>" for f, t in e.fields.items()]
        label = f"{len(e.fields)} field{'s' if len(e.fields) != 1 else ''}"
    fields = ", ".join(items)
    if len(items) > _FIELDS_SHOWN:
        fields = f"<details><summary>{label}</summary>{fields}</details>"
    cells = [layer, kind, esc(e.version), esc(_count_text(e)), esc(bounds), fields]
    return "<tr>" + "".join(f"<td style='text-align:left'>{c}</td>" for c in cells) + "</tr>"


# -- build progress -----------------------------------------------------------------------------


def in_notebook() -> bool:
    """Whether this code runs in a Jupyter kernel (IPython's ZMQ shell)."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    shell = ipython.get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


class NotebookProgress:
    """Build progress as a ``tqdm.auto`` bar: a widget in Jupyter, text elsewhere.

    Why tqdm rather than rich (which the CLI uses): ``tqdm.auto`` picks the
    ipywidgets bar in Jupyter and a plain text bar anywhere else by itself,
    it is what analysts already see from geopandas/osmnx-style tools, and its
    widget updates in place, whereas rich's live display in Jupyter re-renders
    whole HTML outputs. One bar counts layers; each built, skipped or failed
    layer also gets a line, kept in :attr:`lines` for later inspection.
    """

    def __init__(self, **tqdm_kwargs: Any) -> None:
        self._kwargs = tqdm_kwargs
        self._bar: Any = None
        self.lines: list[str] = []

    def _write(self, line: str) -> None:
        self.lines.append(line)
        if self._bar is not None:
            # Lines go where the bar goes when a file was given (tqdm's default: stdout).
            self._bar.write(line, file=self._kwargs.get("file"))

    def _advance(self) -> None:
        if self._bar is None:
            return
        self._bar.update(1)
        if self._bar.n >= (self._bar.total or 0):
            self._bar.set_description("built")
            self._bar.close()

    def plan(self, names: list[str]) -> None:
        from tqdm.auto import tqdm

        kwargs = {"desc": "building", "unit": "layer", **self._kwargs}
        self._bar = tqdm(total=len(names), **kwargs)
        if not names:
            self._bar.close()

    def skip(self, name: str, reason: str) -> None:
        self._write(f"skipped {name}: {reason}")
        self._advance()

    def start(self, name: str) -> None:
        if self._bar is not None:
            self._bar.set_description(f"building {name}")

    def finish(self, name: str, version: str, seconds: float) -> None:
        self._write(f"built {name} {version} ({seconds:.1f} s)")
        self._advance()

    def fail(self, name: str, message: str) -> None:
        self._write(f"failed {message}")
        self._advance()


def progress_events(progress: bool | None) -> NotebookProgress | None:
    """The events a build reports to: a progress bar if asked, or by default inside Jupyter."""
    if progress is None:
        progress = in_notebook()
    return NotebookProgress() if progress else None


# -- the interactive map ------------------------------------------------------------------------


def explore(
    twin: Twin,
    layers: str | list[str] | None = None,
    server: str | None = None,
    **kwargs: Any,
) -> Any:
    """An interactive folium map of ``layers`` (default: every published layer).

    Parameters
    ----------
    twin
        The workspace.
    layers
        A layer name or names; default every layer.
    server
        A running tile server's URL (``http://127.0.0.1:8000``): draw its PNG
        and MVT tiles instead of reading the data.
    **kwargs
        Passed to :func:`twin.notebook._explore.map_from_data` (``max_features``,
        ``tolerance``, ``raster_size``, ``basemap``, ``height``) or
        :func:`twin.notebook._explore.map_from_server` (``timeout``, ``basemap``, ``height``).

    Returns
    -------
    folium.Map
        Renders in the notebook as self-contained HTML; ``.save("map.html")`` keeps it.
    """
    from twin.notebook import _explore

    names = [layers] if isinstance(layers, str) else layers
    if server is not None:
        return _explore.map_from_server(server, names, **kwargs)
    return _explore.map_from_data(twin, names, **kwargs)


# -- static maps --------------------------------------------------------------------------------


def add_north_arrow(ax: Any, xy: tuple[float, float] = (0.94, 0.86), size: float = 0.08) -> Any:
    """Draw a north arrow in axes fraction coordinates (the map must be north-up).

    Grid north of the working CRS (a Gauss-Krüger zone) is within a fraction of
    a degree of true north near its central meridian, so "up" is north.
    """
    x, y = xy
    return ax.annotate(
        "N",
        xy=(x, y + size),
        xytext=(x, y),
        xycoords="axes fraction",
        textcoords="axes fraction",
        ha="center",
        va="top",
        fontsize=12,
        fontweight="bold",
        arrowprops={"facecolor": "black", "edgecolor": "black", "width": 4, "headwidth": 12},
        zorder=10,
    )


def nice_length(span: float, fraction: float = 0.25) -> float:
    """A round length (1, 2 or 5 times a power of ten) near ``fraction`` of ``span``.

    Examples
    --------
    >>> nice_length(40_000), nice_length(7_300), nice_length(900)
    (10000.0, 1000.0, 200.0)
    """
    if span <= 0 or not math.isfinite(span):
        raise ValueError(f"span must be a positive length, got {span}")
    target = span * fraction
    power = 10 ** math.floor(math.log10(target))
    for step in (5, 2, 1):
        if step * power <= target:
            return float(step * power)
    return float(power)  # pragma: no cover - step 1 always fits


def add_scale_bar(
    ax: Any, units_per_metre: float = 1.0, loc: tuple[float, float] = (0.05, 0.05)
) -> float:
    """Draw a two-segment black and white scale bar; return its length in metres.

    ``units_per_metre`` converts metres to the axes' data units (1 for a
    metric projected CRS such as EPSG:4549). ``loc`` is the lower left corner
    in axes fraction.
    """
    from matplotlib.patches import Rectangle

    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    length_m = nice_length(abs(x1 - x0) / units_per_metre)
    length = length_m * units_per_metre
    height = abs(y1 - y0) * 0.012
    left = min(x0, x1) + abs(x1 - x0) * loc[0]
    bottom = min(y0, y1) + abs(y1 - y0) * loc[1]
    for i, color in enumerate(("black", "white")):
        ax.add_patch(
            Rectangle(
                (left + i * length / 2, bottom),
                length / 2,
                height,
                facecolor=color,
                edgecolor="black",
                linewidth=0.8,
                zorder=10,
            )
        )
    label = f"{length_m / 1000:g} km" if length_m >= 1000 else f"{length_m:g} m"
    ax.text(
        left + length / 2,
        bottom + height * 1.6,
        label,
        ha="center",
        va="bottom",
        fontsize=9,
        zorder=10,
    )
    # Patches do not move the limits back: keep the map exactly where it was.
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    return length_m


def decorate_map(ax: Any, title: str | None = None, crs: str | None = None) -> Any:
    """Make ``ax`` a static map: equal aspect, axis labels in metres, north arrow, scale bar.

    ``crs`` (such as ``"EPSG:4549"``) is named in the axis labels.
    """
    ax.set_aspect("equal")
    where = f" ({crs})" if crs else ""
    ax.set_xlabel(f"Easting, m{where}")
    ax.set_ylabel("Northing, m")
    ax.ticklabel_format(style="plain", useOffset=False)
    ax.tick_params(labelsize=7)
    if title:
        ax.set_title(title)
    add_north_arrow(ax)
    add_scale_bar(ax)
    return ax


# -- a tile server in the kernel ----------------------------------------------------------------


class BackgroundServer:
    """The tile server for a workspace, running in a daemon thread of this process.

    Meant for notebooks: start it, point :func:`explore` (``server=url``) or a
    browser at :attr:`url`, stop it when done (or use it as a context manager).
    ``twin serve`` is the way to run a server for other people.

    Examples
    --------
    >>> with BackgroundServer(t) as url:  # doctest: +SKIP
    ...     m = t.explore(server=url)
    """

    def __init__(self, twin: Twin, host: str = "127.0.0.1", port: int = 0) -> None:
        self.catalog_path = Path(twin.catalog_path)
        self.host = host
        self.port = port or _free_port(host)
        self.url = f"http://{host}:{self.port}"
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def start(self, timeout: float = 30.0) -> str:
        """Start serving; return the URL once the server accepts connections."""
        import uvicorn

        from tiles import create_app
        from tiles.settings import Settings

        if not self.catalog_path.is_file():
            raise TwinError(f"{self.catalog_path}: no catalog to serve (run build first)")
        settings = Settings(public_url=self.url, reload_interval=1.0)
        app = create_app(self.catalog_path, settings)
        config = uvicorn.Config(app, host=self.host, port=self.port, log_level="warning")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="twin-tiles", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise TwinError(f"{self.url}: the tile server did not start within {timeout:g} s")
            time.sleep(0.05)
        return self.url

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the server to finish its requests and exit; wait up to ``timeout`` seconds."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
        self._server = None
        self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<BackgroundServer {self.url} {state}>"


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])
