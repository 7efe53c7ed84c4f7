"""The builder registry: how a layer kind named in ``twin.toml`` gets built.

A :class:`Builder` adapts a pure function from :mod:`layers` to the workspace:
it declares its inputs, a pydantic model for its parameters, a version (part
of every layer's fingerprint: bump it when the output would change), and a
``run`` callable that takes a :class:`~twin.builders.context.BuildContext` and
returns an :class:`Output`.

Each layer kind is built in its own module (``generic``, ``roads``, ``coverage``,
``villages``, ``diff``); what a builder may read and warn about is its
:class:`~twin.builders.context.BuildContext`. The build graph that runs them is
:mod:`twin.build`. Builders register themselves in the modules listed in
:data:`_MODULES`, each imported when a workspace first names one of its builders
(opening a workspace of vector layers does not import the coverage model's scipy);
third-party packages can add more through the ``twin.builders`` entry point group
(each entry point names a :class:`Builder`).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict

from layers.labels import Label
from layers.types import RasterData
from tiles.catalog import Figure

if TYPE_CHECKING:
    import dask_geopandas
    import geopandas as gpd
    import pandas as pd

    from layers.types import Mosaic
    from twin.builders.context import BuildContext


class NoParams(BaseModel):
    """Parameters of a builder that takes none."""

    model_config = ConfigDict(extra="forbid")


@dataclass
class Output:
    """What a builder produces for one layer.

    Parameters
    ----------
    data
        The layer: a GeoDataFrame in the working CRS, a raster (its array may be
        disk-backed, see :func:`layers.blocks.disk_array`), an orthophoto mosaic
        (files already written, moved into place by ``twin._mosaic``), or on a Dask
        cluster a dask-geopandas frame, written partition by partition (``twin._partitioned``).
    stats
        Summary statistics stored in the catalog entry (``length_km`` ...).
    figures
        The county's key figures this layer contributes (``twin stats``).
    style
        Style hints for clients, merged under the layer's ``tiles.style``.
    extras
        More layers made by the same build, published as ``<layer>_<key>``
        with the same version and provenance (e.g. a coverage build's SINR).
    title, description
        Defaults for the catalog entry when ``twin.toml`` gives none.
    title_i18n
        The title in other languages: language (``zh``) -> title.
    labels
        Field -> label and unit (:mod:`layers.labels`); the catalog keeps those
        of the fields the layer has.
    groups
        Field group (``Label.group``) -> ``(zh, en)`` labels.
    tables
        Attribute tables that belong with the layer (no geometry), written as
        Parquet beside its data and listed in the catalog entry's ``artifacts``
        under their key (the villages' ``periods``).
    """

    data: gpd.GeoDataFrame | RasterData | Mosaic | dask_geopandas.GeoDataFrame
    stats: dict[str, float | int | str] = field(default_factory=dict)
    figures: list[Figure] = field(default_factory=list)
    style: dict[str, Any] = field(default_factory=dict)
    extras: dict[str, Output] = field(default_factory=dict)
    title: str | None = None
    description: str = ""
    title_i18n: dict[str, str] = field(default_factory=dict)
    labels: Mapping[str, Label] = field(default_factory=dict)
    groups: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)

    @property
    def kind(self) -> Literal["vector", "raster"]:
        return "raster" if isinstance(self.data, RasterData | Mosaic) else "vector"


@dataclass(frozen=True)
class Builder:
    """A layer kind: what it needs and how to build it."""

    name: str
    version: str
    run: Callable[[BuildContext], Output]
    params: type[BaseModel] = NoParams
    inputs: tuple[str, ...] = ()
    optional_inputs: tuple[str, ...] = ()
    open_inputs: bool = False
    """Whether inputs with other names are welcome (their roles come from the params)."""
    doc: str = ""


_REGISTRY: dict[str, Builder] = {}
#: the module that registers each built-in builder: a workspace imports only those it
#: names (the coverage builder alone brings in scipy)
_MODULES = {
    "vector": "twin.builders.generic",
    "raster": "twin.builders.generic",
    "roads": "twin.builders.roads",
    "coverage": "twin.builders.coverage",
    "villages": "twin.builders.villages",
    "imagery": "twin.builders.imagery",
    "diff": "twin.builders.diff",
}
#: the plugins' builders (entry point group ``twin.builders``), once looked up
_PLUGINS: dict[str, Builder] | None = None


def register(builder: Builder) -> Builder:
    """Add ``builder`` to the registry (a later registration of a name wins)."""
    _REGISTRY[builder.name] = builder
    return builder


def _load(name: str | None = None) -> None:
    """Import the built-in module of builder ``name`` (None: every one), and the plugins."""
    global _PLUGINS
    modules = _MODULES.values() if name is None else [_MODULES.get(name)]
    for module in dict.fromkeys(m for m in modules if m is not None):
        importlib.import_module(module)
    if _PLUGINS is None:
        _PLUGINS = {}
        for ep in entry_points(group="twin.builders"):
            builder = ep.load()
            if isinstance(builder, Builder):
                _PLUGINS[builder.name] = builder
    # as if loaded after every built-in module: a plugin's builder of a built-in name wins
    _REGISTRY.update(_PLUGINS)


def get_builder(name: str) -> Builder | None:
    """The builder registered as ``name``, or ``None``."""
    _load(name)
    return _REGISTRY.get(name)


def builders() -> dict[str, Builder]:
    """Every registered builder by name."""
    _load()
    return dict(sorted(_REGISTRY.items()))


__all__ = [
    "Builder",
    "NoParams",
    "Output",
    "builders",
    "context",
    "get_builder",
    "register",
]
