"""The dependency rule of the design: layers import only what they are allowed to."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "castgraph"

# layer -> castgraph subpackages it must never import
FORBIDDEN = {
    "core": {"ingest", "retrieval", "api", "catalog", "demo", "modelfiles", "evaluation"},
    "ingest": {"retrieval", "api", "catalog"},
    "retrieval": {"ingest", "api"},
    "catalog": {"ingest", "retrieval", "api"},
    "evaluation": {"ingest", "retrieval", "api", "catalog"},
    "modelfiles": {"ingest", "retrieval", "api", "catalog"},
}


def _imported_subpackages(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        for name in names:
            parts = name.split(".")
            if parts[0] == "castgraph" and len(parts) > 1:
                found.add(parts[1])
    return found


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_imports_respect_the_design(layer: str) -> None:
    files = sorted((PACKAGE / layer).rglob("*.py"))
    assert files, f"castgraph/{layer} has no modules"
    violations = {
        str(f.relative_to(PACKAGE)): sorted(_imported_subpackages(f) & FORBIDDEN[layer])
        for f in files
    }
    assert {k: v for k, v in violations.items() if v} == {}


def test_the_checker_sees_imports(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("import castgraph.retrieval.x\nfrom castgraph.ingest import y\n")
    assert _imported_subpackages(module) == {"retrieval", "ingest"}
