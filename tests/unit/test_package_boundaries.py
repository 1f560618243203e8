"""The product never imports the simulator: chiso_simulator is a demo source and test double beside it."""

from __future__ import annotations

import ast

from chiso.settings import REPO_ROOT

PRODUCT = [REPO_ROOT / "src" / "chiso", REPO_ROOT / "dags"]


def imported_modules(path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_product_does_not_import_the_simulator():
    offenders = {
        str(f.relative_to(REPO_ROOT)): sorted(m for m in imported_modules(f) if m.split(".")[0] == "chiso_simulator")
        for root in PRODUCT for f in root.rglob("*.py")
    }
    assert {f: m for f, m in offenders.items() if m} == {}


def test_simulator_is_its_own_package():
    assert (REPO_ROOT / "src" / "chiso_simulator" / "__main__.py").exists()
    assert not (REPO_ROOT / "src" / "chiso" / "simulator").exists()
