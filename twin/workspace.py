"""The workspace: ``twin.toml``, its sources, and the published one map in ``build/``.

Examples
--------
>>> from twin import Twin
>>> t = Twin.init("my-county", name="My County")  # doctest: +SKIP
>>> t = Twin.open("demo-county")  # doctest: +SKIP
>>> report = t.build()  # doctest: +SKIP
>>> t.layer("village_boundaries").plot()  # doctest: +SKIP
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable
from graphlib import CycleError, TopologicalSorter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError as PydanticValidationError

from layers.crs import crs_misfit, suggest_crs
from layers.errors import LayerError, SourceError, SourceWarning
from layers.geodesy import geodesic_area
from layers.sources import expand, is_glob, source_files
from tiles import atomic_write
from tiles.catalog import (
    Catalog,
    Figure,
    Provenance,
    RegionInfo,
    read_catalog,
    utc_now,
    write_catalog,
)
from twin import artifacts
from twin._executors import resolve_scheduler
from twin._hashing import HashCache, files_digest
from twin._layout import BUILD_DIR, CONFIG_NAME, catalog_path, find_workspace
from twin._region import boundary_copies, copy_files, lonlat_extent
from twin._stale import stale
from twin.builders import Builder, get_builder
from twin.builders.context import BuildContext, Input
from twin.config import TwinConfig, dump_config, load_config, validate_config
from twin.errors import BuildError, ConfigError, WorkspaceError
from twin.handles import Layers, Raster

if TYPE_CHECKING:  # pandas and geopandas load only where a frame is made: opening a
    # workspace (every command does) needs neither, nor the readers of layers.vector, nor
    # the build machinery (twin.build, and through it tile encoding and GeoParquet writing)
    import geopandas as gpd
    import pandas as pd

    from twin.build import BuildEvents, BuildReport, Job
    from twin.diff import DiffResult

#: The working CRS of a workspace made without a boundary to choose one from.
DEFAULT_CRS = "EPSG:4549"
#: The source name ``Twin.init`` gives the boundary it copies in.
BOUNDARY_SOURCE = "boundary"


class Twin:
    """A county's workspace: its config, its build graph and its published layers.

    Open one with :meth:`open`, create one with :meth:`init` or :meth:`demo`.
    """

    def __init__(self, root: Path, config: TwinConfig) -> None:
        self.root = root
        self.config = config
        self._builders = _check(config, root)
        self._order = _order(config)

    # -- creating and opening ------------------------------------------------------------

    @classmethod
    def open(cls, path: str | os.PathLike[str] = ".", search_up: bool = False) -> Twin:
        """Open the workspace at ``path`` (a directory or its ``twin.toml``).

        Raises
        ------
        ConfigError
            If ``twin.toml`` is malformed or names a missing file, an unknown
            builder or a dependency cycle; the message names the key or file.
        """
        root = find_workspace(path, search_up=search_up)
        return cls(root, load_config(root / CONFIG_NAME))

    @classmethod
    def init(
        cls,
        path: str | os.PathLike[str],
        name: str | None = None,
        crs: str | None = None,
        config: TwinConfig | None = None,
        boundary: str | os.PathLike[str] | None = None,
    ) -> Twin:
        """Create a workspace: ``twin.toml``, ``sources/`` and ``build/``.

        Parameters
        ----------
        path
            The directory; created if missing. It must not hold a ``twin.toml`` yet.
        name
            The region's name (default: the directory's name).
        crs
            The working CRS, a projected CRS in metres. Default: the one that
            fits the boundary (:func:`layers.crs.suggest_crs`: the CGCS2000
            3-degree Gauss-Kruger zone inside China, else the UTM zone), or
            EPSG:4549 without a boundary.
        config
            A whole config to write instead of the minimal one.
        boundary
            The region's boundary polygons: copied with their sidecar files
            into ``sources/``, added as source ``boundary`` and named as
            ``region.boundary``.
        """
        root = Path(path).resolve()
        toml = root / CONFIG_NAME
        if toml.exists():
            raise WorkspaceError(f"{toml}: already exists")
        copies: list[tuple[Path, Path]] = []
        if config is None:
            region: dict[str, Any] = {"name": name or root.name, "crs": crs or DEFAULT_CRS}
            sources: dict[str, Any] = {}
            if boundary is not None:
                main, copies = boundary_copies(Path(boundary), root / "sources")
                try:
                    extent = lonlat_extent(Path(boundary), None)
                except LayerError as exc:
                    raise WorkspaceError(f"--boundary: {exc}") from None
                region.update(boundary=BOUNDARY_SOURCE)
                if crs is None:
                    region["crs"] = suggest_crs(extent).to_string()
                sources[BOUNDARY_SOURCE] = {"path": main.relative_to(root).as_posix()}
            config = validate_config({"region": region, "sources": sources})
        text = dump_config(config)
        try:
            (root / "sources").mkdir(parents=True, exist_ok=True)
            (root / BUILD_DIR).mkdir(exist_ok=True)
            copy_files(copies)
            atomic_write(toml, text)
        except OSError as exc:
            raise WorkspaceError(f"{root}: cannot create the workspace: {exc.strerror}") from None
        return cls.open(root)

    @classmethod
    def demo(
        cls,
        path: str | os.PathLike[str],
        seed: int | None = None,
        resolution: float = 20.0,
        build: bool = True,
        workers: int = 1,
        events: BuildEvents | None = None,
        counties: int = 1,
        imagery: bool = True,
    ) -> Twin:
        """Generate the synthetic demo county at ``path`` and build it.

        An existing demo workspace is regenerated in place (sources rewritten,
        layers rebuilt only where the sources changed). A single county's first
        build makes two coverage versions, before and after three new 5G sites
        (:func:`twin.demo.build_with_history`). ``counties > 1`` puts that many demo
        counties side by side (:mod:`twin.demo.counties`), without the history or the
        orthophoto. ``imagery=False`` leaves out the 10 cm orthophoto of one town
        centre (its 16 sheets and the ``ortho`` layer).
        """
        from twin.demo import build_with_history, demo_config
        from twin.demo.counties import generate_counties

        root = Path(path).resolve()
        kwargs: dict[str, Any] = {"resolution": resolution}
        if seed is not None:
            kwargs["seed"] = seed
        name = "Demo County" if counties == 1 else f"Demo Province ({counties} counties)"
        imagery = imagery and counties == 1
        config = demo_config(
            name=name, resolution=resolution, history=counties == 1, imagery=imagery
        )
        try:
            root.mkdir(parents=True, exist_ok=True)
            generate_counties(root, counties, imagery=imagery, **kwargs)
        except OSError as exc:
            raise WorkspaceError(f"{root}: cannot write the demo county: {exc.strerror}") from None
        toml = root / CONFIG_NAME
        if toml.exists():
            atomic_write(toml, dump_config(config))
            twin = cls.open(root)
        else:
            twin = cls.init(root, config=config)
        if build:
            build_with_history(twin, workers=workers, events=events)
        return twin

    # -- paths ----------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self.config.region.name

    @property
    def build_dir(self) -> Path:
        return self.root / BUILD_DIR

    @property
    def catalog_path(self) -> Path:
        return catalog_path(self.root)

    def source_path(self, name: str) -> Path:
        """The file behind source ``name``."""
        return _resolve(self.root, self.config.sources[name].path)

    # -- reading ---------------------------------------------------------------------------

    @property
    def catalog(self) -> Catalog:
        """The published catalog (an empty one before the first build)."""
        if not self.catalog_path.exists():
            return Catalog(workspace=self.name, updated=utc_now())
        return read_catalog(self.catalog_path)

    @property
    def layers(self) -> Layers:
        """Every published layer's catalog entry, by name (a table in notebooks)."""
        cat = self.catalog
        return Layers(cat.layers, workspace=cat.workspace, updated=cat.updated)

    def explore(
        self, layers: str | list[str] | None = None, server: str | None = None, **kwargs: Any
    ) -> Any:
        """An interactive map of the layers; see :func:`twin.notebook.explore`."""
        # Imported here, not at the top: twin.notebook builds on Twin, so a module-level
        # import would make the two import each other (the facade reaches up only when asked).
        from twin.notebook import explore

        return explore(self, layers, server=server, **kwargs)

    def layer(self, name: str) -> gpd.GeoDataFrame | Raster:
        """A published layer: a GeoDataFrame (vector) or a :class:`Raster` handle."""
        entry = self.catalog.layers.get(name)
        if entry is None:
            known = ", ".join(sorted(self.catalog.layers)) or "none yet; run build"
            raise WorkspaceError(f"no published layer {name!r} (published: {known})")
        path = self.build_dir / entry.artifacts["data"]
        if entry.kind == "raster":
            return Raster(name, path, entry)
        import geopandas as gpd

        return gpd.read_parquet(path)

    def diff(
        self,
        layer: str,
        v1: str | None = None,
        v2: str | None = None,
        *,
        id: str | None = None,
        tolerance: float | None = None,
        zones: str | None = None,
    ) -> DiffResult:
        """What changed in published ``layer`` from version ``v1`` to ``v2``.

        Versions are ids, ``current``, ``previous`` or ISO dates (the version in force
        then); default: the previous version against the current one. Returns a
        :class:`twin.diff.DiffResult` whose tables are DataFrames: ``features`` and
        ``changes`` (vector), ``zones`` and ``coverage`` (raster, coverage). See
        :func:`twin.diff.diff_layer` for the parameters.
        """
        from twin.diff import diff_layer

        region = None
        if self.config.region.boundary:
            region = self._read_boundary().to_crs(self.config.region.crs)
        return diff_layer(
            self.catalog_path, layer, v1, v2, id=id, tolerance=tolerance, zones=zones, region=region
        )

    def stats(self) -> pd.DataFrame:
        """The county's key figures: one row per figure (label, value, unit, layer)."""
        import pandas as pd

        cat = self.catalog
        rows = [f.model_dump() for f in cat.figures]
        frame = pd.DataFrame(rows, columns=["name", "label", "value", "unit", "layer"])
        return frame.set_index("name")

    def history(self, layer: str = "villages", indicator: str | None = None) -> pd.DataFrame:
        """An indicator of every village in every period, tidy for plotting.

        Columns ``code``, ``name``, ``period``, ``date`` (the period's first day),
        ``value``, ``change`` (since the previous period), ``rank`` (1 is the
        best) and ``lagging``; with ``indicator=None`` every indicator, named in
        an ``indicator`` column. Needs a layer built with ``period`` in its
        params (see :mod:`twin.periods`).

        Examples
        --------
        >>> t = Twin.open("demo-county")  # doctest: +SKIP
        >>> t.history("villages", "score_total").pivot(index="period", columns="name",
        ...                                            values="value").plot()  # doctest: +SKIP
        """
        from twin.periods import history, read_periods

        return history(read_periods(self.catalog, self.build_dir, layer), indicator)

    # -- building --------------------------------------------------------------------------

    def plan(self, names: Iterable[str] | None = None, force: bool = False) -> dict[str, str]:
        """What :meth:`build` would do: layer -> ``"build: <why>"`` or ``"skip: <why>"``.

        Upstream layers that are not built yet are reported as to be built.
        """
        targets = self._targets(names)
        self.check_crs()
        forced = set(targets) if names is not None else set(self.config.layers)
        catalog = self.catalog
        hashes = HashCache(self.build_dir / ".hashes.json") if self.build_dir.exists() else None
        versions = {n: e.version for n, e in catalog.layers.items()}
        out: dict[str, str] = {}
        for name in self._order:
            if name not in targets:
                continue
            *_, reason = self._assess(name, catalog, hashes, versions, force and name in forced)
            out[name] = f"build: {reason}" if reason else "skip: up to date"
            if reason:
                versions[name] = "(new)"  # its dependents will see a new upstream version
        return out

    def build(
        self,
        names: Iterable[str] | None = None,
        force: bool = False,
        workers: int = 1,
        events: BuildEvents | None = None,
        progress: bool | None = None,
        scheduler: str | None = None,
    ) -> BuildReport:
        """Build what changed (and everything ``names`` depends on) and publish it.

        Parameters
        ----------
        names
            Layers to build (default: all). Their upstream layers are brought up
            to date too.
        force
            Rebuild the named layers even when their fingerprint is unchanged.
        workers
            Build up to this many independent layers at once, in separate processes.
        scheduler
            Run the layer jobs on a Dask cluster instead: a scheduler address or
            ``local:N`` (default: ``$TWIN_SCHEDULER``, else no cluster). The build
            directory must be visible to the workers at the same path.
        events
            Receives progress (see :class:`twin.build.BuildEvents`).
        progress
            Draw a progress bar (:class:`twin.notebook.NotebookProgress`) when no
            ``events`` are given; default: only inside Jupyter.

        Raises
        ------
        BuildError
            When any layer failed; layers that succeeded are published, and
            ``error.report`` tells which.
        """
        from twin.build import (
            BuildReport,
            Job,
            LoggedEvents,
            NoEvents,
            Publisher,
            build_lock,
            clean_leftovers,
            execute,
            new_version,
        )

        # Imported here, not at the top: twin.notebook builds on Twin, so a module-level
        # import would make the two import each other (the facade reaches up only when asked).
        from twin.notebook import progress_events

        events = LoggedEvents(events or progress_events(progress) or NoEvents())
        targets = self._targets(names)
        self.check_crs()
        forced = set(targets) if names is not None else set(self.config.layers)
        report = BuildReport()
        with build_lock(self.build_dir):
            on_disk = self.catalog
            clean_leftovers(self.build_dir, on_disk)
            catalog = on_disk.model_copy(update={"region": self._region_info()})
            catalog = _with_region_figures(catalog)
            hashes = HashCache(self.build_dir / ".hashes.json")
            publisher = Publisher(catalog, self.catalog_path, self.build_dir)
            graph: TopologicalSorter[str] = TopologicalSorter()
            upstream = {n: set(self.config.layers[n].upstream().values()) for n in targets}
            for name, deps in upstream.items():
                graph.add(name, *deps)
            events.plan([n for n in self._order if n in targets])

            def make_job(name: str) -> Job | None:
                versions = {n: e.version for n, e in publisher.catalog.layers.items()}
                ctx, inputs, files, fp, reason = self._assess(
                    name, publisher.catalog, hashes, versions, force and name in forced
                )
                if not reason:
                    report.skipped[name] = "up to date"
                    events.skip(name, "up to date")
                    return None
                builder = self._builders[name]
                return Job(
                    name=name,
                    builder=builder.name,
                    version=new_version(fp, self.build_dir / name),
                    fingerprint=fp,
                    inputs=inputs,
                    params=ctx.params.model_dump(mode="json"),
                    files=files,
                    ctx=ctx,
                    build_dir=self.build_dir,
                )

            try:
                execute(
                    graph,
                    upstream,
                    make_job,
                    publisher,
                    events,
                    report,
                    workers,
                    resolve_scheduler(scheduler),
                )
            finally:
                hashes.save()
            final = publisher.catalog
            if not self.catalog_path.exists() or final.model_dump(
                exclude={"updated"}
            ) != on_disk.model_dump(exclude={"updated"}):
                # The region and its figures can change without any layer being rebuilt.
                write_catalog(final.model_copy(update={"updated": utc_now()}), self.catalog_path)
        if report.failed:
            first = next(iter(report.failed.values()))
            more = f" (and {len(report.failed) - 1} more)" if len(report.failed) > 1 else ""
            err = BuildError(next(iter(report.failed)), first.split(": ", 1)[-1] + more)
            err.report = report  # type: ignore[attr-defined]
            raise err
        return report

    def prune(self, keep: int = 2) -> dict[str, list[str]]:
        """Forget all but the newest ``keep`` versions of every layer, and delete their files.

        The catalog stops listing the old versions first (atomically); only
        then are their directories removed, so a reader never follows the
        catalog to a deleted file.

        Returns
        -------
        Layer -> the versions removed.
        """
        from twin.build import build_lock, clean_leftovers

        if keep < 1:
            raise WorkspaceError(f"keep must be at least 1 (the published version), got {keep}")
        removed: dict[str, list[str]] = {}
        with build_lock(self.build_dir):
            catalog = self.catalog
            layers = {}
            for name, entry in catalog.layers.items():
                kept, dropped = entry.history[: keep - 1], entry.history[keep - 1 :]
                if dropped and entry.parent is None:
                    removed[name] = dropped
                layers[name] = entry.model_copy(update={"history": kept})
            if removed:
                pruned = catalog.model_copy(update={"layers": layers, "updated": utc_now()})
                write_catalog(pruned, self.catalog_path)
                clean_leftovers(self.build_dir, pruned)
        return removed

    # -- internals -------------------------------------------------------------------------

    def _assess(
        self,
        name: str,
        catalog: Catalog,
        hashes: HashCache | None,
        versions: dict[str, str],
        force: bool,
    ) -> tuple[BuildContext, dict[str, str], dict[str, str], str, str | None]:
        """Layer ``name``'s build context, input hashes, file hashes, fingerprint and why
        it is stale.

        ``versions`` maps layer names to the versions their dependents will read.
        """
        files: dict[str, str] = {}
        ctx, inputs = self._context(name, catalog, hashes, versions, files)
        fp = self._fingerprint(name, ctx, inputs, hashes, files)
        now = Provenance(
            builder=self._builders[name].name,
            builder_version=self._builders[name].version,
            inputs=inputs,
            params=ctx.params.model_dump(mode="json"),
            fingerprint=fp,
            built_at="",
            files=files,
        )
        return ctx, inputs, files, fp, stale(name, now, catalog, self.build_dir, force)

    def _targets(self, names: Iterable[str] | None) -> set[str]:
        if names is None:
            return set(self.config.layers)
        wanted = list(names)
        unknown = [n for n in wanted if n not in self.config.layers]
        if unknown:
            known = ", ".join(sorted(self.config.layers)) or "none"
            raise ConfigError(f"{CONFIG_NAME}: no layer {unknown[0]!r} (layers: {known})")
        out: set[str] = set()
        stack = wanted
        while stack:
            name = stack.pop()
            if name not in out:
                out.add(name)
                stack.extend(self.config.layers[name].upstream().values())
        return out

    def _context(
        self,
        name: str,
        catalog: Catalog,
        hashes: HashCache | None,
        versions: dict[str, str],
        files: dict[str, str],
    ) -> tuple[BuildContext, dict[str, str]]:
        cfg = self.config.layers[name]
        builder = self._builders[name]
        inputs: dict[str, Input] = {}
        fingerprints: dict[str, str] = {}
        for key, ref in cfg.inputs.items():
            upstream = cfg.upstream().get(key)
            if upstream is not None:
                entry = catalog.layers.get(upstream)
                unbuilt = self.build_dir / upstream / "(not built)"
                path = self.build_dir / entry.artifacts["data"] if entry else unbuilt
                extras = {
                    n.removeprefix(upstream + "_"): Input(
                        key, "layer", n, self.build_dir / e.artifacts["data"], entry=e
                    )
                    for n, e in catalog.layers.items()
                    if e.parent == upstream
                }
                inputs[key] = Input(key, "layer", upstream, path, entry=entry, extras=extras)
                fingerprints[key] = f"layer:{upstream}@{versions.get(upstream, '(unbuilt)')}"
            else:
                source = self.config.sources[ref]
                path = _resolve(self.root, source.path)
                inputs[key] = Input(key, "source", ref, path, source=source)
                digest = self._hash_source(f"sources.{ref}", path, hashes, files)
                fingerprints[key] = f"{digest} {_reading(source)}"
        boundary = None
        if self.config.region.boundary:
            boundary = self._boundary_input()
        params = builder.params.model_validate(cfg.params)
        ctx = BuildContext(
            layer=name,
            config=cfg,
            params=params,
            region=self.config.region,
            root=self.root,
            inputs=inputs,
            boundary_input=boundary,
            catalog_path=self.catalog_path,
        )
        return ctx, fingerprints

    def _boundary_input(self) -> Input:
        ref = self.config.region.boundary
        assert ref is not None
        if ref in self.config.sources:
            src = self.config.sources[ref]
            return Input("boundary", "source", ref, _resolve(self.root, src.path), source=src)
        from twin.config import SourceConfig

        src = SourceConfig(path=ref)
        return Input("boundary", "source", ref, _resolve(self.root, ref), source=src)

    def _hash_source(
        self, key: str, path: Path, hashes: HashCache | None, files: dict[str, str]
    ) -> str:
        """The digest of every file a source is read from (:func:`layers.sources.source_files`);
        each file's hash is added to ``files``."""
        if hashes is None:
            return "(unhashed)"
        try:
            found = hashes.files(source_files(path), self.root)
        except SourceError as exc:
            raise ConfigError(f"{CONFIG_NAME}: {key}.path: {exc}") from None
        files.update(found)
        return files_digest(found, single=not is_glob(path))

    def _fingerprint(
        self,
        name: str,
        ctx: BuildContext,
        inputs: dict[str, str],
        hashes: HashCache | None,
        files: dict[str, str],
    ) -> str:
        cfg = self.config.layers[name]
        builder = self._builders[name]
        boundary = ctx.boundary_input
        presentation: dict[str, Any] = cfg.model_dump(
            mode="json", include={"title", "description", "tiles"}
        )
        if cfg.title_i18n:  # only when set: fingerprints from before stay valid
            presentation["title_i18n"] = cfg.title_i18n
        extra = {
            "crs": self.config.region.crs,
            "boundary": (
                self._hash_source("region.boundary", boundary.path, hashes, files)
                if hashes and boundary
                else None
            ),
            "presentation": presentation,
        }
        from twin.build import fingerprint

        return fingerprint(builder.name, builder.version, ctx.params, inputs, extra)

    def check_crs(self) -> None:
        """Check the working CRS is made for where the region lies.

        A transverse Mercator zone far from its central meridian distorts
        every geometry (areas by a third, 95 degrees away), so a working CRS
        whose area of use does not hold the region's boundary is an error,
        unless ``allow_outside_area = true`` in ``[region]``. Only the
        boundary's extent is read (cheap, even for a large boundary).

        Raises
        ------
        ConfigError
            Naming the CRS, where it is made for, where the region lies and the
            CRS that fits it.
        """
        region = self.config.region
        if not region.boundary or region.allow_outside_area:
            return
        problem = crs_misfit(region.crs, self._boundary_lonlat_bounds())
        if problem:
            raise ConfigError(
                f"{CONFIG_NAME}: region.crs: {problem}, "
                "or set allow_outside_area = true in [region]"
            )

    def _boundary_lonlat_bounds(self) -> tuple[float, float, float, float]:
        item = self._boundary_input()
        try:
            return lonlat_extent(item.path, item.source)
        except LayerError as exc:
            raise ConfigError(f"{CONFIG_NAME}: region.boundary: {exc}") from None

    def _read_boundary(self) -> gpd.GeoDataFrame:
        from layers.vector import read_vector

        item = self._boundary_input()
        src = item.source
        assert src is not None
        try:
            with warnings.catch_warnings():
                # the layers built from the boundary report how its text was read
                warnings.simplefilter("ignore", SourceWarning)
                return read_vector(
                    item.path,
                    layer=src.layer,
                    crs=src.crs,
                    x=src.x,
                    y=src.y,
                    encoding=src.encoding,
                )
        except LayerError as exc:
            raise ConfigError(f"{CONFIG_NAME}: region.boundary: {exc}") from None

    def _region_info(self) -> RegionInfo:
        region = self.config.region
        info = RegionInfo(name=region.name, crs=region.crs, lang=region.lang)
        if region.boundary:
            gdf = self._read_boundary()
            # On the ellipsoid: the region's area must not depend on the working CRS.
            info.area_km2 = round(float(geodesic_area(gdf.geometry.values, gdf.crs).sum()) / 1e6, 3)
            gdf = gdf.to_crs(region.crs)
            info.bounds = artifacts.wgs84_bounds(tuple(gdf.total_bounds), gdf.crs)  # type: ignore[assignment]
        return info

    def __repr__(self) -> str:
        return f"<Twin {self.name!r} at {self.root} with {len(self.config.layers)} layers>"


def _resolve(root: Path, path: str) -> Path:
    p = Path(path)
    return p if p.is_absolute() else root / p


def _reading(source: Any) -> str:
    """How a source is read, as part of the fingerprint (a changed CSV column mapping rebuilds)."""
    reading = source.model_dump(include={"layer", "crs", "x", "y", "synthetic"})
    if source.encoding is not None:  # only when set: fingerprints from before stay valid
        reading["encoding"] = source.encoding
    return str(sorted(reading.items()))


def _with_region_figures(catalog: Catalog) -> Catalog:
    figures = [f for f in catalog.figures if f.layer is not None]
    region = catalog.region
    if region is not None and region.area_km2 is not None:
        area = Figure(name="area_km2", label="Area", value=region.area_km2, unit="km²")
        figures.insert(0, area.model_copy(update={"label_i18n": {"zh": "面积"}}))
    return catalog.model_copy(update={"figures": figures})


def _check(config: TwinConfig, root: Path) -> dict[str, Builder]:
    """Check what the config names exists: files, builders, inputs, parameters."""
    for name, source in config.sources.items():
        path = _resolve(root, source.path)
        if is_glob(path):
            try:
                expand(path)
            except SourceError as exc:
                raise ConfigError(f"{CONFIG_NAME}: sources.{name}.path: {exc}") from None
        elif not path.exists():
            raise ConfigError(f"{CONFIG_NAME}: sources.{name}.path: no such file {path}")
    boundary = config.region.boundary
    if boundary and boundary not in config.sources and not _resolve(root, boundary).exists():
        raise ConfigError(
            f"{CONFIG_NAME}: region.boundary: {boundary!r} is neither a source nor a file"
        )
    found: dict[str, Builder] = {}
    for name, layer in config.layers.items():
        builder = get_builder(layer.builder)
        if builder is None:
            from twin.builders import builders

            known = ", ".join(builders())
            raise ConfigError(
                f"{CONFIG_NAME}: layers.{name}.builder: unknown builder {layer.builder!r} "
                f"(known: {known})"
            )
        missing = [k for k in builder.inputs if k not in layer.inputs]
        if missing:
            raise ConfigError(
                f"{CONFIG_NAME}: layers.{name}.inputs: missing {missing[0]!r} "
                f"(builder {builder.name!r} needs {', '.join(builder.inputs)})"
            )
        allowed = set(builder.inputs) | set(builder.optional_inputs)
        extra = [k for k in layer.inputs if k not in allowed]
        if extra and not builder.open_inputs:
            raise ConfigError(
                f"{CONFIG_NAME}: layers.{name}.inputs.{extra[0]}: unknown input for builder "
                f"{builder.name!r} (takes {', '.join(sorted(allowed)) or 'none'})"
            )
        try:
            builder.params.model_validate(layer.params)
        except PydanticValidationError as exc:
            err = exc.errors()[0]
            loc = ".".join(str(p) for p in err["loc"])
            msg = "unknown parameter" if err["type"] == "extra_forbidden" else err["msg"]
            msg = msg.removeprefix("Value error, ")
            raise ConfigError(
                f"{CONFIG_NAME}: layers.{name}.params{'.' + loc if loc else ''}: {msg}"
            ) from None
        found[name] = builder
    return found


def _order(config: TwinConfig) -> list[str]:
    """Layers in dependency order; :class:`ConfigError` naming the cycle if there is one."""
    graph = {name: set(layer.upstream().values()) for name, layer in config.layers.items()}
    try:
        return list(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        cycle = " -> ".join(exc.args[1])
        raise ConfigError(f"{CONFIG_NAME}: layers form a dependency cycle: {cycle}") from None
