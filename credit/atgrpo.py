"""AT-GRPO: group-relative advantages by agent and turn for shared-policy multi-agent groups.

AT-GRPO (Zhao et al. 2025, "Stronger Together: On-Policy Reinforcement Learning for
Collaborative LLMs", arXiv 2510.11062; code: PettingLLMs) observes that in a multi-agent system
each agent at each turn answers a different, role- and history-dependent prompt, so one GRPO
group over whole trajectories compares answers to different prompts. It groups instead by
``(environment instance, agent, turn)``:

    A(a_t^{(c)}) = (R(a_t^{(c)}) − mean_g R) / F_norm(g),      g = (task group, role, t)

where ``R`` is the turn's reward, a mix of a team (global) and a local (per-agent) reward,
``r = α · r_team + r_local``. The paper samples the ``K`` candidates of a group from one shared
state (tree sampling); with independent rollouts of the same task (``collect`` with
``group_size``) the group holds the role's ``t``-th turns across the task's games.

Here the group is ``(batch.group, batch.role, batch.t)`` — the role column comes from
``Episode.role`` — and the score per row is, by ``score``:

* ``"reward"`` (the paper): the turn's reward, with ``team_part`` naming the reward part that is
  the team reward (mixed in with weight ``alpha``; the rest of the reward is the local part);
* ``"return"``: the discounted return from the turn (``gamma``), for games whose reward comes at
  the end;
* ``"outcome"``: the episode's outcome.

Normalization as GRPO's: ``norm``, σ kind, ε and the singleton rule are parameters.
"""

from __future__ import annotations

import numpy as np

from agentgym.core.trajectory import StepBatch
from agentgym.credit.common import (
    _check_choice,
    dense_ids,
    discounted_returns,
    index_batch,
    normalize_dense,
)
from agentgym.credit.registry import register

SCORES = ("reward", "return", "outcome")


def atgrpo_groups(batch: StepBatch) -> tuple[np.ndarray, int]:
    """``(ids, n_groups)``: the dense ``(task group, role, turn)`` group of each row."""
    ids, n_ids, _ = dense_ids(batch.group, batch.roles(), batch.t)
    return ids, n_ids


@register("atgrpo")
def atgrpo(
    batch: StepBatch,
    *,
    score: str = "reward",
    gamma: float = 1.0,
    team_part: str | None = None,
    alpha: float = 1.0,
    norm: str = "mean_std",
    std: str = "unbiased",
    eps: float = 1e-6,
    singleton: str = "raw",
) -> np.ndarray:
    """AT-GRPO advantages, grouped by task group, role and turn (see the module doc).

    Args:
        batch: ``N`` rows with the ``role`` column (all zeros: one role).
        score: ``"reward"`` (paper), ``"return"`` or ``"outcome"``.
        gamma: discount of ``score="return"``.
        team_part: the reward part holding the team reward; None: the whole reward is used
            as is.
        alpha: weight α of the team reward: ``r = α · team + (reward − team)``.
        norm: ``"mean_std"`` (GRPO), ``"mean"`` or ``"none"``.
        std: ``"unbiased"`` or ``"population"`` σ.
        eps: ε added to σ.
        singleton: ``"raw"`` (a group of one keeps its score) or ``"zero"``.

    Returns:
        ``(N,)`` advantages.
    """
    _check_choice("score", score, SCORES)
    index = index_batch(batch, "atgrpo")
    reward = batch.reward
    if team_part is not None:
        if team_part not in batch.reward_parts:
            raise ValueError(
                f"atgrpo: team_part {team_part!r} is not a reward part of the batch; parts: "
                f"{sorted(batch.reward_parts)}"
            )
        reward = reward + (alpha - 1.0) * batch.reward_parts[team_part]
    if score == "reward":
        values = reward
    elif score == "return":
        values = discounted_returns(reward, batch.episode, batch.t, gamma)
    else:
        values = index.ep_outcome[index.ep]
    ids, n_ids = atgrpo_groups(batch)
    return normalize_dense(values, ids, n_ids, norm=norm, std=std, eps=eps, singleton=singleton)
