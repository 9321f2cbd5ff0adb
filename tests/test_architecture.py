"""The import graph's rules: apps.cx is the door (no domain app), the stand-in stays out of the product, no cycles.

Read from the source with ``ast`` (nothing is imported), every import counted wherever it is: at the top, inside
a function, under ``if TYPE_CHECKING``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("apps", "cxconsole", "standin")
# Only the console's top may start the stand-in (runconsole) or talk to it (the demo).
MAY_IMPORT_STANDIN = "apps.console"


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    line: int

    def __str__(self) -> str:
        return f"{self.importer} → {self.imported} (line {self.line})"


def _module_files() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            relative = path.relative_to(ROOT)
            if "migrations" in relative.parts:
                continue
            parts = relative.with_suffix("").parts
            modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


MODULES = _module_files()


def _imported_names(module: str, path: Path) -> Iterator[tuple[str, int]]:
    """Every dotted name an import statement of ``module`` may load, made absolute."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                anchor = parts[: len(parts) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            yield base, node.lineno
            for alias in node.names:
                yield f"{base}.{alias.name}", node.lineno  # ``from package import module``


def _imports() -> list[Import]:
    found = set()
    for module, path in MODULES.items():
        for name, line in _imported_names(module, path):
            # ``import a.b.c`` loads a, a.b and a.b.c; the innermost module of ours stands for the import.
            while name and name not in MODULES:
                name = name.rpartition(".")[0]
            if name and name != module:
                found.add(Import(module, name, line))
    return sorted(found, key=lambda i: (i.importer, i.imported, i.line))


IMPORTS = _imports()


def _in(module: str, package: str) -> bool:
    return module == package or module.startswith(f"{package}.")


def _app(module: str) -> str:
    return ".".join(module.split(".")[:2])


def _cycles(modules: set[str]) -> list[set[str]]:
    """The strongly connected components of more than one module among ``modules`` (Tarjan)."""
    edges: dict[str, set[str]] = {m: set() for m in modules}
    for i in IMPORTS:
        if i.importer in modules and i.imported in modules:
            edges[i.importer].add(i.imported)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                components.append(component)

    for module in sorted(modules):
        if module not in index:
            visit(module)
    return components


def _one_loop(component: set[str]) -> list[str]:
    """A shortest way round from the component's first module back to it, for the failure message."""
    start = min(component)
    came_from: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for v in frontier:
            for i in IMPORTS:
                if i.importer == v and i.imported in component and i.imported not in came_from:
                    came_from[i.imported] = v
                    following.append(i.imported)
        if start in came_from:
            break
        frontier = following
    loop = [start]
    while len(loop) == 1 or loop[-1] != start:
        loop.append(came_from[loop[-1]])
    return loop[::-1]


def _cycle_report(components: list[set[str]]) -> str:
    lines = []
    for component in components:
        lines.append("a cycle: " + " → ".join(_one_loop(component)))
        lines.append("  the imports among its modules (" + ", ".join(sorted(component)) + "):")
        lines += [f"    {i}" for i in IMPORTS if i.importer in component and i.imported in component]
    return "\n".join(lines)


def test_the_graph_was_read():
    assert "apps.cx.client" in MODULES and "standin.server" in MODULES
    pairs = {(i.importer, i.imported) for i in IMPORTS}
    assert ("apps.console.demo", "apps.webhooks.services") in pairs  # absolute
    assert ("apps.hooks.admin", "apps.hooks.services") in pairs  # relative
    assert ("apps.console.management.commands.runconsole", "apps.inboxes.tasks") in pairs  # inside a function


def test_the_door_imports_no_other_app():
    upward = [
        i for i in IMPORTS if _in(i.importer, "apps.cx") and _in(i.imported, "apps") and not _in(i.imported, "apps.cx")
    ]
    assert not upward, "apps.cx speaks to the CX API and imports no other app:\n" + "\n".join(map(str, upward))


def test_only_the_console_imports_the_stand_in():
    product = [
        i
        for i in IMPORTS
        if _in(i.imported, "standin")
        and (_in(i.importer, "apps") or _in(i.importer, "cxconsole"))
        and not _in(i.importer, MAY_IMPORT_STANDIN)
    ]
    assert not product, "the stand-in is a test double; product code does not import it:\n" + "\n".join(
        map(str, product)
    )


def test_no_import_cycle_among_the_apps_modules():
    cycles = [c for c in _cycles({m for m in MODULES if _in(m, "apps")})]
    assert not cycles, _cycle_report(cycles)


def test_no_import_cycle_in_the_stand_in():
    cycles = _cycles({m for m in MODULES if _in(m, "standin")})
    assert not cycles, _cycle_report(cycles)


def test_no_app_imports_the_console():
    into_console = [
        i for i in IMPORTS if _in(i.imported, "apps.console") and _app(i.importer) not in ("apps.console", "apps")
    ]
    assert not into_console, "apps.console is the top; nothing imports it:\n" + "\n".join(map(str, into_console))


def test_only_the_urls_import_the_dashboard():
    """apps.dashboard reads every other app; only the URL configuration may import it (none of them may)."""
    into_dashboard = [
        i
        for i in IMPORTS
        if _in(i.imported, "apps.dashboard")
        and _app(i.importer) not in ("apps.dashboard", "apps")
        and i.importer != "cxconsole.urls"
    ]
    assert not into_dashboard, "apps.dashboard is at the top; only the URLs import it:\n" + "\n".join(
        map(str, into_dashboard)
    )
