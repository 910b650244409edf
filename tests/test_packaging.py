"""The distribution: the wheel installs every sub-package under `agentgym` (envs/, credit/,
trainers/, configs/ mapped as agentgym.envs ...), nothing at top level, and imports cleanly in a
fresh virtual environment."""

from __future__ import annotations

import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAPPED = {"envs": "agentgym.envs", "credit": "agentgym.credit", "trainers": "agentgym.trainers",
          "configs": "agentgym.configs"}


def expected_packages() -> set[str]:
    """Every folder with an __init__.py below each package root, as a dotted package name."""
    names = set()
    for folder, package in {"agentgym": "agentgym", **MAPPED}.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder)
            names.add(".".join([package, *rel.parts]))
    return names


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(out), str(ROOT)],
        check=True, timeout=300,
    )
    (path,) = out.glob("agentgym-*.whl")
    return path


def test_wheel_has_only_the_agentgym_namespace(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names}
    assert tops == {"agentgym", next(t for t in tops if t.endswith(".dist-info"))}
    for package in expected_packages():
        assert f"{package.replace('.', '/')}/__init__.py" in names, f"{package} missing in wheel"
    assert any(name.startswith("agentgym/configs/") for name in names)


def host_site_packages() -> list[str]:
    """The site-packages folders of the *running* interpreter (a venv's own, and the base
    interpreter's when the venv sees it), in import order."""
    return [p for p in sys.path
            if Path(p).name in ("site-packages", "dist-packages") and Path(p).is_dir()]


@pytest.fixture(scope="module")
def wheel_venv(wheel, tmp_path_factory) -> Path:
    """A fresh venv with the wheel installed; returns the venv folder.

    The dependencies come from the running interpreter's site-packages (no network), listed in a
    ``.pth`` file: ``system_site_packages=True`` would not do, since inside a venv it exposes the
    *base* interpreter's packages, not the venv's. Paths from a ``.pth`` file are appended after
    the venv's own site-packages, and the ``.pth`` files inside them are not run, so the wheel
    takes precedence and the source tree's editable install stays invisible.
    """
    env_dir = tmp_path_factory.mktemp("wheel") / "venv"
    venv.EnvBuilder(system_site_packages=False, with_pip=False).create(env_dir)
    (site_dir,) = (env_dir / "lib").glob("python3*/site-packages")
    (site_dir / "agentgym_test_host_packages.pth").write_text("\n".join(host_site_packages()))
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(env_dir / "bin" / "python"), "install",
         "--no-deps", "-q", str(wheel)], check=True, timeout=300,
    )
    return env_dir


def test_wheel_imports_every_subpackage_in_fresh_venv(wheel_venv, tmp_path):
    env_dir = wheel_venv
    python = env_dir / "bin" / "python"
    packages = sorted(expected_packages())
    script = (
        "import importlib, sys, agentgym\n"
        f"assert agentgym.__file__.startswith({str(env_dir)!r}), agentgym.__file__\n"
        f"for name in {packages!r}:\n"
        "    module = importlib.import_module(name)\n"
        f"    assert module.__file__.startswith({str(env_dir)!r}), module.__file__\n"
        "for top in ('envs', 'credit', 'trainers', 'configs'):\n"
        "    assert importlib.util.find_spec(top) is None, f'top-level {top} installed'\n"
        "print(len(agentgym.registry))\n"
    )
    result = subprocess.run([str(python), "-c", script], capture_output=True, text=True,
                            cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) >= 4


def test_import_contracts_hold_on_installed_wheel(wheel_venv, tmp_path):
    """import-linter contracts (pyproject.toml) checked on the installed tree, where
    agentgym.envs, agentgym.credit ... are real folders under agentgym/ (import-linter walks
    folders, so it cannot see the package-dir mapping of an editable install)."""
    script = (
        "import sys; from importlinter.cli import lint_imports; "
        f"sys.exit(lint_imports(config_filename={str(ROOT / 'pyproject.toml')!r}, no_cache=True))"
    )
    result = subprocess.run([str(wheel_venv / "bin" / "python"), "-c", script], cwd=tmp_path,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: " in result.stdout and " 0 broken" in result.stdout, result.stdout
