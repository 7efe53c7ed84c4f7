"""The catalog: the contract between whoever builds layers and the tile server.

One JSON file, ``build/catalog.json`` in a workspace, lists every published
layer with what a server or a client needs to serve and draw it: kind,
artifacts, storage CRS, WGS84 bounds, zoom range, fields, statistics, style
hints, provenance and version history.

Artifact paths are relative to the directory that holds the catalog (so a
``build/`` directory can be copied or synced to shared storage as a whole);
absolute paths and URIs (``s3://...``, ``/vsis3/...``) are kept as they are.

The file is only ever replaced atomically (:func:`write_catalog`): a reader sees
the old catalog or the new one, never a mixture.

Examples
--------
>>> cat = Catalog(workspace="Demo", updated="2026-11-28T05:00:00Z")
>>> cat.layers
{}
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic import ValidationError as PydanticValidationError

from tiles.errors import CatalogError, LayerNotFoundError

FORMAT_VERSION = 1

#: Layer names are safe in URLs, file names and style ids: no dots, commas or slashes.
LAYER_NAME_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
_LAYER_NAME_RE = re.compile(LAYER_NAME_PATTERN)

FieldType = Literal["string", "int", "float", "bool", "datetime", "date", "json"]
LayerKind = Literal["vector", "raster"]
#: The languages the viewer and ``twin stats`` speak.
Lang = Literal["zh", "en"]
LANGS: tuple[Lang, ...] = ("zh", "en")
#: Text in several languages: language (``zh``, ``en``) -> text.
Texts = dict[str, str]
#: The artifact of a raster layer that makes it an orthophoto mosaic: the index of its sheets.
MOSAIC_ARTIFACT = "index"


def is_layer_name(name: str) -> bool:
    """Whether ``name`` is a valid layer name (see :data:`LAYER_NAME_PATTERN`)."""
    return bool(_LAYER_NAME_RE.match(name))


def utc_now() -> str:
    """The current UTC time as an ISO 8601 string with a ``Z`` suffix."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Provenance(_Model):
    """Where a layer version came from: enough to reproduce or audit it."""

    builder: str
    builder_version: str
    inputs: dict[str, str] = Field(
        default_factory=dict,
        description="input name -> 'sha256:<hex>' of a source file or 'layer:<name>@<version>'",
    )
    params: dict[str, Any] = Field(default_factory=dict)
    fingerprint: str
    files: dict[str, str] = Field(
        default_factory=dict,
        description="every source file read (sidecars, tiles, the region boundary): "
        "path relative to the workspace -> 'sha256:<hex>'; empty in catalogs from before",
    )
    built_at: str
    synthetic: bool = Field(False, description="built from synthetic (demo) data")


class Band(_Model):
    """One band of a raster layer."""

    name: str
    dtype: str
    nodata: float | None = None
    unit: str | None = None
    min: float | None = None
    max: float | None = None
    mean: float | None = None


def localized(texts: Texts, lang: str, default: str = "") -> str:
    """``texts`` in ``lang``, else in English, else ``default``.

    Examples
    --------
    >>> localized({"zh": "道路", "en": "Roads"}, "zh"), localized({"en": "Roads"}, "zh")
    ('道路', 'Roads')
    >>> localized({}, "zh", "roads")
    'roads'
    """
    return texts.get(lang) or texts.get("en") or default


class FieldInfo(_Model):
    """What one field of a vector layer means: its label and unit in each language.

    Catalogs from before have no field information; clients then show the field's name.
    """

    label: Texts = Field(default_factory=dict, description="language (zh, en) -> label")
    unit: str = Field("", description="unit as written in English: %, km, km/km², dBm, 10k CNY")
    unit_i18n: Texts = Field(
        default_factory=dict, description="language -> unit, where it is a word (万元, 人)"
    )
    scale: float = Field(
        1.0, description="multiply a value by this to read it in 'unit' (a 0-1 share in %: 100)"
    )
    group: str | None = Field(
        None, description="the group the field belongs to (a village indicator's domain)"
    )

    def text(self, lang: str, name: str) -> str:
        """The label in ``lang`` (falling back to English, then to the field's ``name``)."""
        return localized(self.label, lang, name)

    def unit_text(self, lang: str) -> str:
        """The unit in ``lang``."""
        return localized(self.unit_i18n, lang, self.unit)


class Figure(_Model):
    """One of the county's key figures, shown by ``twin stats`` and the viewer."""

    name: str
    label: str
    value: float | int | str
    unit: str = ""
    layer: str | None = None
    label_i18n: Texts = Field(default_factory=dict, description="language -> label")
    unit_i18n: Texts = Field(default_factory=dict, description="language -> unit, if a word")

    def text(self, lang: str) -> str:
        """The label in ``lang`` (else :attr:`label`)."""
        return localized(self.label_i18n, lang, self.label)

    def unit_text(self, lang: str) -> str:
        """The unit in ``lang`` (else :attr:`unit`)."""
        return localized(self.unit_i18n, lang, self.unit)


class RegionInfo(_Model):
    """The region the workspace covers."""

    name: str
    crs: str
    bounds: tuple[float, float, float, float] | None = None
    area_km2: float | None = None
    lang: Lang | None = Field(None, description="the workspace's language ([region] lang)")


class LayerEntry(_Model):
    """One published layer: the version the server serves now."""

    kind: LayerKind
    title: str
    title_i18n: Texts = Field(
        default_factory=dict, description="language -> title; empty: 'title' in every language"
    )
    description: str = ""
    version: str
    artifacts: dict[str, str] = Field(description="artifact name -> path; 'data' is required")
    crs: str = Field(description="CRS of the stored artifact")
    bounds: tuple[float, float, float, float] = Field(description="WGS84 west, south, east, north")
    minzoom: int = Field(0, ge=0, le=30)
    maxzoom: int = Field(22, ge=0, le=30)
    geometry_type: str | None = None
    fields: dict[str, FieldType] = Field(default_factory=dict)
    field_info: dict[str, FieldInfo] = Field(
        default_factory=dict, description="field -> label and unit, where the builder knows them"
    )
    groups: dict[str, Texts] = Field(
        default_factory=dict, description="field group (FieldInfo.group) -> language -> label"
    )
    count: int | None = Field(None, description="features (vector) or valid pixels (raster)")
    bands: list[Band] = Field(default_factory=list)
    resolution: float | None = Field(None, description="pixel size in storage CRS units")
    stats: dict[str, float | int | str] = Field(default_factory=dict)
    style: dict[str, Any] = Field(default_factory=dict, description="style hints for clients")
    parent: str | None = Field(None, description="the layer whose build also made this one")
    attribution: str = ""
    provenance: Provenance
    history: list[str] = Field(default_factory=list, description="older versions, newest first")

    def text(self, lang: str) -> str:
        """The title in ``lang`` (else :attr:`title`)."""
        return localized(self.title_i18n, lang, self.title)

    @property
    def is_mosaic(self) -> bool:
        """Whether the layer is an orthophoto mosaic: a raster whose ``data`` is its
        overview, with an ``index`` of sheets (see :mod:`tiles.mosaic`)."""
        return self.kind == "raster" and MOSAIC_ARTIFACT in self.artifacts

    @field_validator("artifacts")
    @classmethod
    def _has_data(cls, value: dict[str, str]) -> dict[str, str]:
        if "data" not in value:
            raise ValueError("a layer needs a 'data' artifact")
        return value

    @field_validator("bounds")
    @classmethod
    def _bounds_ordered(
        cls, value: tuple[float, float, float, float]
    ) -> tuple[float, float, float, float]:
        w, s, e, n = value
        if not (-180 <= w <= e <= 180 and -90 <= s <= n <= 90):
            raise ValueError(f"bounds {value} are not WGS84 west<=east, south<=north")
        return value


class Catalog(_Model):
    """Every published layer of a workspace."""

    format: Literal[1] = 1
    workspace: str
    updated: str
    region: RegionInfo | None = None
    figures: list[Figure] = Field(default_factory=list)
    layers: dict[str, LayerEntry] = Field(default_factory=dict)

    @field_validator("layers")
    @classmethod
    def _names(cls, value: dict[str, LayerEntry]) -> dict[str, LayerEntry]:
        for name in value:
            if not is_layer_name(name):
                raise ValueError(f"layer name {name!r} does not match {LAYER_NAME_PATTERN}")
        return value

    def layer(self, name: str) -> LayerEntry:
        """The entry of layer ``name``; :class:`LayerNotFoundError` if there is none."""
        try:
            return self.layers[name]
        except KeyError:
            raise LayerNotFoundError(f"no layer {name!r} in the catalog") from None


#: The manifest in each published version directory (``<job>/<version>/versions.json``):
#: the catalog entries of the layers that version published, as they were published
#: (without ``history``). It makes every version still on disk servable and comparable.
VERSION_MANIFEST = "versions.json"


class VersionManifest(_Model):
    """What one version directory holds: layer name -> its entry at publication."""

    format: Literal[1] = 1
    layers: dict[str, LayerEntry]


def version_dir(entry_name: str, entry: LayerEntry, version: str) -> str:
    """The version directory of ``version`` of a layer, relative to the catalog's directory.

    Layers made by another layer's build (``parent``) live in their parent's directory.

    Examples
    --------
    >>> e = LayerEntry.model_validate({"kind": "raster", "title": "S", "version": "v2",
    ...     "artifacts": {"data": "coverage/v2/sinr.tif"}, "crs": "EPSG:4549",
    ...     "bounds": [119, 30, 120, 31], "parent": "coverage", "provenance": {"builder":
    ...     "coverage", "builder_version": "1", "fingerprint": "f", "built_at": "t"}})
    >>> version_dir("coverage_sinr", e, "v1")
    'coverage/v1'
    """
    return f"{entry.parent or entry_name}/{version}"


def read_version(
    catalog_path: str | os.PathLike[str], name: str, entry: LayerEntry, version: str
) -> LayerEntry:
    """The entry of layer ``name`` as version ``version`` published it.

    ``entry`` is the layer's current entry; its own version is returned as it is.
    Artifact paths in the result are relative to the catalog's directory, as in the
    catalog.

    Raises
    ------
    LayerNotFoundError
        If ``version`` is not the current one nor in the history, or its directory or
        manifest is gone (pruned, or published before versions carried a manifest).
    CatalogError
        If the manifest is there but unreadable or breaks the contract.
    """
    if version == entry.version:
        return entry
    if version not in entry.history:
        raise LayerNotFoundError(f"layer {name!r} has no version {version[:64]!r}")
    path = Path(catalog_path).parent / version_dir(name, entry, version) / VERSION_MANIFEST
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise LayerNotFoundError(
            f"layer {name!r} version {version!r} is no longer servable (pruned or without "
            f"{VERSION_MANIFEST})"
        ) from None
    except OSError as exc:
        raise CatalogError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        manifest = VersionManifest.model_validate_json(raw)
    except PydanticValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        raise CatalogError(f"{path}: {loc}: {err['msg']}") from None
    try:
        return manifest.layers[name]
    except KeyError:
        raise LayerNotFoundError(f"layer {name!r} is not in {path}") from None


def resolve_artifact(catalog_path: str | os.PathLike[str], artifact: str) -> str:
    """The location of an artifact path written in the catalog at ``catalog_path``.

    Relative paths are relative to the catalog's directory; absolute paths and
    URIs are returned unchanged.
    """
    if "://" in artifact or artifact.startswith("/"):
        return artifact
    return str(Path(catalog_path).parent / artifact)


def read_catalog(path: str | os.PathLike[str]) -> Catalog:
    """Read and validate the catalog at ``path``.

    Raises
    ------
    CatalogError
        If the file is missing, is not JSON, or breaks the contract; the message
        names the file and the first offending key.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise CatalogError(f"{path}: no catalog (has the workspace been built?)") from None
    except OSError as exc:
        raise CatalogError(f"{path}: cannot read the catalog: {exc.strerror}") from None
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CatalogError(f"{path}: not valid JSON: {exc}") from None
    try:
        return Catalog.model_validate(data)
    except PydanticValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        raise CatalogError(f"{path}: {loc}: {err['msg']}") from None


def write_catalog(catalog: Catalog, path: str | os.PathLike[str]) -> None:
    """Publish ``catalog`` at ``path`` atomically (see :func:`atomic_write`).

    Readers see the old file or the new one, never a partial write.
    """
    atomic_write(path, catalog.model_dump_json(indent=2).encode() + b"\n")


#: How :func:`atomic_write` names its temporary file next to the target ``name``:
#: hidden, the writer's pid and a random token, and the target's suffix kept last
#: (GDAL picks some drivers' behaviour from the extension), e.g.
#: ``.catalog.json.4242-1f2e3d4c.tmp.json``.
TEMP_NAME = ".{name}.{pid}-{token}.tmp{suffix}"
_TEMP_RE = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)-[0-9a-f]{8}\.tmp(?P<suffix>\.[^.]*)?$")

T = TypeVar("T")


def _temp_path(path: Path) -> Path:
    name = TEMP_NAME.format(
        name=path.name, pid=os.getpid(), token=secrets.token_hex(4), suffix=path.suffix
    )
    return path.with_name(name)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], fsync: bool = True) -> Iterator[Path]:
    """A temporary path next to ``path`` that replaces ``path`` when the block succeeds.

    The block writes a file at the yielded path (named after :data:`TEMP_NAME`,
    not yet existing). On success the file is fsynced, renamed over ``path``
    with :func:`os.replace` and the directory fsynced, so the rename survives a
    crash; if the block raises, the temporary file is removed and ``path`` is
    left as it was. A killed process leaves the temporary file behind:
    :func:`leftover_temp_files` finds it.

    Parameters
    ----------
    path
        The file to replace.
    fsync
        Flush the file and the directory to disk; False for caches whose loss costs
        only time.
    """
    path = Path(path)
    tmp = _temp_path(path)
    try:
        yield tmp
        if fsync:
            _fsync_file(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if fsync:
        fsync_dir(path.parent)


def atomic_write(
    path: str | os.PathLike[str],
    data: bytes | str | Callable[[Path], T],
    fsync: bool = True,
) -> T | None:
    """Replace ``path`` with ``data`` so that no reader ever sees a partial file.

    Parameters
    ----------
    path
        The file to replace.
    data
        The new content (``str`` is written as UTF-8), or a function that writes
        the file at the temporary path it is given (a GDAL driver, a copy).
    fsync
        See :func:`atomic_path`.

    Returns
    -------
    object
        What the writer function returned (None for ``bytes``/``str``).

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> atomic_write(d / "a.txt", "one")
    >>> atomic_write(d / "a.txt", lambda tmp: tmp.write_text("two"))
    3
    >>> (d / "a.txt").read_text(), leftover_temp_files(d)
    ('two', [])
    """
    with atomic_path(path, fsync=fsync) as tmp:
        if callable(data):
            return data(tmp)
        tmp.write_bytes(data.encode() if isinstance(data, str) else data)
    return None


def leftover_temp_files(directory: str | os.PathLike[str], name: str | None = None) -> list[Path]:
    """The temporary files that :func:`atomic_write` calls killed mid-write left in ``directory``.

    Parameters
    ----------
    directory
        Where to look (not recursively).
    name
        Only the leftovers of writes to this file name (e.g. ``"catalog.json"``).
    """
    found = []
    for child in sorted(Path(directory).iterdir()):
        m = _TEMP_RE.match(child.name)
        if m is None or (name is not None and m["name"] != name):
            continue
        if m["suffix"] is not None and not m["name"].endswith(m["suffix"]):
            continue
        found.append(child)
    return found


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: str | os.PathLike[str]) -> None:
    """Flush a directory's entries (renames, new files) to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
