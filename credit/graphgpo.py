"""GraphGPO: graph-based group policy optimization (Cheng et al., arXiv 2605.26684, ICML 2026).

Paper (abstract): aggregate all rollouts of a task into one state-transition graph, estimate each
state's distance to the task goal from the whole graph, and credit each transition by how much
it reduces that distance. Upstream code: langfengQ/verl-agent ``recipe/GraphGPO`` (not in the
stored corpus). The method section was not readable either; the exact formulas below follow a
third-party reproduction's reading of the recipe (the "Relax" GraphGPO example,
``examples/graphgpo/graph_credit.py``), which we could read:

1. **Graph** per task group: nodes are the states (``batch.state``); every turn is an edge from
   its state to the next turn's state. The last turn of a successful episode (``outcome >
   success_threshold``) leads to the group's SUCCESS node, that of a failed one to a terminal
   FAIL node (the state after the last turn is not in the batch).
2. **Distance** ``d(s)``: fewest steps from ``s`` to SUCCESS (unit edge costs: a reverse BFS
   from SUCCESS). A state that cannot reach SUCCESS gets ``d_max + 1``, ``d_max`` the largest
   finite distance in its group's graph.
3. **Value of a transition** ``v_t = R·ω^{d(s_{t+1})}`` (the paper's Eq. 4 writes
   ``ω^{d(s_{t+1}) + 1}``, the same up to the constant ``ω``), ``R`` the success reward.
4. **Graph advantage**: ``A^G_t = (v_t − μ)/(σ + ε)`` over the turns of the task group taken in
   the same state ``s_t`` (as GiGPO's anchor groups; unbiased σ; a state taken once gets 0).
   A group without any success gets ``A^G = 0``.
5. ``A = A_base + β·A^G``, ``A_base`` the episode advantage (GRPO).

The distances of all groups come from one multi-source BFS over a block-diagonal graph
(``scipy.sparse.csgraph.dijkstra(unweighted=True, min_only=True)`` on the reversed edges).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from agentgym.core.trajectory import StepBatch
from agentgym.credit.common import (
    _check_choice,
    dense_ids,
    index_batch,
    normalize_dense,
    warn_if_single_state,
)
from agentgym.credit.registry import get, register

VALUES = ("power", "linear")


@dataclass(frozen=True)
class GraphGPOParts:
    """The terms of one GraphGPO computation, each ``(N,)`` and aligned with the batch rows.

    Attributes:
        advantages: ``A = A_base + β·A^G`` (what the ``graphgpo`` estimator returns).
        base: the base (episode) advantage ``A_base``.
        graph: the graph advantage ``A^G``.
        distance: ``d(s_t)``, BFS steps from the turn's state to SUCCESS; ``inf`` when it cannot
            reach SUCCESS (every row of a group without a success).
        next_distance: ``d(s_{t+1})`` of the turn's successor (0 for SUCCESS, ``inf`` for FAIL).
        value: ``v_t``, the transition value normalized into ``A^G`` (0 in groups without a
            success).
        node: dense id of the turn's state node (task group, state).
    """

    advantages: np.ndarray
    base: np.ndarray
    graph: np.ndarray
    distance: np.ndarray
    next_distance: np.ndarray
    value: np.ndarray
    node: np.ndarray


def _distances_to_targets(
    src: np.ndarray, dst: np.ndarray, n_nodes: int, targets: np.ndarray
) -> np.ndarray:
    """``(n_nodes,)`` fewest edges from each node to its nearest target (``inf``: none).

    One multi-source BFS on the reversed graph: ``dijkstra(unweighted=True, min_only=True)``
    from all targets at once (duplicate edges, summed by the sparse constructor, still count
    one step).
    """
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import dijkstra

    reverse = csr_matrix(
        (np.ones(len(src), dtype=np.float64), (dst, src)), shape=(n_nodes, n_nodes)
    )
    return dijkstra(reverse, directed=True, indices=targets, unweighted=True, min_only=True)


def graphgpo_parts(
    batch: StepBatch,
    *,
    omega: float = 0.1,
    success_reward: float = 10.0,
    beta: float = 1.0,
    success_threshold: float = 0.0,
    value: str = "power",
    norm: str = "mean_std",
    std: str = "unbiased",
    eps: float = 1e-6,
    base: str = "grpo",
    base_kwargs: Mapping[str, Any] | None = None,
) -> GraphGPOParts:
    """GraphGPO advantage ``A = A_base + β·A^G`` and its terms (see the module doc).

    Warns with :class:`~agentgym.credit.common.SingleStateWarning` when a multi-step task group
    has one state for all its turns (turns left at the default ``state_key=""``).

    Args:
        batch: ``N`` rows; ``state`` names the node, ``outcome`` decides success.
        omega: ω in ``v = R·ω^d``, in ``(0, 1]`` (0.1 in the reproduction we follow).
        success_reward: ``R`` (verl-agent pays 10 on success); it cancels in ``mean_std``
            except against ε.
        beta: β, the graph advantage's weight.
        success_threshold: an episode succeeded when its ``outcome`` is above this.
        value: ``"power"`` (``v = R·ω^d``, the paper) or ``"linear"`` (``v = −d``: each step
            closer counts the same however far the goal is).
        norm: ``"mean_std"`` or ``"mean"`` for ``A^G``.
        std: σ kind of ``A^G``.
        eps: ε of ``A^G``.
        base: name of the base estimator (``grpo``).
        base_kwargs: its keyword arguments.

    Returns:
        A :class:`GraphGPOParts` of ``(N,)`` arrays.
    """
    _check_choice("value", value, VALUES)
    if not 0.0 < omega <= 1.0:
        raise ValueError(f"graphgpo: omega={omega} must be in (0, 1]")
    if base == "graphgpo":
        raise ValueError("graphgpo: base='graphgpo' would call itself; name another estimator")
    index = index_batch(batch, "graphgpo")
    row_group = index.row_group
    n_groups = index.n_groups
    node, n_states, _ = dense_ids(row_group, batch.state)
    warn_if_single_state(node, index, "graphgpo")
    # Successor node of each row: the next turn's state, else SUCCESS (n_states + group) or
    # FAIL (n_states + n_groups, one sink shared by all groups: nothing leaves it).
    success = index.ep_outcome > success_threshold
    nxt = index.next_row()
    last = nxt < 0
    terminal = np.where(success[index.ep], n_states + row_group, n_states + n_groups)
    successor = np.where(last, terminal, node[np.maximum(nxt, 0)])
    has_success = np.bincount(index.ep_group, weights=success, minlength=n_groups) > 0
    dist = np.full(n_states + n_groups + 1, np.inf)
    if np.any(has_success):
        dist = _distances_to_targets(
            node, successor, len(dist), n_states + np.flatnonzero(has_success)
        )
    distance, next_distance = dist[node], dist[successor]
    # d_max per group over its state nodes (every state node is some row's own state).
    d_max = np.zeros(n_groups)
    finite = np.isfinite(distance)
    np.maximum.at(d_max, row_group[finite], distance[finite])
    d_next = np.where(np.isfinite(next_distance), next_distance, d_max[row_group] + 1.0)
    v = success_reward * omega**d_next if value == "power" else -d_next
    v = np.where(has_success[row_group], v, 0.0)
    a_graph = normalize_dense(v, node, n_states, norm=norm, std=std, eps=eps, singleton="zero")
    a_base = np.asarray(get(base)(batch, **dict(base_kwargs or {})), dtype=np.float64)
    return GraphGPOParts(
        advantages=a_base + beta * a_graph,
        base=a_base,
        graph=a_graph,
        distance=distance,
        next_distance=next_distance,
        value=v,
        node=node,
    )


@register("graphgpo")
def graphgpo(
    batch: StepBatch,
    *,
    omega: float = 0.1,
    success_reward: float = 10.0,
    beta: float = 1.0,
    success_threshold: float = 0.0,
    value: str = "power",
    norm: str = "mean_std",
    std: str = "unbiased",
    eps: float = 1e-6,
    base: str = "grpo",
    base_kwargs: Mapping[str, Any] | None = None,
) -> np.ndarray:
    """GraphGPO advantage ``A = A_base + β·A^G`` (Cheng et al. 2026, arXiv 2605.26684).

    The registered estimator: the ``advantages`` of :func:`graphgpo_parts` (same arguments,
    formulas in the module doc); use :func:`graphgpo_parts` for the distances and terms.

    Returns:
        ``(N,)`` float64 advantages.
    """
    return graphgpo_parts(
        batch, omega=omega, success_reward=success_reward, beta=beta,
        success_threshold=success_threshold, value=value, norm=norm, std=std, eps=eps,
        base=base, base_kwargs=base_kwargs,
    ).advantages
