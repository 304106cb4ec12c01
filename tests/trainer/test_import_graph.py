"""The services' modules import each other without cycles (lazy imports inside functions count)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = {
    "weather_trainer": ROOT / "services" / "trainer" / "src" / "weather_trainer",
    "weather_preprocess": ROOT / "services" / "preprocess" / "src" / "weather_preprocess",
}


def _modules(package: str, folder: Path) -> dict[str, Path]:
    found = {}
    for path in sorted(folder.rglob("*.py")):
        parts = [package, *path.relative_to(folder).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The package's modules that module name imports anywhere in its body."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the package, up level - 1
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # "from pkg import sub" imports the submodule pkg.sub, not pkg's other modules
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                for alias in node.names
            ]
        out.update(t for t in targets if t in known and t != name)
    return out


def _cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle of graph (a list of modules, the first repeated last), or []."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return []

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return []


def _graph(package: str, folder: Path) -> dict[str, set[str]]:
    modules = _modules(package, folder)
    known = set(modules)
    # a submodule importing from its own package is how packages load, not a cycle
    return {
        name: {t for t in _imports(name, path, known) if not name.startswith(t + ".")}
        for name, path in modules.items()
    }


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_no_import_cycles(package: str) -> None:
    cycle = _cycle(_graph(package, PACKAGES[package]))
    assert not cycle, "import cycle: " + " -> ".join(cycle)


def test_search_and_training_plan_through_planning() -> None:
    graph = _graph("weather_trainer", PACKAGES["weather_trainer"])
    assert "weather_trainer.training" not in graph["weather_trainer.search"]
    assert "weather_trainer.planning" in graph["weather_trainer.search"]
    assert "weather_trainer.planning" in graph["weather_trainer.training"]


def test_a_lazy_import_back_is_a_cycle(tmp_path: Path) -> None:
    """The check can fail: the old shape (training imports search, search imports training
    inside a function) is found, while a package importing its submodules is not a cycle."""
    folder = tmp_path / "shape"
    (folder / "models").mkdir(parents=True)
    (folder / "__init__.py").write_text("")
    (folder / "models" / "__init__.py").write_text("from shape.models import cnn\n")
    (folder / "models" / "cnn.py").write_text("from shape.models import ridge\n")
    (folder / "models" / "ridge.py").write_text("")
    (folder / "training.py").write_text("from shape import models, search\n")
    (folder / "search.py").write_text(
        "def run_trial():\n    from shape.training import check\n    return check\n"
    )
    assert _cycle(_graph("shape", folder)) == ["shape.search", "shape.training", "shape.search"]
    (folder / "search.py").write_text("")
    assert _cycle(_graph("shape", folder)) == []
