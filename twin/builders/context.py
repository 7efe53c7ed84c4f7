"""What a builder sees while it runs: its inputs, parameters and the region."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TypeVar

from pydantic import BaseModel
from pyproj import CRS

from layers.chinacrs import china_crs
from layers.errors import SourceWarning
from layers.sources import expand, is_glob
from layers.types import RasterData
from tiles.catalog import LayerEntry
from twin.config import LayerConfig, RegionConfig, SourceConfig
from twin.errors import BuildError

if TYPE_CHECKING:  # the readers load in a build, not with every workspace that is opened
    import geopandas as gpd
    import pandas as pd

T = TypeVar("T")


def shifted_raster(name: str, crs: str | None) -> str | None:
    """Why raster source ``name`` with ``crs`` cannot be read: GCJ-02/BD-09 are for vectors."""
    if china_crs(crs) is None:
        return None
    return f"sources.{name}: crs = {crs!r} is supported for vector sources only, not rasters"


@dataclass
class Input:
    """One resolved input of a layer: a source file or a published upstream layer."""

    key: str
    kind: Literal["source", "layer"]
    name: str
    path: Path
    source: SourceConfig | None = None
    entry: LayerEntry | None = None
    extras: dict[str, Input] = field(default_factory=dict)
    """For a layer input: the layers its build also made (``sinr`` for ``coverage_sinr``)."""

    @property
    def synthetic(self) -> bool:
        if self.source is not None:
            return self.source.synthetic
        return bool(self.entry and self.entry.provenance.synthetic)


@dataclass
class BuildContext:
    """Everything one layer build may read; it writes nothing itself."""

    layer: str
    config: LayerConfig
    params: BaseModel
    region: RegionConfig
    root: Path
    inputs: dict[str, Input]
    boundary_input: Input | None = None
    warnings: list[str] = field(default_factory=list)
    #: the Dask scheduler the build runs on (set by the build), for builders that
    #: submit their own tasks (:func:`twin._executors.dask_client`); None: no cluster
    scheduler: str | None = None
    #: where :meth:`scratch` puts files (set by the build, inside the layer's temporary dir)
    scratch_dir: Path | None = None
    #: the workspace's published catalog, for builders that read older versions of
    #: their input layers (:func:`tiles.catalog.read_version`)
    catalog_path: Path | None = None

    @cached_property
    def crs(self) -> CRS:
        """The working CRS."""
        return CRS.from_user_input(self.region.crs)

    def input(self, key: str) -> Input:
        try:
            return self.inputs[key]
        except KeyError:
            raise BuildError(self.layer, f"input {key!r} is not configured") from None

    def path(self, key: str) -> Path:
        """The file behind input ``key``."""
        return self.input(key).path

    def read_vector(self, key: str, to_crs: bool = True) -> gpd.GeoDataFrame:
        """Input ``key`` as a GeoDataFrame, in the working CRS unless ``to_crs`` is False."""
        return self._read_vector(self.input(key), to_crs)

    def _read_vector(self, item: Input, to_crs: bool) -> gpd.GeoDataFrame:
        import geopandas as gpd

        from layers.vector import read_vector

        if item.kind == "layer":
            gdf = gpd.read_parquet(item.path)
        else:
            src = item.source
            assert src is not None
            with self.recording():
                gdf = read_vector(
                    item.path,
                    layer=src.layer,
                    crs=src.crs,
                    x=src.x,
                    y=src.y,
                    encoding=src.encoding,
                )
        return gdf.to_crs(self.crs) if to_crs else gdf

    def read_table(self, key: str) -> pd.DataFrame:
        """Input ``key`` as an attribute table (CSV, Excel, or a vector file's attributes)."""
        import geopandas as gpd
        import pandas as pd

        from layers.vector import read_table

        item = self.input(key)
        if item.kind == "layer":
            return pd.DataFrame(gpd.read_parquet(item.path)).drop(columns="geometry")
        src = item.source
        with self.recording():
            return read_table(
                item.path,
                layer=src.layer if src else None,
                encoding=src.encoding if src else None,
            )

    def read_table_files(self, key: str) -> dict[str, pd.DataFrame] | None:
        """Each file of a source that names several (a glob): file name -> its table.

        None when input ``key`` is one file or a layer (read it with :meth:`read_table`).
        """
        item = self.input(key)
        src = item.source
        if src is None or not is_glob(item.path):
            return None
        from layers.vector import read_table

        with self.recording():
            return {
                path.name: read_table(path, layer=src.layer, encoding=src.encoding)
                for path in expand(item.path)
            }

    def read_raster(self, key: str, extra: str | None = None) -> RasterData:
        """Input ``key`` (or the ``extra`` its build also made) as an in-memory raster.

        A source's files (one, or the tiles its glob names) are mosaicked in
        their own CRS; the source's ``crs`` is assumed for files that declare none.
        """
        item = self.extra(key, extra) if extra else self.input(key)
        refused = shifted_raster(item.name, item.source.crs) if item.source else None
        if refused:
            raise BuildError(self.layer, refused)
        from layers.raster import read_raster  # rasterio: only for builds that read rasters

        return read_raster(item.path, crs=item.source.crs if item.source else None)

    @contextmanager
    def recording(self) -> Iterator[None]:
        """Record the :class:`layers.errors.SourceWarning` s raised inside as build warnings.

        Readers in :mod:`layers` warn about guesses (an undeclared encoding) with
        Python warnings; a build reports them with its other warnings instead.
        """
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", SourceWarning)
            yield
        for w in caught:
            if issubclass(w.category, SourceWarning):
                if str(w.message) not in self.warnings:
                    self.warn(str(w.message))
            else:  # not ours to record: as if never caught
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)

    def recorded(self, fn: Callable[..., T], *args: object, **kwargs: object) -> T:
        """``fn(*args, **kwargs)`` with its source warnings recorded (see :meth:`recording`)."""
        with self.recording():
            return fn(*args, **kwargs)

    def extra(self, key: str, name: str) -> Input:
        """The layer named ``<upstream>_<name>`` made by the same build as input ``key``."""
        item = self.input(key)
        try:
            return item.extras[name]
        except KeyError:
            have = ", ".join(sorted(item.extras)) or "none"
            raise BuildError(
                self.layer, f"input {key!r} has no {name!r} layer (it has: {have})"
            ) from None

    @cached_property
    def boundary(self) -> gpd.GeoDataFrame | None:
        """The region's boundary polygons in the working CRS, if the region names one."""
        if self.boundary_input is None:
            return None
        return self._read_vector(self.boundary_input, to_crs=True)

    def scratch(self) -> Path:
        """A private directory for large intermediate files, removed after the build.

        Outputs may map files here (e.g. :class:`numpy.memmap` rasters): they
        live until the layer's artifacts are written.
        """
        if self.scratch_dir is None:
            raise BuildError(self.layer, "no scratch directory outside a build job")
        self.scratch_dir.mkdir(parents=True, exist_ok=True)
        return self.scratch_dir

    def warn(self, message: str) -> None:
        """Record a problem worth reporting that does not stop the build."""
        self.warnings.append(message)

    @property
    def synthetic(self) -> bool:
        """Whether any input is synthetic (the output is then synthetic too)."""
        return any(i.synthetic for i in self.inputs.values())
