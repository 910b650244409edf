"""Architecture rules: the code is ruff clean and never reads the shared/ reference folder.

The import-direction contracts run in tests/test_packaging.py, on the installed wheel."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _tool(name: str) -> list[str]:
    exe = shutil.which(name) or str(Path(sys.executable).parent / name)
    return [exe]


def test_ruff_clean():
    result = subprocess.run([*_tool("ruff"), "check", "."], cwd=ROOT, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_reference_to_shared_folder():
    offenders = []
    for folder in ("agentgym", "envs", "credit", "trainers", "configs", "tests", "benchmarks"):
        for path in (ROOT / folder).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            if "../shared" in text or "/work/shared" in text:
                offenders.append(str(path.relative_to(ROOT)))
    offenders = [path for path in offenders if path != "tests/test_architecture.py"]
    assert not offenders, f"these files read the shared/ reference folder: {offenders}"


def test_test_module_names_are_unique():
    """pytest's default import mode needs unique basenames for test modules in folders
    without __init__.py; a duplicate breaks collection of the whole suite."""
    seen: dict[str, str] = {}
    duplicates = []
    for path in sorted((ROOT / "tests").rglob("test_*.py")):
        rel = str(path.relative_to(ROOT))
        if path.name in seen:
            duplicates.append(f"{seen[path.name]} and {rel}")
        seen.setdefault(path.name, rel)
    assert not duplicates, f"rename one of each pair: {duplicates}"
