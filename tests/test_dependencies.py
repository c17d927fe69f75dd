"""Dependencies point one way: ``engine ← attribution → marketplace``.

The marketplace app (people, data, money) never imports the attribution app; the root URL
configuration, which wires both apps' URLs by dotted string, is the one exception allowed.
(The engine's own boundary is checked by tests/engine/test_import_isolation.py.)
"""

import ast
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
MARKETPLACE = REPO_ROOT / "marketplace"
ALLOWED = {MARKETPLACE / "urls.py"}


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """``(line, module)`` for every absolute import in ``path``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def test_marketplace_never_imports_attribution() -> None:
    sources = sorted(set(MARKETPLACE.rglob("*.py")) - ALLOWED)
    assert len(sources) > 10, f"no marketplace sources found under {MARKETPLACE}"

    offences = [
        f"{path.relative_to(REPO_ROOT)}:{line}: {module}"
        for path in sources
        for line, module in imported_modules(path)
        if module == "attribution" or module.startswith("attribution.")
    ]

    assert offences == [], "marketplace imports the attribution app:\n" + "\n".join(offences)


def test_the_check_sees_an_offending_import(tmp_path: Path) -> None:
    offending = tmp_path / "module.py"
    offending.write_text("def f():\n    from attribution.models import ValuationRound\n")

    assert imported_modules(offending) == [(2, "attribution.models")]
