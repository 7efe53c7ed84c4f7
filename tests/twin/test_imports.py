"""The walls of the house, read from the source: which module imports which.

Every ``import`` statement of ``twin/``, ``layers/``, ``tiles/`` and
``benchmarks/`` is read with :mod:`ast` and sorted by when it runs:

- at load: in the module body (class bodies, ``if``/``try`` blocks included),
  executed when the module is imported;
- for types: under ``if TYPE_CHECKING:``, never executed but still a
  dependency of the module's code;
- on call: inside a function, executed only when the function runs. This is
  how a facade reaches a package that builds on it (``Twin.explore`` imports
  :mod:`twin.notebook`), so it does not count towards cycles.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("twin", "layers", "tiles", "benchmarks")
OURS = (*SCANNED, "tests")

#: Imports of another package's private modules or names that predate this test, as
#: (importing module, top-level package of the private thing). The test fails when one
#: is gone, so that the list only shrinks; issue 19 emptied it.
PENDING_PRIVATE: set[tuple[str, str]] = set()


@dataclass(frozen=True)
class Import:
    module: str  # the importing module
    target: str  # dotted path of what is imported: a module, or a module and a name
    when: str  # "load", "types" or "call"
    where: str  # file:line


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules(packages: tuple[str, ...] = SCANNED) -> dict[str, Path]:
    return {_module_name(p): p for pkg in packages for p in sorted((ROOT / pkg).rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _statements(node: ast.AST, when: str) -> Iterator[tuple[ast.AST, str]]:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            yield from _statements(child, "call")
        elif isinstance(child, ast.If) and _is_type_checking(child):
            for stmt in child.body:
                yield stmt, "types" if when == "load" else when
                yield from _statements(stmt, "types" if when == "load" else when)
            for stmt in child.orelse:
                yield stmt, when
                yield from _statements(stmt, when)
        else:
            yield child, when
            yield from _statements(child, when)


def _imports(name: str, path: Path) -> Iterator[Import]:
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node, when in _statements(ast.parse(path.read_text(encoding="utf-8")), "load"):
        where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(name, alias.name, when, where)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - (node.level - 1)]
                base = ".".join([*parts, base] if base else parts)
            for alias in node.names:
                yield Import(name, f"{base}.{alias.name}", when, where)


@cache
def _all_imports() -> tuple[Import, ...]:
    return tuple(imp for name, path in _modules().items() for imp in _imports(name, path))


def _resolve(target: str, modules: dict[str, Path]) -> str | None:
    """The module a dotted import path lands in (``a.b.name`` -> ``a.b``), if it is ours."""
    while target:
        if target in modules:
            return target
        target = target.rpartition(".")[0]
    return None


def _top(dotted: str) -> str:
    return dotted.partition(".")[0]


def _inside(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_twin_has_no_import_cycle() -> None:
    modules = _modules(("twin",))
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for imp in _all_imports():
        if imp.module in graph and imp.when != "call":
            target = _resolve(imp.target, modules)
            if target is not None and target != imp.module:
                graph[imp.module].add(target)
    try:
        TopologicalSorter(graph).prepare()
    except CycleError as exc:
        pytest.fail(f"twin modules import each other: {' -> '.join(exc.args[1])}")


def test_the_notebook_package_is_on_top_of_twin() -> None:
    # twin.notebook builds on Twin; the rest of twin may reach it only inside a function.
    wrong = [
        f"{imp.where}: {imp.module} imports {imp.target} ({imp.when})"
        for imp in _all_imports()
        if _top(imp.module) == "twin"
        and not _inside(imp.module, "twin.notebook")
        and _inside(imp.target, "twin.notebook")
        and imp.when != "call"
    ]
    assert not wrong, "\n".join(wrong)


def test_layers_and_tiles_import_neither_twin_nor_each_other() -> None:
    forbidden = {"layers": ("twin", "tiles"), "tiles": ("twin", "layers")}
    wrong = [
        f"{imp.where}: {imp.module} imports {imp.target} ({imp.when})"
        for imp in _all_imports()
        if _top(imp.module) in forbidden and _top(imp.target) in forbidden[_top(imp.module)]
    ]
    assert not wrong, "\n".join(wrong)


#: modules that start or manage processes; ``twin._executors`` owns every pool
PROCESS_MODULES = ("multiprocessing", "concurrent.futures.process", "ctypes", "subprocess")
PROCESS_NAMES = ("concurrent.futures.ProcessPoolExecutor",)
#: ``os`` functions that start, replace or signal processes
OS_PROCESS_CALLS = {"fork", "forkpty", "posix_spawn", "posix_spawnp", "system", "popen", "kill"}
OS_PROCESS_PREFIXES = ("spawn", "exec")


def _starts_processes(target: str) -> bool:
    """Whether an import of ``target`` (a module, or a module and a name) manages processes."""
    if target.startswith("os."):
        return _os_process_call(target.removeprefix("os."))
    return any(_inside(target, m) for m in PROCESS_MODULES) or target in PROCESS_NAMES


def _os_process_call(name: str) -> bool:
    return name in OS_PROCESS_CALLS or name.startswith(OS_PROCESS_PREFIXES)


def test_layers_and_tiles_start_no_process() -> None:
    # They take a map or submit from their caller (DESIGN.md: processes start in twin).
    wrong = [
        f"{imp.where}: {imp.module} imports {imp.target}"
        for imp in _all_imports()
        if _top(imp.module) in ("layers", "tiles") and _starts_processes(imp.target)
    ]
    for name, path in _modules(("layers", "tiles")).items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "os"
                and _os_process_call(node.attr)
            ):
                wrong.append(f"{path.relative_to(ROOT)}:{node.lineno}: {name} uses os.{node.attr}")
    assert not wrong, "\n".join(wrong)


def test_the_process_rule() -> None:
    for target in (
        "ctypes",
        "multiprocessing",
        "multiprocessing.get_context",
        "concurrent.futures.ProcessPoolExecutor",
        "concurrent.futures.process",
        "subprocess.run",
        "os.fork",
        "os.execvp",
    ):
        assert _starts_processes(target), target
    # threads and futures are not processes (the coverage model's threads, the tile cache)
    for target in (
        "concurrent.futures.ThreadPoolExecutor",
        "concurrent.futures.Future",
        "os.getpid",
    ):
        assert not _starts_processes(target), target


def _private_owner(target: str) -> str | None:
    """The package a private module or name belongs to, or ``None`` if ``target`` is public.

    ``twin.notebook._explore.MAX_VERTICES`` belongs to ``twin.notebook``;
    ``twin.workspace._resolve`` to ``twin`` (a private name is its package's).
    """
    parts = target.split(".")
    for i, part in enumerate(parts):
        if part.startswith("_") and not part.startswith("__"):
            owner = parts[:i]
            if not (ROOT.joinpath(*owner) / "__init__.py").is_file():
                owner = owner[:-1]  # a name in a module: the module's package owns it
            return ".".join(owner)
    return None


def test_no_module_imports_another_packages_private_names() -> None:
    wrong: list[str] = []
    seen: set[tuple[str, str]] = set()
    for imp in _all_imports():
        if _top(imp.target) not in OURS:
            continue
        owner = _private_owner(imp.target)
        if owner is None or _inside(imp.module, owner):
            continue
        key = (imp.module, _top(owner))
        seen.add(key)
        if key not in PENDING_PRIVATE:
            wrong.append(f"{imp.where}: {imp.module} imports {imp.target}, private to {owner}")
    fixed = PENDING_PRIVATE - seen
    assert not fixed, f"fixed, remove from PENDING_PRIVATE: {sorted(fixed)}"
    assert not wrong, "\n".join(wrong)


def test_the_private_owner_rule() -> None:
    assert _private_owner("twin.notebook._explore.MAX_VERTICES") == "twin.notebook"
    assert _private_owner("twin.workspace._resolve") == "twin"
    assert _private_owner("twin._version.__version__") == "twin"
    assert _private_owner("twin.handles.cmap_name") is None
    assert _private_owner("tests.reliability._mix") == "tests.reliability"


def test_every_module_imports_alone() -> None:
    # One fresh interpreter; our modules are forgotten before each import, so each
    # loads as if it came first (third-party modules stay loaded: they cannot cycle
    # through ours).
    names = sorted(n for n in _modules(("twin", "layers", "tiles")) if n != "twin.__main__")
    script = (
        "import importlib, sys, traceback\n"
        f"names = {names!r}\n"
        "failed = []\n"
        "for name in names:\n"
        "    for loaded in [m for m in sys.modules if m.split('.')[0] in "
        "('twin', 'layers', 'tiles')]:\n"
        "        del sys.modules[loaded]\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except Exception:\n"
        "        failed.append(name + ': ' + traceback.format_exc(limit=-3))\n"
        "print('\\n'.join(failed))\n"
        "sys.exit(1 if failed else 0)\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert run.returncode == 0, run.stdout + run.stderr
