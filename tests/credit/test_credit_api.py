"""Registry, composition, validation, SPA training, graph export, LCS and the doc examples."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from batches import episodes_from_lists, from_rows, random_batch

from agentgym import credit
from agentgym.core.trajectory import StepBatch
from agentgym.credit import registry

DOCS = Path(__file__).resolve().parents[2] / "docs" / "credit.md"


def test_registries_list_every_method():
    assert set(credit.available()) >= {"grpo", "drgrpo", "rloo", "mc_grpo", "gdpo", "gigpo",
                                       "salt", "igpo", "oprl", "arena"}
    assert set(credit.available_transforms()) >= {"gated", "spa", "progrm", "igpo"}
    assert credit.get("gigpo") is credit.gigpo
    assert credit.get_transform("gated") is credit.gated


def test_unknown_names_list_the_known_ones():
    with pytest.raises(credit.UnknownMethodError, match=r"available: .*gigpo"):
        credit.get("gipgo")
    with pytest.raises(KeyError, match="gated"):
        credit.get_transform("gate")
    with pytest.raises(ValueError, match="already registered"):
        credit.register("grpo")(lambda batch: batch.reward)


def test_register_custom_method_and_kind():
    @credit.register_transform("_test_double")
    def double(batch):
        return 2 * batch.reward

    try:
        batch = from_rows([0, 0], [0, 1], [0, 0], [1.0, 0.0], ["a", "b"])
        out = credit.apply_transform(batch, "_test_double")
        np.testing.assert_allclose(out.reward, [2.0, 0.0])
        np.testing.assert_allclose(batch.reward, [1.0, 0.0])  # the input is unchanged
        with pytest.raises(ValueError, match="unknown registry kind"):
            credit.register("x", kind="nope")
    finally:
        del registry._REGISTRIES["transform"]["_test_double"]


def test_transform_composes_with_estimator():
    batch = from_rows([0] * 4, [0, 0, 1, 1], [0, 1, 0, 1], [0.0] * 4, ["s0", "s1", "s0", "s1"],
                      outcome={0: 1.0, 1: 0.0}, parts={"tool": [0.5, 0.5, 0.5, 0.5]})
    gated = credit.apply_transform(batch, "gated", threshold=1.0, update_outcome=True)
    np.testing.assert_allclose(gated.reward, [0.5, 1.5, 0.0, 0.0])
    np.testing.assert_allclose(gated.outcome, [2.0, 2.0, 0.0, 0.0])
    adv = credit.compute_advantages(batch, "gigpo", reward="gated",
                                    algo_kwargs={"gamma": 1.0},
                                    reward_kwargs={"threshold": 1.0})
    np.testing.assert_allclose(adv, credit.gigpo(gated, gamma=1.0))
    assert adv[0] > 0 > adv[2]


def bad(batch: StepBatch, **changes) -> StepBatch:
    """Bypass StepBatch's own checks to hand a method a broken batch."""
    broken = dataclasses.replace(batch)
    for key, value in changes.items():
        object.__setattr__(broken, key, value)
    return broken


@pytest.mark.parametrize("name", ["grpo", "gigpo", "salt", "rloo", "mc_grpo", "gdpo"])
def test_validation_errors(name):
    method = credit.get(name)
    batch = random_batch(seed=3, n_rows=200, n_groups=4)
    reward = batch.reward.copy()
    reward[5] = np.nan
    with pytest.raises(ValueError, match="not finite at row 5"):
        method(bad(batch, reward=reward))
    with pytest.raises(ValueError, match="shape"):
        method(bad(batch, t=batch.t[:-1]))
    empty = from_rows([0], [0], [0], [0.0], ["a"])
    empty = bad(empty, **{k: getattr(empty, k)[:0] for k in
                          ("group", "episode", "t", "reward", "done", "state", "action", "valid",
                           "outcome", "terminated", "truncated", "state_key")},
                reward_parts={})
    with pytest.raises(ValueError, match="empty"):
        method(empty)


def test_structural_validation():
    batch = from_rows([0, 1], [0, 0], [0, 1], [0.0, 1.0], ["a", "b"])
    with pytest.raises(ValueError, match="more than one group"):
        credit.grpo(batch)
    batch = from_rows([0, 0], [0, 0], [0, 0], [0.0, 1.0], ["a", "b"])
    with pytest.raises(ValueError, match="t=0 more than once"):
        credit.gigpo(batch)
    with pytest.raises(TypeError, match="StepBatch"):
        credit.grpo({"reward": [1.0]})
    batch = from_rows([0, 0], [0, 1], [0, 0], [0.0, 1.0], ["a", "b"])
    with pytest.raises(ValueError, match="one of"):
        credit.gigpo(batch, norm="median")
    with pytest.raises(ValueError, match="exactly one"):
        credit.oprl(batch)
    with pytest.raises(ValueError, match=r"expected \(2,\)"):
        credit.oprl(batch, step_rewards=[1.0])
    with pytest.raises(ValueError, match="NaN"):
        credit.group_normalize(np.array([1.0, np.nan]), np.array([0, 0]))
    with pytest.raises(ValueError, match="state_key"):
        credit.gigpo(bad(batch, state_key=None), similarity=0.9)
    with pytest.raises(ValueError, match="gate part"):
        credit.gated(batch, gates=[("missing", 1.0)])
    with pytest.raises(ValueError, match="no reward_parts"):
        credit.gdpo(batch)


def test_group_normalize_conventions():
    x = np.array([1.0, 0.0, 0.0, 1.0, 5.0])
    g = np.array([3, 3, 3, 3, 9])
    out = credit.group_normalize(x, g, std="population", eps=0.0)
    np.testing.assert_allclose(out, [1, -1, -1, 1, 5])
    out = credit.group_normalize(x, g, singleton="zero", norm="mean")
    np.testing.assert_allclose(out, [0.5, -0.5, -0.5, 0.5, 0])


def test_import_does_not_load_torch():
    code = "import sys, agentgym.credit; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_spa_estimator_learns_contributions():
    # The key step "take key" earns the outcome; the estimator learns to credit it.
    good = [("room", "take key", 0.0), ("room key", "open door", 0.0), ("open", "walk", 1.0)]
    bad_ = [("room", "look", 0.0), ("room", "walk", 0.0), ("room", "open door", 0.0)]
    episodes = episodes_from_lists([good, bad_, good, bad_], [1.0, 0.0, 1.0, 0.0])
    batch = StepBatch.from_episodes(episodes)
    estimator = credit.ProgressEstimator(n_features=64, epochs=300, lr=0.05, seed=0)
    estimator.fit_batch(batch)
    assert estimator.history[-1] < 0.01 < estimator.history[0]
    c = estimator.predict_batch(batch)
    sums = np.bincount(batch.episode, weights=c)
    np.testing.assert_allclose(sums, [1.0, 0.0, 1.0, 0.0], atol=0.1)
    assert credit.spa_loss(c, batch.episode, batch.outcome) < 0.01
    rewards = credit.spa(batch, estimator=estimator, grounding_weight=0.0)
    np.testing.assert_allclose(rewards, c)
    with pytest.raises(ValueError, match="features have shape"):
        estimator.predict(np.zeros((3, 5)))


def test_salt_graph_inspection_and_export():
    episodes = episodes_from_lists(
        [[("s0", "a", 0.0), ("s1", "b", 1.0)], [("s0", "c", 0.0), ("s3", "d", 0.0)],
         [("s0", "a", 0.0), ("s1", "e", 0.0)]], [1.0, 0.0, 0.0])
    batch = StepBatch.from_episodes(episodes)
    graph = credit.salt_graphs(batch, base="drgrpo")[0]
    labels = {attrs["label"]: attrs for attrs in graph.nodes.values()}
    assert labels["s0"]["visits"] == 3 and labels["s1"]["visits"] == 2
    assert labels["s0"]["value"] == pytest.approx(1 / 3)
    shared = [e for e in graph.edges.values() if e["label"] == "a"]
    assert len(shared) == 1 and shared[0]["visits"] == 2
    assert shared[0]["advantage"] == pytest.approx(1 / 6) and shared[0]["episodes"] == [0, 2]
    assert len(graph.edges) == 5
    nx_graph = graph.to_networkx()
    assert nx_graph.number_of_edges() == 5 and nx_graph.number_of_nodes() == len(graph.nodes)
    dot = graph.to_dot()
    assert dot.startswith("digraph") and dot.count("->") == 5 and '"a (N=2' in dot
    # History nodes form a prefix tree: the shared first step still merges, the rest do not.
    adv = credit.salt(batch, base="drgrpo", node="history")
    np.testing.assert_allclose(batch.per_episode(adv)[0], [1 / 6, 2 / 3])


def test_lcs_and_progress():
    np.testing.assert_array_equal(credit.lcs([1, 2, 3, 4, 5], [2, 9, 4, 5]), [2, 4, 5])
    assert len(credit.lcs([], [1])) == 0
    # Successful episodes share key steps 7, 8, 9; the failure does 7 and stops.
    batch = from_rows([0] * 9, [0, 0, 0, 0, 1, 1, 1, 2, 2], [0, 1, 2, 3, 0, 1, 2, 0, 1],
                      [0.0] * 9, list("abcdefghi"), actions=[7, 1, 8, 9, 7, 8, 9, 7, 2],
                      outcome={0: 1.0, 1: 1.0, 2: 0.0})
    progress = credit.progress_labels(batch)
    np.testing.assert_allclose(progress, [1 / 3, 1 / 3, 2 / 3, 1, 1 / 3, 2 / 3, 1, 1 / 3, 1 / 3])
    np.testing.assert_allclose(credit.progrm(batch),
                               [1 / 3, 0, 1 / 3, 1 / 3, 1 / 3, 1 / 3, 1 / 3, 1 / 3, 0])


def doc_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.DOTALL)


def test_doc_examples_run():
    blocks = doc_blocks()
    assert len(blocks) >= 9
    namespace: dict = {}
    try:
        for block in blocks:
            exec(compile(block, str(DOCS), "exec"), namespace)
    finally:
        registry._REGISTRIES["estimator"].pop("my_outcome_only", None)
