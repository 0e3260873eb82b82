"""The package's shape: no import cycles between modules (lazy imports included), no private name imported from
another module, and every file the pipeline reads comes from Settings."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from advisor.config import REPO_ROOT, Settings

PACKAGE = REPO_ROOT / "advisor"


def _imports() -> dict[str, set[tuple[str, str]]]:
    """module -> {(imported module, name)} for every `from advisor.X import name`, wherever it stands."""
    found: dict[str, set[tuple[str, str]]] = {}
    for path in sorted(PACKAGE.glob("*.py")):
        edges = found.setdefault(path.stem, set())
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("advisor."):
                target = node.module.split(".")[1]
                edges.update((target, alias.name) for alias in node.names if target != path.stem)
    return found


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt):], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = 2
        path.pop()
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return None


def test_no_import_cycles_between_modules() -> None:
    graph = {module: {target for target, _ in edges} for module, edges in _imports().items()}
    assert _cycle(graph) is None, f"import cycle: {' -> '.join(_cycle(graph) or [])}"


def test_the_cycle_check_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_no_private_name_is_imported_from_another_module() -> None:
    private = sorted(f"{module} imports {target}.{name}" for module, edges in _imports().items()
                     for target, name in edges if name.startswith("_"))
    assert private == []


def test_the_pipeline_reads_its_files_from_settings(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, scoring_policy=tmp_path / "policy.yaml",
                        cost_assumptions=tmp_path / "costs.yaml", catalog_file=tmp_path / "models.yaml",
                        prompts_dir=tmp_path / "prompts")
    assert settings.policy_path == tmp_path / "policy.yaml" and settings.costs_path == tmp_path / "costs.yaml"
    assert settings.catalog_path == tmp_path / "models.yaml" and settings.prompts_dir == tmp_path / "prompts"
    shipped = Settings(data_dir=tmp_path)
    assert shipped.policy_path == shipped.knowledge_dir / "scoring.yaml"
    assert shipped.costs_path == shipped.knowledge_dir / "costs.yaml"
    assert shipped.catalog_path == shipped.knowledge_dir / "models.yaml"
    # Nothing under advisor/ names a knowledge or prompt file by itself, except the documented defaults.
    offenders = []
    for path in PACKAGE.glob("*.py"):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            names_a_file = any(f'/ "{name}"' in line for name in ("scoring.yaml", "costs.yaml", "models.yaml"))
            if names_a_file and path.name != "config.py" and not line.startswith("DEFAULT_"):
                offenders.append(f"{path.name}:{number}: {line.strip()}")
    assert offenders == []


@pytest.mark.parametrize("name", ["answering"])
def test_split_modules_are_gone(name: str) -> None:
    assert not (PACKAGE / f"{name}.py").exists()
