"""benchmarks/learning.py's summary: hand-computed curves, iterations to the reference's final."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "learning.py"
_spec = importlib.util.spec_from_file_location("learning_benchmark", _PATH)
learning = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(learning)


def _run(method, seed, success, final):
    return {"method": method, "seed": seed, "wall_s": 10.0, "iterations": [0, 4, 8],
            "success": success, "warmstart": success[0], "final": final}


RESULTS = [
    _run("grpo", 0, [0.2, 0.3, 0.4], 0.4), _run("grpo", 1, [0.2, 0.3, 0.6], 0.6),  # final 0.5
    _run("gigpo", 0, [0.2, 0.5, 0.7], 0.7), _run("gigpo", 1, [0.2, 0.5, 0.5], 0.5),
    _run("rloo", 0, [0.2, 0.2, 0.2], 0.2),
]


def test_mean_curve_and_standard_error():
    x, mean, sem = learning.mean_curve([r for r in RESULTS if r["method"] == "gigpo"])
    assert x == [0, 4, 8]
    np.testing.assert_allclose(mean, [0.2, 0.5, 0.6])
    np.testing.assert_allclose(sem, [0.0, 0.0, np.std([0.7, 0.5], ddof=1) / np.sqrt(2)])


def test_iterations_to_reach_the_reference_final():
    gigpo = [r for r in RESULTS if r["method"] == "gigpo"]
    assert learning.iterations_to_reach(gigpo, 0.5) == 4       # mean 0.5 at iteration 4
    assert learning.iterations_to_reach(gigpo, 0.61) is None
    table = learning.table(RESULTS, ["grpo", "gigpo", "rloo"], "grpo")
    rows = {line.split(" | ")[0].strip("| "): line for line in table.splitlines()[2:]}
    assert "| 8 |" in rows["grpo"] and "| 4 |" in rows["gigpo"] and "| never |" in rows["rloo"]
    assert "60.0% ± 10.0%" in rows["gigpo"] and "+40.0%" in rows["gigpo"]


def test_a_reward_transform_is_a_method():
    assert learning.method_overrides("reward=spa") == ["reward=spa"]
    assert learning.method_overrides("cast") == ["algo=cast"]
