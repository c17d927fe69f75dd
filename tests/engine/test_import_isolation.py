"""The engine is a pure library: importing it loads no web framework and no heavy ML stack."""

import ast
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
ENGINE_DIR = REPO_ROOT / "attribution" / "engine"

# Heavy or web-side packages that `import attribution.engine` must not pull in.
FORBIDDEN_ON_IMPORT = ("django", "torch", "catboost", "shap", "diffusers")

# Top-level packages the engine must never import, not even lazily inside a function.
FORBIDDEN_ANYWHERE = ("django", "marketplace", "rest_framework", "celery")


def test_importing_the_engine_loads_neither_django_nor_heavy_ml_packages() -> None:
    code = (
        "import sys\n"
        "import attribution.engine\n"
        f"forbidden = {FORBIDDEN_ON_IMPORT!r}\n"
        "loaded = sorted({m.split('.')[0] for m in sys.modules} & set(forbidden))\n"
        "print(','.join(loaded))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"import attribution.engine loaded: {result.stdout.strip()}"


def escapes_engine(node: ast.ImportFrom, path: Path) -> bool:
    """Whether a relative import climbs out of attribution/engine (e.g. ``from ..models``)."""
    depth_inside_engine = len(path.relative_to(ENGINE_DIR).parts) - 1
    return node.level > depth_inside_engine + 1


def find_forbidden_imports(path: Path) -> list[str]:
    """Return ``file:line: module`` for every import in ``path`` that leaves the engine."""
    tree = ast.parse(path.read_text(), filename=str(path))
    offences = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules = [node.module]
            if node.module == "attribution":  # from attribution import models
                modules = [f"attribution.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and escapes_engine(node, path):
            modules = ["." * node.level + (node.module or "")]
        else:
            continue
        for module in modules:
            top = module.split(".")[0]
            outside_engine = module.startswith("attribution") and not (
                module == "attribution.engine" or module.startswith("attribution.engine.")
            )
            if top in FORBIDDEN_ANYWHERE or outside_engine or module.startswith("."):
                relative = path.relative_to(REPO_ROOT)
                offences.append(f"{relative}:{node.lineno}: {module}")
    return offences


def test_engine_sources_import_nothing_from_django_or_the_web_side() -> None:
    sources = sorted(ENGINE_DIR.rglob("*.py"))
    assert sources, f"no engine sources found under {ENGINE_DIR}"

    offences = [offence for path in sources for offence in find_forbidden_imports(path)]

    assert offences == [], "engine imports outside its boundary:\n" + "\n".join(offences)
