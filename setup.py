"""Package discovery for the one-distribution layout described in DESIGN.md.

The top-level folders ``envs/``, ``credit/``, ``trainers/`` and ``configs/`` are installed as
sub-packages of ``agentgym`` (``agentgym.envs`` ...). Every importable folder below each root is
found automatically, so a new environment family cannot be forgotten in a hand-written list.
"""

from setuptools import find_packages, setup

PACKAGE_ROOTS = {
    "agentgym": "agentgym",
    "agentgym.envs": "envs",
    "agentgym.credit": "credit",
    "agentgym.trainers": "trainers",
    "agentgym.configs": "configs",
}


def _packages() -> list[str]:
    names: list[str] = []
    for package, folder in PACKAGE_ROOTS.items():
        names.append(package)
        names.extend(f"{package}.{sub}" for sub in find_packages(folder))
    return sorted(set(names))


setup(packages=_packages(), package_dir=PACKAGE_ROOTS)
