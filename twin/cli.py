"""The ``twin`` command line.

Like git, every command works on the workspace in the current directory (or
its nearest parent holding a ``twin.toml``), or on the one ``-w/--workspace``
names. Errors are one line on stderr and exit code 1; ``--debug`` shows the
traceback instead. Ctrl-C is one line and exit code 130 (:mod:`twin._interrupt`).
"""

from __future__ import annotations

import gc
import sys

from twin import _interrupt

#: the garbage collector's youngest-generation threshold in the `twin` command (Python's: 700)
GC_THRESHOLD = 50_000

# Run as the `twin` command rather than imported (tests, notebooks, or multiprocessing's
# forkserver, which imports the command's script as "__mp_main__"): Ctrl-C is handled
# from here on, through the heavy imports below.
_launched = sys.modules["__main__"]
if __name__ == "__main__" or (
    _launched.__name__ == "__main__"
    and (getattr(_launched, "__file__", None) or "").endswith("/twin")
):
    _interrupt.install()
    # Starting a command creates some 60,000 objects the collector tracks, nearly all
    # living until it ends (modules, classes, pydantic schemas): at Python's threshold it
    # runs some 140 times over them, 0.05 s of a small export; at ours a dozen times.
    # Rarer young collections still find every reference cycle.
    gc.set_threshold(GC_THRESHOLD, *gc.get_threshold()[1:])

try:
    import json
    import logging
    import time
    from collections.abc import Callable, Iterator
    from contextlib import contextmanager
    from dataclasses import asdict
    from functools import wraps
    from pathlib import Path
    from typing import TYPE_CHECKING, Annotated, Any, TypeVar

    import typer
    from rich.console import Console

    # Nothing of layers/ or tiles/ at load: `twin --help` and light commands start in a
    # fraction of a second; each command imports what it needs (geopandas, rasterio,
    # pyogrio and fastapi come in through them).
    from twin._version import __version__
    from twin.errors import BuildError, TwinError
    from twin.gdal_env import allow_vrt
except KeyboardInterrupt:  # Ctrl-C while the command starts: nothing has run
    _interrupt.leave()

if TYPE_CHECKING:  # rich's progress bars and tables load in the commands that draw them
    from rich.progress import Progress

app = typer.Typer(
    name="twin",
    help="Build a county's one map (villages, 5G coverage, roads) and serve it as tiles.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

F = TypeVar("F", bound=Callable[..., Any])


class _State:
    workspace: Path | None = None
    debug: bool = False


state = _State()

WorkspaceOpt = Annotated[
    Path | None,
    typer.Option(
        "-w",
        "--workspace",
        help="Workspace directory (default: the current one or its nearest parent).",
        show_default=False,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors.")]


#: the base errors of the packages below twin, said in one line like twin's own
_PACKAGE_ERRORS = (("layers.errors", "LayerError"), ("tiles.errors", "TilesError"))


def _said_errors() -> tuple[type[BaseException], ...]:
    """The errors :func:`_errors` says in one line.

    A package's errors are looked up only if it was imported: one never
    imported raised nothing, and the CLI imports ``layers`` and ``tiles`` only
    in the commands that use them.
    """
    kinds: list[type[BaseException]] = [TwinError, OSError]
    for module, name in _PACKAGE_ERRORS:
        loaded = sys.modules.get(module)
        if loaded is not None:
            kinds.append(getattr(loaded, name))
    return tuple(kinds)


def _errors(fn: F) -> F:
    """Turn the project's errors into one line on stderr and exit code 1."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            if _interrupt.interrupted():
                # after Ctrl-C any error is the interruption, perhaps wrapped by a library
                # (pydantic building a schema during an import): say that, not the error
                _interrupt.leave()
            if state.debug or not isinstance(exc, _said_errors()):
                raise
            if isinstance(exc, BuildError) and hasattr(exc, "report"):
                for message in exc.report.failed.values():
                    err.print(f"twin: error: {message}", markup=False)
            else:
                err.print(f"twin: error: {_message(exc)}", markup=False)
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


def _message(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.filename:
        return f"{exc.filename}: {exc.strerror or exc}"
    return str(exc)


def _where(workspace: Path | None) -> tuple[Path, bool]:
    """Where the workspace is: the directory given, or the current one or a parent."""
    chosen = workspace or state.workspace
    return (chosen, False) if chosen is not None else (Path.cwd(), True)


@contextmanager
def _tile_progress(label: str, shown: bool) -> Iterator[Callable[[int, int], None] | None]:
    """A bar of the tiles exported, with tiles/s, on stderr (None: none shown)."""
    if not shown:
        yield None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    columns = [
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]:>8.0f} tiles/s"),
        TimeElapsedColumn(),
    ]
    with Progress(*columns, console=err) as progress:
        task = progress.add_task(label, total=None, rate=0.0)
        start = time.perf_counter()

        def advance(done: int, total: int) -> None:
            rate = done / max(time.perf_counter() - start, 1e-9)
            progress.update(task, completed=done, total=total, rate=rate)

        yield advance


def _open(workspace: Path | None) -> Any:
    from twin.workspace import Twin

    path, search_up = _where(workspace)
    return Twin.open(path, search_up=search_up)


def _prepare_reprojection(workspace: Path | None, names: list[str]) -> None:
    """Start PROJ's search for each named vector layer's CRS to Web Mercator (the grid of
    tile archives) in a thread, before the workspace opens: it runs while the workspace's
    and the export's modules load (:mod:`tiles.proj`). Only a head start: what cannot be
    read here is left for the export to report.
    """
    from pyproj.exceptions import CRSError

    from tiles.catalog import read_catalog
    from tiles.errors import TilesError
    from tiles.grids import get_grid
    from tiles.proj import prepare
    from twin._layout import catalog_path, find_workspace

    try:
        published = read_catalog(catalog_path(find_workspace(*_where(workspace)))).layers
        mercator = get_grid("WebMercatorQuad").crs
        wanted = (published[n] for n in names if n in published)
        for crs in dict.fromkeys(e.crs for e in wanted if e.kind == "vector" and e.crs):
            prepare(crs, mercator)
    except (TwinError, TilesError, OSError, CRSError):
        return


def _version(value: bool) -> None:
    if value:
        out.print(f"twin {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    workspace: WorkspaceOpt = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
    verbose: Annotated[
        int,
        typer.Option(
            "--verbose", "-v", count=True, help="Log what runs on stderr (-v: INFO, -vv: DEBUG)."
        ),
    ] = 0,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    state.workspace = workspace
    state.debug = debug
    _log_to_stderr(verbose)


#: the packages whose loggers the command shows
LOGGERS = ("twin", "layers", "tiles")


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is now (typer's test runner swaps it per call)."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


_handler = _StderrHandler()
_handler.setFormatter(logging.Formatter("twin: %(levelname)s: %(name)s: %(message)s"))


def _log_to_stderr(verbose: int) -> None:
    """Show the packages' log records at WARNING (default), INFO (-v) or DEBUG (-vv).

    The libraries only add a :class:`logging.NullHandler`; the command is the
    application, so it is the one place that decides what reaches the terminal.
    Nothing goes to stdout, which stays the command's output.
    """
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    for name in LOGGERS:
        logger = logging.getLogger(name)
        logger.setLevel(level)
        if _handler not in logger.handlers:
            logger.addHandler(_handler)


class _ProgressEvents:
    """Draw a build's progress with rich: one bar over the layers, one line per layer."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task = progress.add_task("building", total=0)
        self.started: dict[str, float] = {}

    def plan(self, names: list[str]) -> None:
        self.progress.update(self.task, total=len(names))

    def skip(self, name: str, reason: str) -> None:
        self.progress.console.print(f"[dim]skipped[/] {name}: {reason}")
        self.progress.advance(self.task)

    def start(self, name: str) -> None:
        self.started[name] = time.perf_counter()
        self.progress.update(self.task, description=f"building {name}")

    def finish(self, name: str, version: str, seconds: float) -> None:
        self.progress.console.print(f"[green]built[/] {name} {version} ({seconds:.1f} s)")
        self.progress.advance(self.task)

    def fail(self, name: str, message: str) -> None:
        self.progress.console.print(f"[red]failed[/] {message}", markup=True)
        self.progress.advance(self.task)


def _run_build(build: Callable[[Any], Any], quiet: bool, as_json: bool) -> Any:
    """Run ``build(events)`` with a progress display unless quiet or JSON."""
    if quiet or as_json:
        return build(None)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn

    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=out, transient=True) as progress:
        return build(_ProgressEvents(progress))


def _print_report(report: Any, as_json: bool, quiet: bool) -> None:
    if as_json:
        out.print_json(json.dumps(report.as_dict()))
    elif not quiet:
        for name, warnings in report.warnings.items():
            for w in warnings:
                err.print(f"twin: warning: {name}: {w}", markup=False)
        failed = f", {len(report.failed)} failed" if report.failed else ""
        out.print(f"{len(report.built)} built, {len(report.skipped)} skipped{failed}")


def _build_and_report(build: Callable[[Any], Any], quiet: bool, as_json: bool) -> Any:
    """Run ``build(events)`` and print its report, also when a layer failed.

    The layers that did publish, their warnings and the counts are said before
    the failure's one-line errors (:func:`_errors`) and exit code 1.
    """
    try:
        report = _run_build(build, quiet, as_json)
    except BuildError as exc:
        if hasattr(exc, "report"):
            _print_report(exc.report, as_json, quiet)
        raise
    if report is not None:
        _print_report(report, as_json, quiet)
    return report


@app.command()
@_errors
def build(
    layers: Annotated[
        list[str] | None, typer.Argument(help="Layers to build (default: all).")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Rebuild even if unchanged.")] = False,
    workers: Annotated[
        int, typer.Option("--workers", "-j", min=1, help="Independent layers built at once.")
    ] = 1,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what would be built.")] = False,
    scheduler: Annotated[
        str | None,
        typer.Option(
            "--scheduler",
            envvar="TWIN_SCHEDULER",
            help="Run layer jobs on a Dask scheduler (tcp://host:8786) or local:N processes.",
        ),
    ] = None,
    quiet: QuietOpt = False,
    as_json: JsonOpt = False,
    workspace: WorkspaceOpt = None,
) -> None:
    """Build the layers whose inputs, parameters or builder changed, and publish them.

    A layer is rebuilt only when its fingerprint changes; what is skipped is
    said. Publishing is atomic: a failed or interrupted build leaves the
    previous version published.
    """
    twin = _open(workspace)
    _interrupt.watch_catalog(twin.catalog_path)
    if dry_run:
        plan = twin.plan(layers or None, force=force)
        if as_json:
            out.print_json(json.dumps(plan))
        else:
            for name, what in plan.items():
                out.print(f"{name}: {what}", markup=False)
        return
    _build_and_report(
        lambda ev: twin.build(
            layers or None, force=force, workers=workers, events=ev, scheduler=scheduler
        ),
        quiet,
        as_json,
    )


@app.command()
@_errors
def demo(
    directory: Annotated[Path, typer.Argument(help="Where to create the demo workspace.")],
    seed: Annotated[int | None, typer.Option(help="Random seed of the generator.")] = None,
    resolution: Annotated[
        float, typer.Option(help="DEM pixel size in metres (10 for high precision).", min=1)
    ] = 20.0,
    no_build: Annotated[bool, typer.Option("--no-build", help="Only write the sources.")] = False,
    no_imagery: Annotated[
        bool,
        typer.Option(
            "--no-imagery", help="Leave out the 10 cm orthophoto of one town centre (faster)."
        ),
    ] = False,
    workers: Annotated[int, typer.Option("--workers", "-j", min=1)] = 1,
    counties: Annotated[
        int, typer.Option("--counties", min=1, help="Demo counties side by side (a province).")
    ] = 1,
    scheduler: Annotated[
        str | None,
        typer.Option("--scheduler", envvar="TWIN_SCHEDULER", help="As for `twin build`."),
    ] = None,
    quiet: QuietOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Create a synthetic demo county (modelled on Deqing, Zhejiang) and build it.

    Deterministic: the same seed and resolution give the same sources. All of
    its data is synthetic, and says so in its metadata.
    """
    from twin.workspace import Twin

    _interrupt.watch_catalog(directory.resolve() / "build" / "catalog.json")
    if not quiet and not as_json:
        out.print(f"generating the demo county in {directory} ...")
    holder: dict[str, Any] = {}

    def run(events: Any) -> Any:
        from twin.demo import build_with_history

        twin = Twin.demo(
            directory,
            seed=seed,
            resolution=resolution,
            build=False,
            counties=counties,
            imagery=not no_imagery,
        )
        holder["twin"] = twin
        if no_build:
            return None
        return build_with_history(twin, workers=workers, events=events, scheduler=scheduler)

    _build_and_report(run, quiet, as_json)
    if not quiet and not as_json:
        out.print(f"demo county ready: {holder['twin'].root}")


@app.command()
@_errors
def init(
    directory: Annotated[Path, typer.Argument(help="Directory of the new workspace.")],
    name: Annotated[str | None, typer.Option(help="Region name (default: directory name).")] = None,
    boundary: Annotated[
        Path | None,
        typer.Option(help="The region's boundary polygons: copied into sources/ with sidecars."),
    ] = None,
    crs: Annotated[
        str | None,
        typer.Option(
            help="Working CRS, projected in metres (default: the CGCS2000 3-degree GK zone of "
            "the boundary in China, else its UTM zone; EPSG:4549 without a boundary)."
        ),
    ] = None,
) -> None:
    """Create a workspace: twin.toml, sources/ and build/ (and the region's boundary)."""
    from twin.errors import ConfigError
    from twin.workspace import Twin

    twin = Twin.init(directory, name=name, crs=crs, boundary=boundary)
    try:
        twin.check_crs()
    except ConfigError as exc:
        # a CRS chosen on purpose: made, but builds stop until it is changed or allowed
        err.print(f"twin: warning: {exc}", markup=False)
    out.print(
        f"created {twin.root / 'twin.toml'} (working CRS {twin.config.region.crs}); "
        "put your files in sources/ and add layers",
        markup=False,
    )


@app.command()
@_errors
def stats(
    period: Annotated[
        str | None,
        typer.Option(
            help="The villages' figures in this period (2026-10, 2026Q3, 2026; latest, previous).",
            show_default=False,
        ),
    ] = None,
    compare: Annotated[
        str | None,
        typer.Option(
            help="What changed since this period: villages that fell behind or improved, "
            "largest drops and gains per score (with --period, or against the latest).",
            show_default=False,
        ),
    ] = None,
    layer: Annotated[
        str | None,
        typer.Option(help="The layer with periods (default: the only one).", show_default=False),
    ] = None,
    top: Annotated[int, typer.Option(min=1, help="Villages listed per score.")] = 5,
    as_json: JsonOpt = False,
    workspace: WorkspaceOpt = None,
) -> None:
    """Print the county's key figures (from the published catalog).

    With --period or --compare: the villages' figures in a period, and what
    changed since another ("which villages fell behind since last month?":
    twin stats --compare previous).
    """
    twin = _open(workspace)
    if period is not None or compare is not None:
        from twin._stats_periods import show_periods

        show_periods(twin, period, compare, layer, top, as_json, out)
        return
    cat = twin.catalog
    figures = [f.model_dump() for f in cat.figures]
    if as_json:
        region = cat.region.model_dump() if cat.region else {"name": twin.name}
        out.print_json(json.dumps({"region": region, "figures": figures}))
        return
    # in the workspace's language ([region] lang), as the viewer speaks by default
    lang = twin.config.region.lang or "en"
    heading, columns = _STATS_TEXT[lang]
    from rich.table import Table

    table = Table(title=f"{twin.name} — {heading}", title_justify="left")
    for i, col in enumerate(columns):
        table.add_column(col, justify="right" if i == 1 else "left")
    for fig, f in zip(cat.figures, figures, strict=True):
        f["label"], f["unit"] = fig.text(lang), fig.unit_text(lang)
        value = f["value"]
        shown = (
            f"{value:,.2f}"
            if isinstance(value, float)
            else f"{value:,}"
            if isinstance(value, int)
            else str(value)
        )
        table.add_row(f["label"], shown, f["unit"], f["layer"] or "")
    out.print(table)
    if not figures:
        out.print("no figures yet: run 'twin build'")


#: ``twin stats``'s heading and column names in each language.
_STATS_TEXT = {
    "en": ("key figures", ("figure", "value", "unit", "layer")),
    "zh": ("关键指标", ("指标", "数值", "单位", "图层")),
}


@app.command()
@_errors
def diff(
    layer: Annotated[str, typer.Argument(help="A published layer.")],
    v1: Annotated[
        str | None,
        typer.Argument(help="Older version: an id, 'previous', 'current' or an ISO date."),
    ] = None,
    v2: Annotated[str | None, typer.Argument(help="Newer version (default: current).")] = None,
    id_field: Annotated[
        str | None, typer.Option("--id", help="Vector: the field to match features by.")
    ] = None,
    tolerance: Annotated[
        float | None,
        typer.Option(
            min=0, help="Vector: geometry tolerance, CRS units (0.01); raster: value (0)."
        ),
    ] = None,
    zones: Annotated[
        str | None, typer.Option(help="Raster: a vector layer to sum the change up in.")
    ] = None,
    lang: Annotated[
        str | None, typer.Option(help="zh or en (default: the workspace's language).")
    ] = None,
    as_json: JsonOpt = False,
    workspace: WorkspaceOpt = None,
) -> None:
    """What changed in a layer between two versions (default: the last two).

    Vector layers: features added, removed and changed, matched by id, with the
    changed fields. Raster layers: the difference grid's statistics, per zone;
    coverage: the share of each village covered before and after.
    """
    from twin._diff_text import render

    if lang is not None and lang not in _STATS_TEXT:
        raise typer.BadParameter(f"{lang!r}: use zh or en", param_hint="--lang")
    twin = _open(workspace)
    result = twin.diff(layer, v1, v2, id=id_field, tolerance=tolerance, zones=zones)
    if as_json:
        out.print_json(json.dumps(result.as_dict(), ensure_ascii=False))
        return
    for item in render(result, lang or twin.config.region.lang or "en"):
        if isinstance(item, str):
            out.print(item, markup=False)
        else:
            out.print(item)


@app.command("layers")
@_errors
def list_layers(as_json: JsonOpt = False, workspace: WorkspaceOpt = None) -> None:
    """List the published layers (the catalog)."""
    twin = _open(workspace)
    layers = twin.catalog.layers
    if as_json:
        out.print_json(json.dumps({n: e.model_dump(mode="json") for n, e in layers.items()}))
        return
    from rich.table import Table

    table = Table(title=f"{twin.name} — {len(layers)} published layers", title_justify="left")
    for col in ("layer", "kind", "type", "count", "version", "zooms", "title"):
        table.add_column(col, justify="right" if col == "count" else "left")
    for name, e in layers.items():
        kind = e.geometry_type if e.kind == "vector" else f"{len(e.bands)} band(s)"
        table.add_row(
            name,
            e.kind,
            kind or "",
            f"{e.count:,}" if e.count is not None else "",
            e.version,
            f"{e.minzoom}-{e.maxzoom}",
            e.title,
        )
    out.print(table)
    configured = set(twin.config.layers) - set(layers)
    if configured:
        out.print(f"not built yet: {', '.join(sorted(configured))}")


@app.command()
@_errors
def validate(as_json: JsonOpt = False, workspace: WorkspaceOpt = None) -> None:
    """Check twin.toml, that every source opens, and every byte of the published artifacts.

    Exits 1 when anything is wrong, after listing every problem found.
    """
    from twin.validate import validate_workspace

    twin = _open(workspace)
    problems = validate_workspace(twin)
    if as_json:
        out.print_json(json.dumps({"ok": not problems, "problems": problems}))
    else:
        for p in problems:
            err.print(f"twin: problem: {p}", markup=False)
        if not problems:
            out.print(
                f"ok: {len(twin.config.sources)} sources, {len(twin.config.layers)} layers, "
                f"{len(twin.catalog.layers)} published"
            )
    if problems:
        raise typer.Exit(1)


@app.command()
@_errors
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8000,
    workers: Annotated[
        int | None,
        typer.Option("--workers", "-j", min=1, help="Worker processes (default: one per core)."),
    ] = None,
    public_url: Annotated[
        str | None,
        typer.Option(help="URL clients reach the server at (tile URLs are built from it)."),
    ] = None,
    catalog: Annotated[
        Path | None,
        typer.Option(help="Serve this catalog.json instead of the workspace's (see publish)."),
    ] = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Serve the published layers as tiles, with a viewer at / (until Ctrl-C).

    A rebuild is picked up without a restart. Other settings come from
    TWIN_* environment variables (see the README).
    """
    from tiles.catalog import read_catalog
    from tiles.server import PortInUseError, check_can_listen
    from tiles.server import serve as run_server
    from tiles.settings import Settings

    if catalog is not None:
        path, served = catalog, read_catalog(catalog)  # checked here: one line if it is bad
        name = served.workspace
    else:
        twin = _open(workspace)
        path, served, name = twin.catalog_path, twin.catalog, twin.name
    shown = public_url or f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
    try:
        # checked before saying "serving" (run_server checks again, for library callers)
        Settings.from_env(catalog=path, public_url=shown)
        check_can_listen(host, port)
        out.print(f"serving {name} ({len(served.layers)} layers) at {shown}/")
        run_server(path, host=host, port=port, workers=workers, public_url=public_url)
    except PortInUseError as exc:
        raise TwinError(f"{exc}; pick another with --port") from None


@app.command()
@_errors
def export(
    layer: Annotated[
        str,
        typer.Argument(
            help="The published layer to export; pmtiles/mbtiles: several, as a,b,c "
            "(one archive, one tile layer each)."
        ),
    ],
    fmt: Annotated[
        str,
        typer.Option("--format", "-f", help="pmtiles, mbtiles, gpkg, geojson (WGS84) or cog."),
    ] = "pmtiles",
    minzoom: Annotated[int | None, typer.Option(min=0, max=30, help="Lowest tile zoom.")] = None,
    maxzoom: Annotated[
        int | None,
        typer.Option(min=0, max=30, help="Highest tile zoom (default: min(14, layer's))."),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers", "-j", min=1, help="Tile-encoding processes (default: one per core)."
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "-o", "--output", help="File to write (default: ./LAYER.EXT; several: ./A-B-C.EXT)."
        ),
    ] = None,
    crs: Annotated[
        str | None,
        typer.Option(
            "--crs",
            help="gpkg/geojson only: write in this CRS (e.g. EPSG:4490), or GCJ-02 / BD-09 "
            "for Chinese web basemaps (shifted lon/lat, labelled EPSG:4326 in the file).",
        ),
    ] = None,
    quiet: QuietOpt = False,
    workspace: WorkspaceOpt = None,
) -> None:
    """Export a published layer: tiles into one archive, or the data as GPKG/GeoJSON/COG.

    Several vector layers (a,b,c) go into one PMTiles or MBTiles archive:
    each tile holds one layer per catalog layer, named after it. The file
    appears complete or not at all (written to a temporary name, then renamed).
    """
    from tiles.errors import LayerNotFoundError

    names = [n.strip() for n in layer.split(",")]
    if "" in names:
        raise TwinError(f"layer {layer!r}: expected a name, or names separated by commas")
    if len(names) > 1 and crs is not None:
        raise TwinError(f"--crs {crs}: only the gpkg or geojson of a single layer can change CRS")
    tiled = fmt in ("pmtiles", "mbtiles")
    if tiled:
        _prepare_reprojection(workspace, names)
    twin = _open(workspace)
    published = twin.catalog.layers  # read once: every read parses catalog.json
    chosen = []
    for name in names:
        entry = published.get(name)
        if entry is None:
            raise LayerNotFoundError(f"layer {name!r} is not published (see 'twin layers')")
        cfg = twin.config.layers.get(entry.parent or name)
        # a derived layer (roads_nodes) is not tiled with its parent's options
        options = cfg.tiles if cfg is not None and entry.parent is None else None
        chosen.append((name, entry, options))
    from twin.export import export_layer, export_tiles

    with _tile_progress(f"{layer} -> {fmt}", shown=tiled and not quiet) as advance:
        if len(chosen) > 1:
            result = export_tiles(
                twin.catalog_path, chosen, fmt, output, minzoom, maxzoom, workers, advance
            )
        else:
            name, entry, options = chosen[0]
            result = export_layer(
                twin.catalog_path,
                name,
                entry,
                fmt,
                output,
                minzoom,
                maxzoom,
                workers,
                options,
                advance,
                crs=crs,
            )
    if tiled:  # the prepared searches' threads end (they served the layers in their CRS)
        from tiles.proj import discard_prepared

        discard_prepared()
    if not quiet:
        tiles = f", {result.tiles:,} tiles" if result.tiles is not None else ""
        out.print(f"wrote {result.path} ({result.bytes / 1e6:,.1f} MB{tiles})")


@app.command()
@_errors
def prune(
    keep: Annotated[
        int, typer.Option(min=1, help="Versions to keep per layer, the published one included.")
    ] = 2,
    as_json: JsonOpt = False,
    workspace: WorkspaceOpt = None,
) -> None:
    """Delete old versions of every layer, keeping the newest ones.

    The catalog stops listing them before their files are removed.
    """
    twin = _open(workspace)
    removed = twin.prune(keep=keep)
    if as_json:
        out.print_json(json.dumps(removed))
        return
    for name, versions in removed.items():
        out.print(f"{name}: removed {', '.join(versions)}", markup=False)
    out.print(f"{sum(len(v) for v in removed.values())} old version(s) removed")


@app.command()
@_errors
def publish(
    destination: Annotated[
        str, typer.Argument(help="s3://bucket/prefix (or gs://, abfs://, file://, a directory).")
    ],
    catalog_out: Annotated[
        Path | None,
        typer.Option(help="Also write a local catalog naming the artifacts at the destination."),
    ] = None,
    as_json: JsonOpt = False,
    workspace: WorkspaceOpt = None,
) -> None:
    """Copy the published layers and then the catalog to object storage or a shared dir.

    Only artifacts not already there are copied; the catalog goes last. S3
    credentials and endpoint come from the usual AWS_* variables.
    """
    from twin.publish import publish as run_publish

    twin = _open(workspace)
    report = run_publish(twin.catalog_path, destination, catalog_out)
    if as_json:
        out.print_json(json.dumps(asdict(report)))
        return
    out.print(
        f"published {len(twin.catalog.layers)} layers to {destination}: "
        f"{len(report.copied)} file(s) copied ({report.bytes_copied / 1e6:.1f} MB), "
        f"{len(report.present)} already there",
        markup=False,
    )


@app.command("builders")
def list_builders() -> None:
    """List the builder kinds a layer can use, with their inputs."""
    from rich.table import Table

    from twin.builders import builders

    table = Table(title="builders", title_justify="left")
    for col in ("builder", "version", "inputs", "optional", "what it makes"):
        table.add_column(col)
    for name, b in builders().items():
        table.add_row(name, b.version, ", ".join(b.inputs), ", ".join(b.optional_inputs), b.doc)
    out.print(table)


def main() -> None:
    """Entry point of the ``twin`` console script."""
    # Builds need GDAL's VRT driver; `twin serve` turns it off again for the server.
    allow_vrt()
    # GDAL's own messages reach Python's logging through rasterio; without a handler
    # they would print as a second line next to the one-line error the CLI gives.
    logging.getLogger("rasterio").addHandler(logging.NullHandler())
    _interrupt.install()
    try:
        app()
    except BaseException:
        # typer turns KeyboardInterrupt into a silent exit 130, and a library may wrap it
        # in an error of its own: after Ctrl-C, any way out is the interruption
        if _interrupt.interrupted():
            _interrupt.leave()
        raise
    finally:
        # The interpreter's exit collects garbage, scanning every object still alive
        # (some 170,000 after a tile export: numba, pandas ...), a quarter of a second
        # for nothing: the process ends. Frozen, they are left out of that scan.
        gc.freeze()


if __name__ == "__main__":
    main()
