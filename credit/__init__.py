"""Per-step credit assignment for multi-turn LLM agents (``agentgym.credit``).

Every method is a pure function of a :class:`~agentgym.core.trajectory.StepBatch`, registered by
name and returning one value per row (turn):

* **estimators** (``credit.get(name)``) return advantages: ``grpo``, ``drgrpo``, ``rloo``,
  ``mc_grpo``, ``gdpo``, ``gigpo``, ``salt``, ``graphgpo``, ``cast``, ``igpo``, ``oprl``,
  ``arena``, ``hiper``, ``sweet`` (SWEET-RL's critic advantages), and for several agents
  ``rae`` (SPIRAL's role baselines) and ``atgrpo`` (groups by role and turn);
* **transforms** (``credit.get_transform(name)``) return new per-turn rewards: ``gated``,
  ``spa``, ``progrm``, ``igpo``, ``stepsearch``; :func:`apply_transform` puts them into a new
  batch, so they compose with any estimator.

An estimator returns advantages and nothing else; the extras some methods have come from
helpers of their own: :func:`gigpo_parts` (``A^E``, ``A^S``, returns, anchor groups),
:func:`graphgpo_parts` (graph distances and terms), :func:`cast_shaping` (the solver term),
:func:`hiper_parts` (HiPER's three advantages and value targets), :func:`mc_grpo_pivot_mask`
(rows to drop from the loss), :func:`salt_counts` (edge visit counts) and
:func:`arena_tournament` (ranks, judge calls) and :func:`bradley_terry` (SWEET-RL's critic
objective and its gradient).

Shared helpers: :func:`group_normalize`, :func:`discounted_returns`, :func:`turn_gae` and
:func:`hiper_advantages`. See ``docs/credit.md`` for which method needs what. This package
imports only ``agentgym.core`` (and lazily torch, inside SPA's estimator, and scipy, inside
GraphGPO's BFS).
"""

from agentgym.credit import arena as _arena
from agentgym.credit import atgrpo as _atgrpo
from agentgym.credit import baselines as _baselines
from agentgym.credit import cast as _cast
from agentgym.credit import gated as _gated
from agentgym.credit import gigpo as _gigpo
from agentgym.credit import graphgpo as _graphgpo
from agentgym.credit import hiper as _hiper
from agentgym.credit import igpo as _igpo
from agentgym.credit import oprl as _oprl
from agentgym.credit import progrm as _progrm
from agentgym.credit import rae as _rae
from agentgym.credit import salt as _salt
from agentgym.credit import spa as _spa
from agentgym.credit import stepsearch as _stepsearch
from agentgym.credit import sweet as _sweet
from agentgym.credit.arena import (
    ArenaResult,
    arena,
    arena_tournament,
    rank_advantages,
    single_elimination,
)
from agentgym.credit.atgrpo import atgrpo, atgrpo_groups
from agentgym.credit.baselines import drgrpo, gdpo, grpo, mc_grpo, mc_grpo_pivot_mask, rloo
from agentgym.credit.cast import DISTANCE_KEY, cast, cast_shaping, goal_distances
from agentgym.credit.common import (
    SingleStateWarning,
    discounted_returns,
    group_normalize,
    index_batch,
    turn_gae,
)
from agentgym.credit.gated import gated
from agentgym.credit.gigpo import GiGPOParts, anchor_groups, gigpo, gigpo_parts
from agentgym.credit.graphgpo import GraphGPOParts, graphgpo, graphgpo_parts
from agentgym.credit.hiper import HiPERParts, hiper, hiper_advantages, hiper_parts
from agentgym.credit.igpo import answer_f1, igpo, igpo_rewards, information_gain
from agentgym.credit.oprl import oprl, turn_log_ratio
from agentgym.credit.progrm import lcs, progress_labels, progrm
from agentgym.credit.rae import RoleBaselines, ema_sequence, rae
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
from agentgym.credit.salt import TrajectoryGraph, salt, salt_counts, salt_graphs
from agentgym.credit.spa import ProgressEstimator, grounding_signal, hashed_features, spa, spa_loss
from agentgym.credit.stepsearch import stepsearch
from agentgym.credit.sweet import BradleyTerry, bradley_terry, sweet, sweet_pairs

del (_arena, _atgrpo, _baselines, _cast, _gated, _gigpo, _graphgpo, _hiper, _igpo, _oprl, _progrm,
     _rae, _salt, _spa, _stepsearch, _sweet)

__all__ = [
    "DISTANCE_KEY",
    "ArenaResult",
    "BradleyTerry",
    "GiGPOParts",
    "GraphGPOParts",
    "HiPERParts",
    "ProgressEstimator",
    "RoleBaselines",
    "SingleStateWarning",
    "TrajectoryGraph",
    "UnknownMethodError",
    "anchor_groups",
    "answer_f1",
    "apply_transform",
    "arena",
    "arena_tournament",
    "atgrpo",
    "atgrpo_groups",
    "available",
    "available_transforms",
    "bradley_terry",
    "cast",
    "cast_shaping",
    "compute_advantages",
    "discounted_returns",
    "drgrpo",
    "ema_sequence",
    "gated",
    "gdpo",
    "get",
    "get_transform",
    "gigpo",
    "gigpo_parts",
    "goal_distances",
    "graphgpo",
    "graphgpo_parts",
    "grounding_signal",
    "group_normalize",
    "grpo",
    "hashed_features",
    "hiper",
    "hiper_advantages",
    "hiper_parts",
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
    "rae",
    "rank_advantages",
    "register",
    "register_transform",
    "rloo",
    "salt",
    "salt_counts",
    "salt_graphs",
    "single_elimination",
    "spa",
    "spa_loss",
    "stepsearch",
    "sweet",
    "sweet_pairs",
    "turn_gae",
    "turn_log_ratio",
]
