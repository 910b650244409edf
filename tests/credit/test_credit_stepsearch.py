"""``reward=stepsearch`` on the reward parts SearchQA reports for scripted episodes."""

from __future__ import annotations

import numpy as np
import pytest
from batches import from_rows

from agentgym import credit
from agentgym.core.tool_calls import ToolCall, render_tool_calls


def _play(env, calls: list[ToolCall]) -> tuple[list[float], list[dict[str, float]]]:
    rewards, parts = [], []
    for call in calls:
        _, reward, terminated, _, info = env.step(render_tool_calls([call]))
        rewards.append(reward)
        parts.append(info["reward_parts"])
    assert terminated
    return rewards, parts


def test_stepsearch_rewards_gain_minus_redundancy_then_the_answer():
    """1-hop question: searching the anchor surfaces the one gold article (gain 1), the same
    search again returns 5 results seen before (redundancy −1), opening earns nothing, a right
    answer 1 and a wrong one 0: StepSearch's unit weights give [1, −1, 0, 1] and [1, −1, 0, 0],
    where the environment's own weights (0.1 on step parts) give 0.1 and −0.1."""
    from agentgym.envs.tool.search.env import SearchQAEnv

    env = SearchQAEnv(n_articles=300, n_questions=50, hops=(1, 1))
    rows = []
    for episode, answer_right in enumerate((True, False)):
        env.reset(seed=3)
        question = env.question
        doc_id, name = question.chain[0]
        answer = question.answer if answer_right else "nobody"
        rewards, parts = _play(env, [ToolCall("search", {"query": name, "k": 5}),
                                     ToolCall("search", {"query": name, "k": 5}),
                                     ToolCall("open", {"doc_id": doc_id}),
                                     ToolCall("answer", {"text": answer})])
        np.testing.assert_allclose(rewards[:2], [0.1, -0.1])
        rows += [(episode, t, r, p) for t, (r, p) in enumerate(zip(rewards, parts, strict=True))]
    names = sorted({k for *_, p in rows for k in p})
    assert {"retrieval_gain", "redundancy", "outcome"} <= set(names)
    batch = from_rows([0] * len(rows), [e for e, *_ in rows], [t for _, t, *_ in rows],
                      [r for *_, r, _ in rows], [f"s{t}" for _, t, *_ in rows],
                      parts={k: [p.get(k, 0.0) for *_, p in rows] for k in names})
    moved = credit.apply_transform(batch, "stepsearch", update_outcome=True)
    np.testing.assert_allclose(moved.reward, [1, -1, 0, 1, 1, -1, 0, 0])
    np.testing.assert_allclose(moved.outcome, [1] * 4 + [0] * 4)
    halved = credit.get_transform("stepsearch")(batch, redundancy_weight=0.5, outcome_weight=2)
    np.testing.assert_allclose(halved, [1, -0.5, 0, 2, 1, -0.5, 0, 0])
    adv = credit.compute_advantages(batch, "grpo", reward="stepsearch")
    assert adv[0] > 0 > adv[-1]  # the right answer's episode ranks above the wrong one's


def test_stepsearch_names_the_parts_it_lacks():
    batch = from_rows([0, 0], [0, 0], [0, 1], [0.0, 1.0], ["a", "b"],
                      parts={"outcome": [0.0, 1.0]})
    with pytest.raises(ValueError, match=r"gain_part='retrieval_gain'.*redundancy_part"):
        credit.get_transform("stepsearch")(batch)


def test_stepsearch_keeps_the_invalid_action_penalty():
    """The trainer's ``invalid`` part (−0.1 per invalid turn) stays at weight 1: StepSearch's
    format check scores a malformed trajectory below a well-formed one."""
    parts = {"retrieval_gain": [0.5, 0.0, 0.0], "redundancy": [0.0, -0.2, 0.0],
             "outcome": [0.0, 0.0, 1.0], "invalid": [0.0, -0.1, 0.0]}
    batch = from_rows([0] * 3, [0] * 3, [0, 1, 2], [0.05, -0.12, 1.0], ["a", "b", "c"],
                      parts=parts)
    np.testing.assert_allclose(credit.get_transform("stepsearch")(batch), [0.5, -0.3, 1.0])
    np.testing.assert_allclose(credit.get_transform("stepsearch")(batch, invalid_weight=0),
                               [0.5, -0.2, 1.0])
