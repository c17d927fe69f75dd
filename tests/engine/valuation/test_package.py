"""The valuation package is as light to import as the engine itself."""

import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]


def test_importing_valuation_loads_no_heavy_ml_package() -> None:
    code = (
        "import sys\n"
        "import attribution.engine.valuation\n"
        "heavy = {'django', 'torch', 'catboost', 'shap', 'diffusers'}\n"
        "print(','.join(sorted({m.split('.')[0] for m in sys.modules} & heavy)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""
