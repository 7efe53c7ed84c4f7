"""Why a layer must be rebuilt, in words: the file, parameter or upstream layer that changed.

A layer is stale when its fingerprint (:func:`twin.build.fingerprint`) differs
from the published one. The fingerprint alone cannot say why, so the
published provenance (each source file's hash, the input digests, the
parameters, the builder's version) is compared with what a build would
record now.
"""

from __future__ import annotations

from pathlib import Path

from tiles.catalog import Catalog, Provenance


def stale(name: str, now: Provenance, catalog: Catalog, build_dir: Path, force: bool) -> str | None:
    """Why layer ``name`` must be rebuilt, or ``None`` when it is up to date.

    ``now`` is what the layer's provenance would say if it were built now.
    """
    if force:
        return "forced"
    entry = catalog.layers.get(name)
    if entry is None:
        return "never built"
    if entry.provenance.fingerprint != now.fingerprint:
        return "; ".join(changes(entry.provenance, now))
    owned = [e for e in catalog.layers.values() if e.parent == name] + [entry]
    for e in owned:
        for path in e.artifacts.values():
            if not (build_dir / path).exists():
                return f"artifact {path} is missing"
    return None


#: changes named by :func:`changes` before "and N more"
_MAX_CHANGES = 4


def changes(old: Provenance, now: Provenance) -> list[str]:
    """What differs between a published layer's provenance and a build's now, most telling first."""
    out: list[str] = []
    if old.files:  # catalogs written before files were recorded cannot say
        for path in sorted(old.files.keys() | now.files.keys()):
            before, after = old.files.get(path), now.files.get(path)
            if before != after:
                what = "added" if before is None else "removed" if after is None else "changed"
                out.append(f"{path} {what}")
    for key in sorted(old.inputs.keys() | now.inputs.keys()):
        before, after = old.inputs.get(key), now.inputs.get(key)
        if before == after:
            continue
        if before is None or after is None:
            out.append(f"input {key} {'added' if before is None else 'removed'}")
        elif after.startswith("layer:") and before.startswith("layer:"):
            upstream, _, version = after.removeprefix("layer:").partition("@")
            if version.startswith("("):  # (new) in a plan, (unbuilt): no version yet
                out.append(f"upstream layer {upstream} is to be rebuilt")
            else:
                out.append(f"upstream layer {upstream} is now {version}")
        elif before.split(" ", 1)[0] == after.split(" ", 1)[0]:
            out.append(f"how input {key} is read changed")
        elif not old.files:
            out.append(f"input {key} changed")
    for key in sorted(old.params.keys() | now.params.keys()):
        before, after = old.params.get(key), now.params.get(key)
        if before != after:
            out.append(f"params.{key} changed ({before!r} -> {after!r})")
    if (old.builder, old.builder_version) != (now.builder, now.builder_version):
        out.append(
            f"builder {old.builder} {old.builder_version} -> {now.builder} {now.builder_version}"
        )
    if not out:
        out.append("working CRS, boundary, title or tile options changed")
    if len(out) > _MAX_CHANGES:
        out[_MAX_CHANGES - 1 :] = [f"and {len(out) - _MAX_CHANGES + 1} more changes"]
    return out
