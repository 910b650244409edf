"""Per-step credit assignment for multi-turn LLM agents (``agentgym.credit``).

Every method is a pure function of a :class:`~agentgym.core.trajectory.StepBatch`, registered by
name and returning one value per row (turn):

* **estimators** (``credit.get(name)``) return advantages: ``grpo``, ``drgrpo``, ``rloo``,
  ``mc_grpo``, ``gdpo``, ``gigpo``, ``salt``, ``igpo``, ``oprl``, ``arena``;
* **transforms** (``credit.get_transform(name)``) return new per-turn rewards: ``gated``,
  ``spa``, ``progrm``, ``igpo``; :func:`apply_transform` puts them into a new batch, so they
  compose with any estimator.

Shared helpers: :func:`group_normalize`, :func:`discounted_returns`, :func:`turn_gae` and
:func:`hiper_advantages`. See ``docs/credit.md`` for which method needs what. This package
imports only ``agentgym.core`` (and torch lazily, inside SPA's estimator).
"""

from agentgym.credit import arena as _arena
from agentgym.credit import baselines as _baselines
from agentgym.credit import gated as _gated
from agentgym.credit import gigpo as _gigpo
from agentgym.credit import igpo as _igpo
from agentgym.credit import oprl as _oprl
from agentgym.credit import progrm as _progrm
from agentgym.credit import salt as _salt
from agentgym.credit import spa as _spa
from agentgym.credit.arena import arena, rank_advantages, single_elimination
from agentgym.credit.baselines import drgrpo, gdpo, grpo, mc_grpo, mc_grpo_pivot_mask, rloo
from agentgym.credit.common import discounted_returns, group_normalize, index_batch, turn_gae
from agentgym.credit.gated import gated
from agentgym.credit.gigpo import anchor_groups, gigpo
from agentgym.credit.hiper import hiper_advantages
from agentgym.credit.igpo import answer_f1, igpo, igpo_rewards, information_gain
from agentgym.credit.oprl import oprl, turn_log_ratio
from agentgym.credit.progrm import lcs, progress_labels, progrm
from agentgym.credit.registry import (
    UnknownMethodError,
    apply_transform,
    available,
    available_transforms,
    compute_advantages,
    get,
    get_transform,
    register,
    register_transform,
)
from agentgym.credit.salt import TrajectoryGraph, salt, salt_graphs
from agentgym.credit.spa import ProgressEstimator, grounding_signal, hashed_features, spa, spa_loss

del _arena, _baselines, _gated, _gigpo, _igpo, _oprl, _progrm, _salt, _spa

__all__ = [
    "ProgressEstimator",
    "TrajectoryGraph",
    "UnknownMethodError",
    "anchor_groups",
    "answer_f1",
    "apply_transform",
    "arena",
    "available",
    "available_transforms",
    "compute_advantages",
    "discounted_returns",
    "drgrpo",
    "gated",
    "gdpo",
    "get",
    "get_transform",
    "gigpo",
    "grounding_signal",
    "group_normalize",
    "grpo",
    "hashed_features",
    "hiper_advantages",
    "igpo",
    "igpo_rewards",
    "index_batch",
    "information_gain",
    "lcs",
    "mc_grpo",
    "mc_grpo_pivot_mask",
    "oprl",
    "progress_labels",
    "progrm",
    "rank_advantages",
    "register",
    "register_transform",
    "rloo",
    "salt",
    "salt_graphs",
    "single_elimination",
    "spa",
    "spa_loss",
    "turn_gae",
    "turn_log_ratio",
]
