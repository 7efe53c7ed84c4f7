"""Each package's ``__all__`` is its surface: what other packages and users import from it.

The imports of ``twin/``, ``layers/``, ``tiles/``, ``benchmarks/``, ``tests/``, the
notebooks' code cells and the README's Python blocks are read with :mod:`ast`. For
every package (a folder with an ``__init__.py``) of ``twin``, ``layers`` and ``tiles``:

- every name in ``__all__`` exists (as an attribute, or as a submodule that imports);
- whatever a module outside the package imports from its top level is in ``__all__``,
  and so is each public submodule or subpackage that outside modules import from;
- nothing else is: a name in ``__all__`` is imported by someone outside the package,
  from the top or from the module that defines it.

Private names (``_x``) are not part of a surface; tests may still import them.
"""

from __future__ import annotations

import ast
import importlib
import json
import re
from collections.abc import Iterator
from functools import cache

import pytest

from tests.twin.test_imports import ROOT, _statements

PACKAGES = sorted(
    ".".join(p.parent.relative_to(ROOT).parts)
    for top in ("twin", "layers", "tiles")
    for p in (ROOT / top).rglob("__init__.py")
)
#: conventional dunder names a package may list without anyone importing them
CONVENTIONAL = {"__version__"}
#: names listed for users outside this repository, though nothing here imports them
FOR_USERS_ELSEWHERE = {
    # a third-party builder (entry point group ``twin.builders``) forbids extra params
    "twin.builders": {"NoParams"},
    # what ``Twin.layer`` returns for a raster; ``decorate_map``'s other half
    "twin.notebook": {"Raster", "add_north_arrow"},
}


def _sources() -> Iterator[tuple[str, str]]:
    """(importing module, its source) for every Python source that may use the packages."""
    for top in ("twin", "layers", "tiles", "benchmarks", "tests"):
        for path in sorted((ROOT / top).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            yield ".".join(parts), path.read_text(encoding="utf-8")
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        code = [
            "".join(c["source"]) for c in cells if c["cell_type"] == "code"
        ]  # IPython magics (%, !) are not Python
        text = "\n".join(
            line for cell in code for line in cell.splitlines() if line.lstrip()[:1] not in "%!"
        )
        yield f"notebooks.{path.stem}", text
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for i, block in enumerate(re.findall(r"```python\n(.*?)```", readme, re.S)):
        yield f"README.block{i}", block


def _inside(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


@cache
def _imports() -> tuple[tuple[str, str, str | None], ...]:
    """(importer, module imported from, name or None) of every absolute import of ours."""
    found = []
    for importer, source in _sources():
        for node, _ in _statements(ast.parse(source), "load"):
            if isinstance(node, ast.Import):
                found += [(importer, a.name, None) for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found += [(importer, node.module, a.name) for a in node.names]
    return tuple(f for f in found if f[1].partition(".")[0] in ("twin", "layers", "tiles"))


def _is_module(dotted: str) -> bool:
    path = ROOT.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _used(package: str) -> dict[str, set[str]]:
    """Names of ``package``'s surface that outside modules use, and who uses each.

    A name imported from the top (``from tiles import atomic_write``), and the public
    child module or package that a deeper import goes through (``from tiles.export
    import export_vector`` uses ``export``; ``import layers.coverage.zones`` uses
    ``coverage`` of ``layers`` and ``zones`` of ``layers.coverage``).
    """
    used: dict[str, set[str]] = {}
    for importer, module, name in _imports():
        if _inside(importer, package):
            continue
        dotted = f"{module}.{name}" if name and _is_module(f"{module}.{name}") else module
        if module == package and name is not None and not name.startswith("_"):
            used.setdefault(name, set()).add(importer)
        if _inside(dotted, package) and dotted != package:
            child = dotted[len(package) + 1 :].split(".")[0]
            if not child.startswith("_"):
                used.setdefault(child, set()).add(importer)
    return used


def _names_imported_anywhere_outside(package: str) -> set[str]:
    """Names outside modules import from ``package`` or any module in it."""
    return {
        name
        for importer, module, name in _imports()
        if name is not None and _inside(module, package) and not _inside(importer, package)
    }


@pytest.mark.parametrize("package", PACKAGES)
def test_every_name_in_all_exists_and_the_list_is_sorted(package: str) -> None:
    mod = importlib.import_module(package)
    names = list(mod.__all__)
    assert names == sorted(set(names)), f"{package}.__all__: keep it sorted, no repeats"
    missing = []
    for name in names:
        try:
            getattr(mod, name)
        except AttributeError:
            try:  # `from package import name` imports a submodule of that name too
                importlib.import_module(f"{package}.{name}")
            except ModuleNotFoundError:
                missing.append(name)
    assert not missing, f"{package}.__all__ names what it does not have: {missing}"


@pytest.mark.parametrize("package", PACKAGES)
def test_what_others_import_is_in_all(package: str) -> None:
    listed = set(importlib.import_module(package).__all__)
    absent = {name: sorted(who)[:3] for name, who in _used(package).items() if name not in listed}
    assert not absent, f"used outside {package} but not in its __all__: {absent}"


@pytest.mark.parametrize("package", PACKAGES)
def test_all_lists_nothing_nobody_uses(package: str) -> None:
    used = set(_used(package)) | _names_imported_anywhere_outside(package) | CONVENTIONAL
    used |= FOR_USERS_ELSEWHERE.get(package, set())
    unused = sorted(set(importlib.import_module(package).__all__) - used)
    assert not unused, f"{package}.__all__ lists what no one outside imports: {unused}"


def test_the_scan_sees_users_and_submodules() -> None:
    # the notebooks and README count as users; deep imports count for each package on the way
    assert "notebooks.01_quickstart" in _used("twin")["Twin"]
    assert any(w.startswith("README") for w in _used("layers.roads")["to_networkx"])
    assert "twin.builders.roads" in _used("layers")["roads"]
    assert "export" in _used("tiles")
    assert "_tags" not in _used("layers.roads")  # tests may import private modules
