"""Older versions of a layer, served: ``layer@version`` and ``layer@date``.

A layer name in a tile, TileJSON or OGC route may carry a version after an
``@``: ``roads@20261128T050000-3f2a`` is that version of ``roads``, and
``roads@2026-09-30`` or ``roads@2026-09-30T18:00:00+08:00`` is the version in
force at that instant, the newest one published at or before it (its
``provenance.built_at``, stamped when the version was published). A date
without a time stands for the end of that day in UTC; a time needs ``Z`` or an
offset.

The versions a layer can be served at are its current one and those of its
``history`` whose version directory still holds its manifest
(:data:`tiles.catalog.VERSION_MANIFEST`); their entries are read from the
manifests, never from a path in the request. A version pruned away is unknown
(404), as is an instant before the oldest version kept.

Examples
--------
>>> split_layer("roads@2026-09-30"), split_layer("roads")
(('roads', '2026-09-30'), ('roads', None))
>>> parse_instant("2026-09-30T18:00:00+08:00").isoformat()
'2026-09-30T10:00:00+00:00'
>>> parse_instant("2026-09-30").isoformat()  # the end of the day (UTC)
'2026-09-30T23:59:59.999999+00:00'
>>> parse_instant("20261128T050000-3f2a") is None  # not a date: maybe a version
True
>>> parse_instant("2026-09-30T18:00:00")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
tiles.errors.InvalidParameterError: date '2026-09-30T18:00:00' has no time zone: ...
"""

from __future__ import annotations

import logging
import os
import re
import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path

from tiles.catalog import Catalog, LayerEntry, read_version
from tiles.errors import CatalogError, InvalidParameterError, LayerNotFoundError

log = logging.getLogger(__name__)

#: what separates a layer name from its version or date in a route
VERSION_SEP = "@"
#: what a version may look like (the versions twin makes: ``20261128T050000-3f2a``)
_VERSION_RE = re.compile(r"[0-9A-Za-z][0-9A-Za-z._-]{0,63}")
#: text shaped like an ISO 8601 calendar date: a failed parse is a malformed date, not a version
_DATE_SHAPED = re.compile(r"\d{4}-\d")
#: a '+' offset that a query string decoded into a space (``?datetime=...T12:00:00+08:00``)
_SPACED_OFFSET = re.compile(r"(T[0-9:.,]+) ([0-9]{2}(?::?[0-9]{2})?)$")


def split_layer(part: str) -> tuple[str, str | None]:
    """``(name, version or date)`` of one layer of a route; None when no ``@`` is given."""
    name, sep, at = part.partition(VERSION_SEP)
    return name, (at if sep else None)


def parse_instant(text: str) -> datetime | None:
    """The UTC instant an ISO 8601 date or datetime names; None when ``text`` is not one.

    A date alone stands for the end of that day (UTC).

    Raises
    ------
    InvalidParameterError
        When ``text`` is shaped like a date but is not a valid one, or is a datetime
        without a time zone.
    """
    text = _SPACED_OFFSET.sub(r"\1+\2", text.strip())
    try:
        day = date.fromisoformat(text)
    except ValueError:
        pass
    else:
        return datetime.combine(day, time.max, tzinfo=UTC)
    try:
        instant = datetime.fromisoformat(text)
    except ValueError:
        if _DATE_SHAPED.match(text):
            raise InvalidParameterError(
                f"date {text[:64]!r} is not ISO 8601 (e.g. 2026-09-30 or 2026-09-30T18:00:00+08:00)"
            ) from None
        return None
    if instant.tzinfo is None:
        raise InvalidParameterError(
            f"date {text[:64]!r} has no time zone: add Z or an offset (e.g. +08:00)"
        )
    try:
        return instant.astimezone(UTC)
    except OverflowError:  # year 1 or 9999 shifted by its offset
        raise InvalidParameterError(f"date {text[:64]!r} is out of range") from None


def datetime_param(text: str) -> datetime:
    """The instant of a ``datetime`` query parameter (OGC API style: one instant, no interval).

    Raises
    ------
    InvalidParameterError
        When ``text`` is an interval or not an ISO 8601 date or datetime with a zone.
    """
    if "/" in text:
        raise InvalidParameterError(
            f"datetime {text[:64]!r}: one instant is expected, not an interval "
            "(a tile shows one version)"
        )
    instant = parse_instant(text)
    if instant is None:
        raise InvalidParameterError(
            f"datetime {text[:64]!r} is not ISO 8601 (e.g. 2026-09-30 or 2026-09-30T18:00:00Z)"
        )
    return instant


def published_at(entry: LayerEntry) -> datetime | None:
    """When a version was published (``provenance.built_at``), or None if unreadable."""
    try:
        when = datetime.fromisoformat(entry.provenance.built_at)
        return when.astimezone(UTC) if when.tzinfo is not None else when.replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        return None


@dataclass(frozen=True)
class Version:
    """One version of a layer: its entry when it is servable, else None (pruned, or from
    before versions carried a manifest)."""

    version: str
    entry: LayerEntry | None

    @property
    def published(self) -> datetime | None:
        return None if self.entry is None else published_at(self.entry)


class VersionIndex:
    """The versions of every layer of one catalog snapshot, read from their manifests once.

    Parameters
    ----------
    catalog_path
        The catalog file (manifests are found relative to its directory).
    catalog
        The catalog read from it.
    """

    def __init__(self, catalog_path: str | os.PathLike[str], catalog: Catalog) -> None:
        self.path = Path(catalog_path)
        self.catalog = catalog
        self._layers: dict[str, tuple[Version, ...]] = {}
        self._lock = threading.Lock()

    def versions(self, name: str) -> tuple[Version, ...]:
        """Layer ``name``'s current version then its history, newest first."""
        found = self._layers.get(name)
        if found is not None:
            return found
        with self._lock:
            found = self._layers.get(name)
            if found is None:
                found = self._layers[name] = self._read(name)
        return found

    def _read(self, name: str) -> tuple[Version, ...]:
        entry = self.catalog.layer(name)
        out = [Version(entry.version, entry)]
        for version in entry.history:
            try:
                old: LayerEntry | None = read_version(self.path, name, entry, version)
            except LayerNotFoundError:
                old = None
            except CatalogError as exc:  # a damaged manifest: that version only is lost
                log.warning("layer %s version %s is not servable: %s", name, version, exc)
                old = None
            out.append(Version(version, old))
        return tuple(out)

    def servable(self, name: str) -> list[Version]:
        """The versions of layer ``name`` that can be served, newest first."""
        return [v for v in self.versions(name) if v.entry is not None]

    def resolve(self, name: str, at: str) -> LayerEntry:
        """The entry of layer ``name`` at ``at``: a version of it, or an ISO 8601 date.

        Raises
        ------
        LayerNotFoundError
            Unknown layer or version, a version no longer servable, or an instant
            before the oldest version kept.
        InvalidParameterError
            ``at`` is neither a version nor a valid date.
        """
        entry = self.catalog.layer(name)
        if not at:
            raise InvalidParameterError(f"{name}@: a version or an ISO 8601 date after the '@'")
        if at == entry.version:
            return entry
        if at in entry.history:
            for v in self.versions(name):
                if v.version == at and v.entry is not None:
                    return v.entry
            raise LayerNotFoundError(f"layer {name!r} version {at!r} is no longer servable")
        instant = parse_instant(at)
        if instant is not None:
            return self.at(name, instant, at)
        if _VERSION_RE.fullmatch(at):
            raise LayerNotFoundError(f"layer {name!r} has no version {at!r}")
        raise InvalidParameterError(
            f"{name}@{at[:64]}: after the '@' a version of the layer or an ISO 8601 date"
        )

    def catalog_at(self, instant: datetime, text: str = "") -> Catalog:
        """The catalog as it was at ``instant``: each layer's version then.

        Layers without a servable version at that instant are left out;
        :class:`LayerNotFoundError` if that is every layer.
        """
        layers = {}
        for name in self.catalog.layers:
            try:
                layers[name] = self.at(name, instant, text)
            except LayerNotFoundError:
                continue
        if self.catalog.layers and not layers:
            raise LayerNotFoundError(
                f"no layer has a servable version at {(text or instant.isoformat())[:64]}"
            )
        return self.catalog.model_copy(update={"layers": layers})

    def at(self, name: str, instant: datetime, text: str = "") -> LayerEntry:
        """The version of layer ``name`` in force at ``instant`` (UTC)."""
        text = text or instant.isoformat()
        for v in self.versions(name):
            published = v.published
            if v.entry is None or published is None:
                # what was in force before this version is not known for sure
                raise LayerNotFoundError(
                    f"layer {name!r}: the version in force at {text[:64]} is no longer "
                    f"servable (version {v.version} is pruned or has no manifest)"
                )
            if published <= instant:
                return v.entry
        raise LayerNotFoundError(
            f"layer {name!r} had no version at {text[:64]}: its oldest kept version was "
            f"published {published:%Y-%m-%dT%H:%M:%SZ}"
        )


__all__ = [
    "VERSION_SEP",
    "Version",
    "VersionIndex",
    "datetime_param",
    "parse_instant",
    "published_at",
    "split_layer",
]
