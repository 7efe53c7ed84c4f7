"""The build graph: resolve, fingerprint, build and atomically publish layers.

A layer is rebuilt only when its fingerprint changes: the hash of its
builder and builder version, its parameters, its tile options, its input
files' contents (and how they are read), the working CRS and boundary, and
the versions of the layers it reads. Layers run in dependency order
(:mod:`graphlib`), independent ones in parallel when ``workers > 1``.

Publishing is all or nothing per layer: the builder's output goes to a
hidden temporary directory, is validated and read back, is renamed into
``build/<layer>/<version>/``, and only then does a new ``catalog.json`` replace
the old one atomically. A build that fails or is killed at any point leaves
the previous catalog and every artifact it names untouched; leftovers are
removed by the next build.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import time
import traceback
from collections.abc import Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, wait
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from graphlib import TopologicalSorter
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from layers.errors import LayerError
from layers.types import Mosaic
from tiles import leftover_temp_files
from tiles.catalog import (
    VERSION_MANIFEST,
    Catalog,
    FieldInfo,
    Figure,
    Lang,
    LayerEntry,
    Provenance,
    VersionManifest,
    atomic_write,
    fsync_dir,
    is_layer_name,
    utc_now,
    write_catalog,
)
from tiles.errors import TilesError
from tiles.export import ExportOptions, export_vector
from tiles.generalize import Generalization
from tiles.pmtiles import PMTilesReader
from twin import _partitioned, artifacts
from twin._executors import Running, open_executor
from twin._hashing import json_sha256
from twin.builders import Output, get_builder
from twin.builders.context import BuildContext
from twin.config import TileOptions
from twin.errors import BuildError, TwinError, WorkspaceError

if TYPE_CHECKING:
    import pandas as pd

TMP_PREFIX = ".tmp-"

log = logging.getLogger(__name__)


class BuildEvents(Protocol):
    """What a build reports as it goes (the CLI draws progress from these)."""

    def plan(self, names: list[str]) -> None: ...
    def skip(self, name: str, reason: str) -> None: ...
    def start(self, name: str) -> None: ...
    def finish(self, name: str, version: str, seconds: float) -> None: ...
    def fail(self, name: str, message: str) -> None: ...


class NoEvents:
    """Report nothing."""

    def plan(self, names: list[str]) -> None:
        pass

    def skip(self, name: str, reason: str) -> None:
        pass

    def start(self, name: str) -> None:
        pass

    def finish(self, name: str, version: str, seconds: float) -> None:
        pass

    def fail(self, name: str, message: str) -> None:
        pass


class LoggedEvents:
    """Log each event on the ``twin.build`` logger, then hand it to ``events``.

    Every event is at INFO: what a build did is also in its :class:`BuildReport`
    (and a failure in its :class:`~twin.errors.BuildError`), so the log is a trace
    for whoever asks for one (``twin -v build``), not a second report.
    """

    def __init__(self, events: BuildEvents) -> None:
        self.events = events

    def plan(self, names: list[str]) -> None:
        log.info("plan: %d layers: %s", len(names), ", ".join(names))
        self.events.plan(names)

    def skip(self, name: str, reason: str) -> None:
        log.info("%s: skipped: %s", name, reason)
        self.events.skip(name, reason)

    def start(self, name: str) -> None:
        log.info("%s: building", name)
        self.events.start(name)

    def finish(self, name: str, version: str, seconds: float) -> None:
        log.info("%s: built %s in %.1f s", name, version, seconds)
        self.events.finish(name, version, seconds)

    def fail(self, name: str, message: str) -> None:
        log.info("%s: failed: %s", name, message)
        self.events.fail(name, message)


@dataclass
class BuildReport:
    """What a build did, layer by layer."""

    built: dict[str, str] = field(default_factory=dict)  # layer -> new version
    skipped: dict[str, str] = field(default_factory=dict)  # layer -> reason
    failed: dict[str, str] = field(default_factory=dict)  # layer -> one-line error
    warnings: dict[str, list[str]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failed

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "built": self.built,
            "skipped": self.skipped,
            "failed": self.failed,
            "warnings": self.warnings,
            "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
        }


@dataclass
class Job:
    """One layer to build: everything a worker process needs, picklable."""

    name: str
    builder: str
    version: str
    fingerprint: str
    inputs: dict[str, str]
    params: dict[str, Any]
    ctx: BuildContext
    build_dir: Path
    #: every source file read, workspace-relative name -> sha256 (for the provenance)
    files: dict[str, str] = field(default_factory=dict)


@dataclass
class Built:
    """One written and validated artifact and what the catalog will say of it."""

    file: str
    description: dict[str, Any]
    stats: dict[str, float | int | str]
    figures: list[Figure]
    style: dict[str, Any]
    title: str | None
    text: str
    #: the builder's titles in other languages, field labels and their groups (see Output)
    i18n: dict[str, Any] = field(default_factory=dict)
    #: further artifact files next to ``file``: artifact key -> file name (e.g. "pmtiles")
    extra_files: dict[str, str] = field(default_factory=dict)

    @property
    def kind(self) -> Literal["vector", "raster"]:
        return "raster" if self.file.endswith(".tif") else "vector"


@dataclass
class JobResult:
    """A built, validated layer waiting in its temporary directory to be published."""

    name: str
    tmp_dir: Path
    outputs: dict[str, Built]  # layer name -> what was built for it
    warnings: list[str]
    seconds: float


def run_job(job: Job) -> JobResult:
    """Build one layer into a temporary directory and validate what was written.

    Runs in the parent process or in a worker; writes nothing outside
    ``build/<layer>/.tmp-<version>-<pid>/`` and publishes nothing.
    """
    start = time.perf_counter()
    builder = get_builder(job.builder)
    assert builder is not None
    tmp = job.build_dir / job.name / f"{TMP_PREFIX}{job.version}-{os.getpid()}"
    tmp.mkdir(parents=True)
    # Builders may keep large outputs on disk here (ctx.scratch()); it goes with tmp.
    job.ctx.scratch_dir = tmp / ".scratch"
    try:
        output = builder.run(job.ctx)
    except (TwinError, LayerError) as exc:
        _discard(tmp)
        msg = str(exc)
        prefix = f"layer {job.name!r}: "
        raise BuildError(job.name, msg.removeprefix(prefix)) from None
    except BaseException:
        _discard(tmp)
        raise
    if not isinstance(output, Output):
        _discard(tmp)
        raise BuildError(job.name, f"builder {job.builder!r} returned {type(output).__name__}")
    metadata = {
        "layer": job.name,
        "version": job.version,
        "builder": job.builder,
        "fingerprint": job.fingerprint,
        "synthetic": job.ctx.synthetic,
    }
    results: dict[str, Built] = {}
    try:
        for key, out in [("", output), *output.extras.items()]:
            layer = f"{job.name}_{key}" if key else job.name
            stem = key or "data"
            meta = {**metadata, "layer": layer}
            extra_files = {}
            if isinstance(out.data, Mosaic):
                from twin import _mosaic  # rasterio and the imagery code, for mosaics only

                # the overview is the data; the index and the sheets sit beside it
                fname, extra_files = _mosaic.write_mosaic(out.data, tmp, meta)
                _mosaic.verify_mosaic(tmp, out.data)
                desc = _mosaic.describe_mosaic(out.data)
            elif isinstance(out.data, artifacts.RasterData):
                fname = f"{stem}.tif"
                if job.ctx.synthetic:
                    out.data.tags.setdefault("SYNTHETIC", "yes")
                artifacts.write_raster(out.data, tmp / fname, meta)
                artifacts.verify_raster(tmp / fname, out.data)
                desc = artifacts.describe_raster(out.data)
            else:
                fname = f"{stem}.parquet"
                if _partitioned.is_partitioned(out.data):
                    # a Dask frame: written partition by partition, never whole in this process
                    desc = _partitioned.write_partitioned(
                        out.data, tmp / fname, meta, job.ctx.scheduler
                    )
                else:
                    artifacts.write_vector(out.data, tmp / fname, meta)
                    artifacts.verify_vector(tmp / fname, out.data)
                    desc = artifacts.describe_vector(out.data)
            if isinstance(out.data, artifacts.RasterData):
                style = {**out.style, **(job.ctx.config.tiles.style if not key else {})}
                copy = _write_webmercator(tmp, fname, str(out.data.data.dtype), desc, style)
                if copy is None:
                    job.ctx.warn(f"{layer}: {NO_WEBMERCATOR}")
                else:
                    extra_files["webmercator"] = copy
            if not key and fname.endswith(".parquet") and job.ctx.config.tiles.pmtiles:
                extra_files["pmtiles"] = _write_pmtiles(tmp, fname, layer, job.ctx.config.tiles)
            for name, table in out.tables.items() if not key else ():
                extra_files[name] = _write_table(tmp, name, table, meta, set(output.extras))
            results[layer] = Built(
                file=fname,
                description=desc,
                stats=out.stats,
                figures=out.figures,
                style=out.style,
                title=out.title,
                text=out.description,
                i18n={"titles": out.title_i18n, "labels": out.labels, "groups": out.groups},
                extra_files=extra_files,
            )
    except artifacts.ArtifactCheckError as exc:
        _discard(tmp)
        raise BuildError(job.name, f"output check failed: {exc}") from None
    except BaseException:
        _discard(tmp)
        raise
    del output  # the scratch files it may map go now
    shutil.rmtree(job.ctx.scratch_dir, ignore_errors=True)
    fsync_dir(tmp)
    return JobResult(job.name, tmp, results, job.ctx.warnings, time.perf_counter() - start)


def _discard(tmp: Path) -> None:
    """Remove a failed job's temporary directory, and its layer's directory if that is empty.

    A layer that never built leaves no ``build/<layer>/`` behind.
    """
    shutil.rmtree(tmp, ignore_errors=True)
    with suppress(OSError):
        tmp.parent.rmdir()


#: Why a raster layer has no Web Mercator copy (its tiles are then reprojected per request).
NO_WEBMERCATOR = (
    "reaches beyond Web Mercator's latitudes (85.05 degrees): no EPSG:3857 copy for tiles, "
    "Web Mercator tiles are reprojected per request"
)


def _write_webmercator(
    tmp: Path, fname: str, dtype: str, desc: dict[str, Any], style: dict[str, Any]
) -> str | None:
    """Copy the raster ``fname`` into ``<stem>.webmercator.tif`` on the WebMercatorQuad grid.

    The tile server reads WebMercatorQuad tiles from the copy without
    reprojecting (the cost of most of a raster tile); other grids still read
    ``fname``. None when the raster reaches beyond Web Mercator's latitudes.
    """
    south, north = desc["bounds"][1], desc["bounds"][3]
    if max(abs(south), abs(north)) >= artifacts.MERCATOR_MAX_LAT:
        return None
    target = tmp / f"{Path(fname).stem}.webmercator.tif"
    resampling = artifacts.tile_resampling(dtype, style)
    artifacts.write_webmercator(tmp / fname, target, resampling)
    artifacts.verify_webmercator(target, tmp / fname)
    return target.name


#: artifact keys a layer's tables (``Output.tables``) cannot take: the layer's own files
RESERVED_ARTIFACTS = frozenset({"data", "pmtiles", "webmercator"})


def _write_table(
    tmp: Path, name: str, table: pd.DataFrame, meta: dict[str, Any], extras: set[str]
) -> str:
    """Write the layer's table ``name`` as ``<name>.parquet`` beside its data, read it back."""
    if name in RESERVED_ARTIFACTS or name in extras or not is_layer_name(name):
        raise artifacts.ArtifactCheckError(f"table {name!r}: not a free artifact name")
    target = tmp / f"{name}.parquet"
    artifacts.write_table(table, target, {**meta, "table": name})
    artifacts.verify_table(target, table)
    return target.name


def _write_pmtiles(tmp: Path, fname: str, layer: str, opts: TileOptions) -> str:
    """Tile ``fname`` into ``tiles.pmtiles`` next to it and read the archive back."""
    minzoom = opts.minzoom if opts.minzoom is not None else 0
    # beyond the archive's zooms the server tiles the GeoParquet on the fly
    maxzoom = opts.maxzoom if opts.maxzoom is not None else max(minzoom, 14)
    general = Generalization(
        max_features=opts.max_features,
        max_tile_bytes=opts.max_tile_bytes,
        drop=opts.drop,
        attributes_by_zoom=opts.attributes_by_zoom,
    )
    target = tmp / "tiles.pmtiles"
    try:
        result = export_vector(
            tmp / fname, target, layer, ExportOptions(minzoom, maxzoom, generalization=general)
        )
        reader = PMTilesReader(str(target))
        try:
            h = reader.header
            if (h.min_zoom, h.max_zoom, h.tile_format) != (minzoom, maxzoom, "mvt"):
                raise artifacts.ArtifactCheckError(
                    f"{target.name}: zooms {h.min_zoom}..{h.max_zoom} {h.tile_format}, "
                    f"expected {minzoom}..{maxzoom} mvt"
                )
            if result.tiles == 0 or reader.metadata().get("tilejson") != "3.0.0":
                raise artifacts.ArtifactCheckError(f"{target.name}: no tiles or no TileJSON")
        finally:
            reader.close()
    except TilesError as exc:
        raise artifacts.ArtifactCheckError(f"tiles.pmtiles: {exc}") from None
    return target.name


def new_version(fingerprint: str, layer_dir: Path) -> str:
    """A sortable, unique version id: UTC time plus the fingerprint's first hex digits."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    base = f"{stamp}-{fingerprint.removeprefix('sha256:')[:6]}"
    version, n = base, 1
    while (layer_dir / version).exists():
        n += 1
        version = f"{base}-{n}"
    return version


#: Lock descriptors this process holds, closed in forked children (see :func:`build_lock`).
_held_locks: set[int] = set()


def _close_locks_in_child() -> None:
    for fd in list(_held_locks):
        with suppress(OSError):
            os.close(fd)
    _held_locks.clear()


# A builder may fork workers (the coverage builder does). An flock belongs to the
# open file, which a fork shares: a worker outliving a killed build would keep the
# workspace locked. Children close their copy, so the lock dies with the build.
os.register_at_fork(after_in_child=_close_locks_in_child)


@contextmanager
def build_lock(build_dir: Path) -> Iterator[None]:
    """Hold an exclusive lock on the workspace's build directory.

    The lock is released when this process ends, however it ends; processes
    it forks do not hold it.
    """
    try:
        build_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(build_dir / ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise WorkspaceError(f"{build_dir}: cannot write: {exc.strerror}") from None
    _held_locks.add(fd)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise WorkspaceError(f"{build_dir}: another build is running") from None
        yield
    finally:
        _held_locks.discard(fd)
        os.close(fd)


def clean_leftovers(build_dir: Path, catalog: Catalog) -> list[Path]:
    """Remove temporary and unreferenced version directories left by killed builds."""
    referenced: set[Path] = set()
    for name, entry in catalog.layers.items():
        owner = entry.parent or name
        referenced.add(build_dir / owner / entry.version)
        referenced.update(build_dir / owner / v for v in entry.history)
    removed = []
    for layer_dir in (p for p in build_dir.iterdir() if p.is_dir()):
        for child in layer_dir.iterdir():
            if child.is_dir() and child not in referenced:
                shutil.rmtree(child, ignore_errors=True)
                removed.append(child)
    for tmp in leftover_temp_files(build_dir, "catalog.json"):
        tmp.unlink(missing_ok=True)
        removed.append(tmp)
    return removed


class Publisher:
    """Turns built layers into catalog entries and publishes the catalog atomically."""

    def __init__(self, catalog: Catalog, catalog_path: Path, build_dir: Path) -> None:
        self.catalog = catalog
        self.path = catalog_path
        self.build_dir = build_dir

    def publish(self, job: Job, result: JobResult) -> None:
        """Move the job's directory into place and publish the new catalog.

        The catalog entries are made first: an output the catalog cannot
        describe fails the layer with nothing moved into ``build/<layer>/``.
        """
        layers = dict(self.catalog.layers)
        figures = [f for f in self.catalog.figures if f.layer not in result.outputs]
        # Extras that the new build no longer makes must not linger in the catalog.
        for name, entry in self.catalog.layers.items():
            if entry.parent == job.name and name not in result.outputs:
                del layers[name]
                figures = [f for f in figures if f.layer != name]
        for layer, out in result.outputs.items():
            try:
                layers[layer] = self._entry(job, layer, out)
            except PydanticValidationError as exc:
                err = exc.errors()[0]
                where = ".".join(str(p) for p in err["loc"])
                msg = str(err["msg"]).removeprefix("Value error, ")
                raise BuildError(job.name, f"{layer}: catalog entry {where}: {msg}") from None
            figures += [f.model_copy(update={"layer": f.layer or layer}) for f in out.figures]
        catalog = self.catalog.model_copy(
            update={"layers": layers, "figures": figures, "updated": utc_now()}
        )
        # The version's own record of what it published, so it stays servable and
        # comparable after newer versions replace it in the catalog.
        manifest = VersionManifest(
            layers={n: layers[n].model_copy(update={"history": []}) for n in result.outputs}
        )
        atomic_write(
            Path(result.tmp_dir) / VERSION_MANIFEST, manifest.model_dump_json(indent=2) + "\n"
        )
        final = self.build_dir / job.name / job.version
        os.rename(result.tmp_dir, final)
        fsync_dir(final.parent)
        self.catalog = catalog
        write_catalog(self.catalog, self.path)

    def _entry(self, job: Job, layer: str, out: Built) -> LayerEntry:
        ctx = job.ctx
        cfg = ctx.config
        is_main = layer == job.name
        old = self.catalog.layers.get(layer)
        history = [old.version, *old.history] if old else []
        desc = out.description
        minzoom, maxzoom = cfg.tiles.minzoom, cfg.tiles.maxzoom
        if out.kind == "raster":
            lat = (desc["bounds"][1] + desc["bounds"][3]) / 2
            auto = desc.get("zooms") or artifacts.raster_zooms(
                desc["resolution"], desc["width"], desc["height"], lat
            )
            minzoom = auto[0] if minzoom is None else minzoom
            maxzoom = auto[1] if maxzoom is None else maxzoom
        default_title = job.name.replace("_", " ").capitalize()
        if is_main:
            title = cfg.title or out.title or default_title
        else:
            key = layer.removeprefix(job.name + "_")
            title = out.title or f"{cfg.title or default_title}: {key.replace('_', ' ')}"
        style = {**out.style, **(cfg.tiles.style if is_main else {})}
        credits = {i.source.attribution for i in ctx.inputs.values() if i.source}
        attribution = "; ".join(sorted(c for c in credits if c))
        return LayerEntry(
            kind=out.kind,
            title=title,
            title_i18n=_titles(title, out, cfg.title_i18n, bool(cfg.title), is_main),
            **_field_info(out.i18n, desc.get("fields", {})),
            description=(cfg.description if is_main else "") or out.text,
            version=job.version,
            artifacts={
                "data": f"{job.name}/{job.version}/{out.file}",
                **{k: f"{job.name}/{job.version}/{f}" for k, f in out.extra_files.items()},
            },
            crs=desc["crs"],
            bounds=desc["bounds"],
            minzoom=minzoom if minzoom is not None else 0,
            maxzoom=maxzoom if maxzoom is not None else 18,
            geometry_type=desc.get("geometry_type"),
            fields=desc.get("fields", {}),
            count=desc["count"],
            bands=desc.get("bands", []),
            resolution=desc.get("resolution"),
            stats=out.stats,
            style=style,
            parent=None if is_main else job.name,
            attribution=attribution,
            provenance=Provenance(
                builder=job.builder,
                builder_version=get_builder(job.builder).version,  # type: ignore[union-attr]
                inputs=job.inputs,
                params=job.params,
                fingerprint=job.fingerprint,
                files=job.files,
                built_at=utc_now(),
                synthetic=ctx.synthetic,
            ),
            history=history,
        )


def _titles(
    title: str, out: Built, configured: Mapping[Lang, str], own: bool, is_main: bool
) -> dict[str, str]:
    """The entry's ``title_i18n``: twin.toml's, else the builder's (when its title is used)."""
    if not is_main:
        return {"en": title, **out.i18n.get("titles", {})} if out.title else {}
    mine = {str(lang): text for lang, text in configured.items()}
    if own:  # a title from twin.toml is the user's, in whatever language they wrote it
        return mine
    return {"en": title, **out.i18n.get("titles", {}), **mine}


def _field_info(i18n: dict[str, Any], fields: dict[str, str]) -> dict[str, Any]:
    """The catalog's ``field_info`` and ``groups``: the labels of the fields the layer has."""
    labels = {f: label for f, label in i18n.get("labels", {}).items() if f in fields}
    info = {
        f: FieldInfo(
            label={"zh": label.zh, "en": label.en},
            unit=label.unit,
            unit_i18n={"zh": label.unit_zh} if label.unit_zh else {},
            scale=label.scale,
            group=label.group,
        )
        for f, label in labels.items()
    }
    used = {label.group for label in labels.values()}
    groups = {g: {"zh": z, "en": e} for g, (z, e) in i18n.get("groups", {}).items() if g in used}
    return {"field_info": info, "groups": groups}


def fingerprint(
    builder: str,
    builder_version: str,
    params: BaseModel,
    inputs: dict[str, str],
    extra: dict[str, Any],
) -> str:
    """The hash that decides whether a layer must be rebuilt."""
    return json_sha256(
        {
            "builder": builder,
            "builder_version": builder_version,
            "params": params.model_dump(mode="json"),
            "inputs": inputs,
            **extra,
        }
    )


def execute(
    jobs: TopologicalSorter[str],
    upstream: dict[str, set[str]],
    make_job: Any,
    publisher: Publisher,
    events: BuildEvents,
    report: BuildReport,
    workers: int,
    scheduler: str | None = None,
) -> None:
    """Run the graph: ``make_job(name)`` gives a :class:`Job` or ``None`` (skipped).

    A layer whose upstream failed is not attempted. With ``workers > 1`` jobs
    run in a pool of processes, with a Dask ``scheduler`` (an address or
    ``local:N``) on that cluster (see :mod:`twin._executors`); either way this
    process alone publishes.
    """
    with open_executor(workers, scheduler) as running_on:
        _execute(jobs, upstream, make_job, publisher, events, report, running_on)


def _execute(
    jobs: TopologicalSorter[str],
    upstream: dict[str, set[str]],
    make_job: Any,
    publisher: Publisher,
    events: BuildEvents,
    report: BuildReport,
    running_on: Running,
) -> None:
    jobs.prepare()
    blocked: set[str] = set()
    pool = running_on.pool
    running: dict[Future[JobResult], Job] = {}

    def finish(job: Job, result: JobResult | None, error: BaseException | None) -> None:
        if error is not None:
            message = _one_line(job.name, error)
            report.failed[job.name] = message
            events.fail(job.name, message)
            blocked.add(job.name)
        else:
            assert result is not None
            try:
                publisher.publish(job, result)
            except (OSError, BuildError) as exc:
                _discard(result.tmp_dir)
                message = (
                    str(exc)
                    if isinstance(exc, BuildError)
                    else f"layer {job.name!r}: cannot publish: {exc.strerror or exc}"
                )
                report.failed[job.name] = message
                events.fail(job.name, message)
                blocked.add(job.name)
            else:
                report.built[job.name] = job.version
                report.seconds[job.name] = result.seconds
                if result.warnings:
                    report.warnings[job.name] = result.warnings
                for warning in result.warnings:
                    log.info("%s: warning: %s", job.name, warning)
                events.finish(job.name, job.version, result.seconds)
        jobs.done(job.name)

    try:
        while jobs.is_active():
            for name in jobs.get_ready():
                if upstream.get(name, set()) & blocked:
                    report.skipped[name] = "an upstream layer failed"
                    events.skip(name, report.skipped[name])
                    blocked.add(name)
                    jobs.done(name)
                    continue
                job = make_job(name)
                if job is None:
                    jobs.done(name)
                    continue
                events.start(name)
                if pool is None:
                    try:
                        result = run_job(job)
                    except Exception as exc:
                        finish(job, None, exc)
                    else:
                        finish(job, result, None)
                else:
                    # builders that submit their own tasks (coverage windows) find the cluster
                    job.ctx.scheduler = running_on.scheduler
                    running[pool.submit(run_job, job)] = job
            if running:
                done, _ = wait(list(running), return_when=FIRST_COMPLETED)
                for fut in done:
                    job = running.pop(fut)
                    error = fut.exception()
                    finish(job, None if error else fut.result(), error)
    finally:
        for fut in running:
            fut.cancel()


def _one_line(layer: str, error: BaseException) -> str:
    if isinstance(error, BuildError):
        return str(error)
    if isinstance(error, TwinError | LayerError):
        return f"layer {layer!r}: {error}"
    if isinstance(error, OSError):
        where = f" ({error.filename})" if error.filename else ""
        return f"layer {layer!r}: {error.strerror or error}{where}"
    # A bug in a builder: keep the type and the innermost frame so it can be found.
    frame = traceback.extract_tb(error.__traceback__)[-1] if error.__traceback__ else None
    at = f" at {Path(frame.filename).name}:{frame.lineno}" if frame else ""
    return f"layer {layer!r}: unexpected {type(error).__name__}: {error}{at}"


__all__ = [
    "BuildEvents",
    "BuildReport",
    "Figure",
    "LoggedEvents",
    "NoEvents",
    "execute",
    "fingerprint",
]
