"""The ``imagery`` builder: an orthophoto delivery (hundreds of sheets) as one mosaic layer.

::

    [sources.ortho_zone40]
    path = "sources/ortho/zone40"        # a folder, a glob or one file
    crs = "EPSG:4528"                    # for sheets that declare none

    [layers.ortho]
    builder = "imagery"
    inputs = { zone40 = "ortho_zone40", zone39 = "ortho_zone39" }
    params = { collar = "black", collar_tolerance = 10, compress = "jpeg" }

Every input is a source of sheets (any name; several sources when the
delivery comes in several CRSs or folders). The sheets are converted in
``workers`` processes forked for the build (:func:`twin._executors.forked_pool`),
or as tasks on the build's Dask cluster; see :mod:`layers.imagery` for what
happens to each sheet.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from layers.errors import LayerError
from layers.imagery import ImageryParams, Mosaic, SheetSource, build_mosaic, plan_sheets
from layers.imagery.mosaic import Mapper
from twin._executors import dask_client, forked_pool
from twin.builders import Builder, Output, register
from twin.builders.context import BuildContext, shifted_raster
from twin.errors import BuildError

#: the mosaic's bands are colours: no colormap, drawn opaque
STYLE = {"opacity": 1.0, "rgb": True}


def build_imagery(ctx: BuildContext) -> Output:
    params = ctx.params
    assert isinstance(params, ImageryParams)
    sources = []
    for key, item in sorted(ctx.inputs.items()):
        if item.kind != "source" or item.source is None:
            raise BuildError(
                ctx.layer, f"input {key!r}: sheets come from sources, not from layer {item.name!r}"
            )
        refused = shifted_raster(item.name, item.source.crs)
        if refused:
            raise BuildError(ctx.layer, refused)
        sources.append(SheetSource(str(item.path), item.source.crs))
    if not sources:
        raise BuildError(ctx.layer, "no input: name at least one source of sheets in inputs")
    try:
        sheets = plan_sheets(sources)
        workers = params.workers or min(2, os.cpu_count() or 1)
        with _mapper(ctx.scheduler, min(workers, len(sheets))) as mapper:
            mosaic = build_mosaic(sheets, ctx.crs, ctx.scratch() / "mosaic", params, mapper)
    except LayerError as exc:
        raise BuildError(ctx.layer, str(exc)) from None
    mosaic.index["source"] = [_shown(ctx.root, s) for s in mosaic.index["source"]]
    for message in mosaic.warnings:
        ctx.warn(message)
    return Output(
        data=mosaic,
        stats=mosaic.stats,
        style=dict(STYLE),
        title="Orthophoto",
        title_i18n={"zh": "正射影像"},
        description=_description(mosaic),
    )


@contextmanager
def _mapper(scheduler: str | None, workers: int) -> Iterator[Mapper]:
    """``map(fn, tasks)``: on the Dask cluster, in forked processes, or here."""
    with dask_client(scheduler) as client:
        if client is not None:

            def on_cluster(fn: Any, tasks: Any) -> Iterator[Any]:
                return iter(client.gather(client.map(fn, list(tasks), pure=False)))

            yield on_cluster
            return
    with forked_pool(workers) as pool:
        yield map if pool is None else pool.map  # type: ignore[misc]


def _shown(root: Path, path: str) -> str:
    try:
        return Path(path).resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path


def _description(mosaic: Mosaic) -> str:
    s = mosaic.stats
    return (
        f"Orthophoto mosaic of {s['sheets']} sheets at {s['resolution_cm']:g} cm "
        f"({s['source_crs']}), overview at {s['overview_resolution_m']:g} m."
    )


register(
    Builder(
        name="imagery",
        version="1",
        run=build_imagery,
        params=ImageryParams,
        open_inputs=True,
        doc="Orthophoto sheets (GeoTIFF, JPEG + world file, JPEG 2000; any CRS, collars) "
        "-> a mosaic of COGs with a footprint index and an overview.",
    )
)
