"""Publish a workspace's built layers to object storage or a shared directory.

``twin publish s3://bucket/prefix`` copies every artifact the catalog names
to the destination, under the same relative paths, then writes the catalog
there last: a reader of the destination's ``catalog.json`` never meets an
artifact that is not there yet. Versions are immutable directories, so an
artifact already at the destination with the same size is not copied again;
publishing after a rebuild sends only the rebuilt layers.

Destinations are whatever :class:`pyarrow.fs.FileSystem` opens: ``s3://``
(credentials and ``AWS_ENDPOINT_URL`` from the environment, as for the tile
server), ``gs://``, ``abfs://``, ``file://`` or a plain path. On a local or
mounted file system each file is written beside its target and renamed into
place; on object storage each object appears whole when its upload ends.

Every version the server can serve goes along: the current one and each
version of a layer's history whose directory still holds its manifest
(``<layer>/<version>/versions.json``), with that manifest and the artifacts
it names; the destination then serves ``layer@version`` and ``layer@date`` as
the workspace does. ``twin prune`` bounds what that is (a pruned version is
not copied again, and a destination's copy of it is left to its own
lifecycle rules: it is no longer listed).

The catalog written at the destination keeps relative paths, so the
destination is a self-contained copy (``aws s3 sync`` it anywhere). With
``catalog_out``, a second catalog is written locally whose artifacts name
the destination by URI, for a tile server that reads them from there; the
versions' manifests are written beside it the same way
(``<dir of catalog_out>/<layer>/<version>/versions.json``).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from pyarrow import fs

from tiles import atomic_write
from tiles.catalog import (
    VERSION_MANIFEST,
    Catalog,
    LayerEntry,
    VersionManifest,
    read_catalog,
    read_version,
    version_dir,
    write_catalog,
)
from tiles.errors import LayerNotFoundError
from twin.errors import TwinError

CATALOG_NAME = "catalog.json"


@dataclass
class PublishReport:
    """What a publish did: relative paths copied and already present."""

    destination: str
    copied: list[str] = field(default_factory=list)
    present: list[str] = field(default_factory=list)
    bytes_copied: int = 0


def _open_destination(dest: str) -> tuple[fs.FileSystem, str, str]:
    """``(filesystem, base path in it, base URI for catalogs)`` of ``dest``."""
    if "://" in dest:
        try:
            filesystem, base = fs.FileSystem.from_uri(dest)
        except (OSError, ValueError) as exc:
            raise TwinError(f"{dest}: cannot open the destination: {_first_line(exc)}") from None
        return filesystem, base.rstrip("/"), dest.rstrip("/")
    path = Path(dest).expanduser().resolve()
    return fs.LocalFileSystem(), str(path), str(path)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _is_relative(artifact: str) -> bool:
    return "://" not in artifact and not artifact.startswith("/")


def _put(filesystem: fs.FileSystem, source: Path, target: str) -> None:
    """Copy ``source`` to ``target`` so that no reader sees a partial file."""
    parent = target.rsplit("/", 1)[0]
    filesystem.create_dir(parent, recursive=True)
    if isinstance(filesystem, fs.LocalFileSystem):
        # A local or mounted target is written aside and renamed.
        atomic_write(target, lambda tmp: shutil.copyfile(source, tmp))
        return
    # An object store shows an object only once it is whole.
    fs.copy_files(
        str(source),
        target,
        source_filesystem=fs.LocalFileSystem(),
        destination_filesystem=filesystem,
    )


def publish(catalog_path: Path, dest: str, catalog_out: Path | None = None) -> PublishReport:
    """Copy the catalog at ``catalog_path`` and its artifacts to ``dest``.

    Parameters
    ----------
    catalog_path
        A workspace's ``build/catalog.json``.
    dest
        A URI (``s3://bucket/prefix``) or a directory.
    catalog_out
        Where to also write a local catalog naming the artifacts at ``dest``.

    Raises
    ------
    TwinError
        One line naming the destination (or the artifact) when a copy fails;
        the destination's catalog is then left as it was.
    """
    catalog = read_catalog(catalog_path)
    filesystem, base, base_uri = _open_destination(dest)
    report = PublishReport(destination=dest)
    versions = servable_versions(catalog_path, catalog)
    wanted = sorted(
        {a for _, _, e in versions for a in e.artifacts.values() if _is_relative(a)}
        | {
            rel
            for rel in {
                f"{version_dir(n, e, e.version)}/{VERSION_MANIFEST}" for n, _, e in versions
            }
            if (catalog_path.parent / rel).is_file()
        }
    )
    for rel in wanted:
        source = catalog_path.parent / rel
        target = f"{base}/{rel}"
        try:
            size = source.stat().st_size
        except OSError as exc:
            raise TwinError(f"{source}: artifact named by the catalog: {exc.strerror}") from None
        try:
            info = filesystem.get_file_info(target)
            if info.type == fs.FileType.File and info.size == size:
                report.present.append(rel)
                continue
            _put(filesystem, source, target)
        except OSError as exc:
            raise TwinError(f"{dest}/{rel}: cannot copy: {_first_line(exc)}") from None
        report.copied.append(rel)
        report.bytes_copied += size
    try:
        _put(filesystem, catalog_path, f"{base}/{CATALOG_NAME}")
    except OSError as exc:
        raise TwinError(f"{dest}/{CATALOG_NAME}: cannot write: {_first_line(exc)}") from None
    if catalog_out is not None:
        _write_remote_manifests(versions, catalog_out, base_uri)
        write_catalog(remote_catalog(catalog, base_uri), catalog_out)
    return report


def servable_versions(catalog_path: Path, catalog: Catalog) -> list[tuple[str, str, LayerEntry]]:
    """``(layer, version directory, entry)`` of every version the catalog can serve.

    The current version of each layer, and each version of its history whose
    manifest is still on disk (a pruned one, or one published before versions
    carried a manifest, is left out).
    """
    out = []
    for name, entry in catalog.layers.items():
        for version in (entry.version, *entry.history):
            try:
                found = read_version(catalog_path, name, entry, version)
            except LayerNotFoundError:
                continue
            out.append((name, version_dir(name, entry, version), found))
    return out


def _write_remote_manifests(
    versions: list[tuple[str, str, LayerEntry]], catalog_out: Path, base_uri: str
) -> None:
    """The manifests of the versions beside ``catalog_out``, naming artifacts under ``base_uri``."""
    by_dir: dict[str, dict[str, LayerEntry]] = {}
    for name, directory, entry in versions:
        by_dir.setdefault(directory, {})[name] = entry
    for directory, layers in sorted(by_dir.items()):
        remote = remote_catalog(Catalog(workspace="", updated="", layers=layers), base_uri)
        manifest = VersionManifest(
            layers={n: e.model_copy(update={"history": []}) for n, e in remote.layers.items()}
        )
        target = catalog_out.parent / directory / VERSION_MANIFEST
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(target, manifest.model_dump_json(indent=2) + "\n")


def remote_catalog(catalog: Catalog, base_uri: str) -> Catalog:
    """``catalog`` with its relative artifact paths made absolute under ``base_uri``."""
    layers = {
        name: entry.model_copy(
            update={
                "artifacts": {
                    k: f"{base_uri}/{a}" if _is_relative(a) else a
                    for k, a in entry.artifacts.items()
                }
            }
        )
        for name, entry in catalog.layers.items()
    }
    return catalog.model_copy(update={"layers": layers})


__all__ = ["PublishReport", "publish", "remote_catalog", "servable_versions"]
