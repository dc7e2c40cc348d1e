"""The house plan is enforced, not only written down: the layers contract in pyproject.toml
passes on the tree as it is and breaks on an import that runs up a layer."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ["config", "web", "demo", "analytics", "reports", "alerts", "outages", "common"]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=tree,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    for name in PACKAGES:
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_layers_hold_on_the_tree_as_it_is(tree: Path) -> None:
    result = lint(tree)
    assert result.returncode == 0, result.stdout
    assert "2 kept, 0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "upward"),
    [
        ("outages/selectors.py", "from analytics.models import MinuteCount"),
        ("reports/services.py", "from web import views"),
        ("analytics/rollup.py", "from demo import simulation"),
        ("common/cache.py", "from outages.models import Service"),
        ("web/views.py", "from demo.tasks import simulate_trickle"),
    ],
)
def test_an_import_up_a_layer_breaks_the_contract(tree: Path, module: str, upward: str) -> None:
    path = tree / module
    path.write_text(path.read_text() + f"\n{upward}  # noqa\n")
    result = lint(tree)
    assert result.returncode == 1, result.stdout
    assert "Layers: config, then web | demo" in result.stdout
    assert "BROKEN" in result.stdout


def test_pages_stay_off_the_numeric_stack(tree: Path) -> None:
    path = tree / "web/summaries.py"
    path.write_text(path.read_text() + "\nfrom analytics.services import detection_run  # noqa\n")
    result = lint(tree)
    assert result.returncode == 1, result.stdout
    assert "Web workers serve pages without the numeric stack BROKEN" in result.stdout
