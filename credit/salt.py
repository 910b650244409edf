"""SALT: step-level advantages from a trajectory graph (Li et al., arXiv 2510.20022, EACL 2026).

No official code was found; this follows the reading in the spec (GRAFT's description): compute
trajectory advantages with a group baseline (GRPO by default), then every step inherits the mean
trajectory advantage over all occurrences, within its task group, of its transition
``(s, a, s′)``. A transition seen once keeps its trajectory's advantage.

:func:`salt_counts` gives each row's transition count and :func:`salt_graphs` the per-group
graph (nodes, edges, visit counts, value estimates) for inspection and export to networkx or
Graphviz DOT.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from agentgym.core.trajectory import StepBatch, stable_hash
from agentgym.credit.common import (
    EpisodeIndex,
    _check_choice,
    _dense_labels,
    dense_ids,
    index_batch,
    warn_if_single_state,
)
from agentgym.credit.registry import get, register

END_STATE = stable_hash("\x00agentgym.credit.salt:end")
"""Node id of the terminal "next state" after an episode's last turn."""

_MIX = np.uint64(0x9E3779B97F4A7C15)


def _mix(h: np.ndarray, x: np.ndarray) -> np.ndarray:
    """A 64-bit hash combine, vectorized (wrapping uint64 arithmetic)."""
    with np.errstate(over="ignore"):
        v = (h ^ x.astype(np.uint64)) * _MIX
        v ^= v >> np.uint64(29)
        v *= np.uint64(0xBF58476D1CE4E5B9)
        v ^= v >> np.uint64(32)
    return v


def node_ids(batch: StepBatch, index: EpisodeIndex, node: str) -> tuple[np.ndarray, np.ndarray]:
    """``(N,)`` source and next-node ids of each row's transition.

    ``node="state"`` uses the state hash; ``"history"`` hashes the whole prefix (states and
    actions up to the turn), which turns the graph into a prefix tree. The node after an
    episode's last turn is :data:`END_STATE`.
    """
    _check_choice("node", node, ("state", "history"))
    if node == "state":
        src = batch.state.copy()
    else:
        # h_t = mix(mix(h_{t-1}, action_{t-1}), state_t), scanned forward over the turn index.
        order = index.order
        rank = index.rank[order]
        state = batch.state[order].view(np.uint64)
        action = batch.action[order].view(np.uint64)
        h = np.zeros(len(order), dtype=np.uint64)
        by_rank = np.argsort(rank, kind="stable")
        bounds = np.concatenate(([0], np.cumsum(np.bincount(rank))))
        for k in range(len(bounds) - 1):
            pos = by_rank[bounds[k] : bounds[k + 1]]
            prev = np.zeros(len(pos), np.uint64) if k == 0 else _mix(h[pos - 1], action[pos - 1])
            h[pos] = _mix(prev, state[pos])
        src = np.empty(len(order), dtype=np.int64)
        src[order] = h.view(np.int64)
    nxt_row = index.next_row()
    dst = np.where(nxt_row >= 0, src[np.maximum(nxt_row, 0)], END_STATE)
    return src, dst


def _row_edges(
    batch: StepBatch, index: EpisodeIndex, node: str, method: str
) -> tuple[np.ndarray, int]:
    """``(N,)`` dense id of each row's transition ``(group, s, a, s′)`` and the number of ids.

    With ``node="state"`` this warns (:class:`~agentgym.credit.common.SingleStateWarning`) when
    a multi-step task group has one state for all its turns; history nodes still tell turns
    apart by the actions before them.
    """
    src, _ = node_ids(batch, index, node)
    if node == "state":
        warn_if_single_state(src, index, method)
    src_ids, n_src = _dense_labels(src)
    nxt = index.next_row()
    dst_ids = np.where(nxt >= 0, src_ids[np.maximum(nxt, 0)], n_src)  # n_src: the end node
    edge, n_edges, _ = dense_ids(index.row_group, src_ids, batch.action, dst_ids)
    return edge, n_edges


@register("salt")
def salt(
    batch: StepBatch,
    *,
    base: str = "grpo",
    base_kwargs: Mapping[str, Any] | None = None,
    node: str = "state",
) -> np.ndarray:
    """SALT shared-edge advantage (Li et al. 2025, arXiv 2510.20022).

    ``Â(e, t) = mean{ A_base(τ) : (s, a, s′) of τ at some turn equals edge (s_t, a_t, s_{t+1}) }``
    over the occurrences in the same task group (an edge traversed twice by one trajectory
    counts twice). ``A_base`` is any registered episode-level estimator (``grpo`` default).
    :func:`salt_counts` gives each row's occurrence count, :func:`salt_graphs` the whole graph.

    Warns with :class:`~agentgym.credit.common.SingleStateWarning` when, with
    ``node="state"``, a task group whose episodes take more than one step has one state for all
    its turns (turns left at the default ``state_key=""``).

    Args:
        batch: ``N`` rows.
        base: name of the trajectory-level estimator.
        base_kwargs: its keyword arguments (e.g. ``{"norm": "mean"}``).
        node: ``"state"`` (anchor state) or ``"history"`` (prefix tree).

    Returns:
        ``(N,)`` float64 advantages.
    """
    index = index_batch(batch, "salt")
    a_traj = np.asarray(get(base)(batch, **dict(base_kwargs or {})), dtype=np.float64)
    edge, n_edges = _row_edges(batch, index, node, "salt")
    counts = np.bincount(edge, minlength=n_edges)
    mean = np.bincount(edge, weights=a_traj, minlength=n_edges) / counts
    return mean[edge]


def salt_counts(batch: StepBatch, *, node: str = "state") -> np.ndarray:
    """``(N,)`` int64: how often each row's transition ``(s, a, s′)`` occurs in its task group.

    The number of trajectory advantages :func:`salt` averages for the row (1: the row keeps its
    trajectory's advantage). ``node`` as in :func:`salt`.
    """
    index = index_batch(batch, "salt")
    edge, n_edges = _row_edges(batch, index, node, "salt")
    return np.bincount(edge, minlength=n_edges)[edge]


@dataclass
class TrajectoryGraph:
    """The transition graph of one task group.

    Attributes:
        group: the group label (``batch.group`` value).
        nodes: node id → ``{"label", "visits", "value"}``; ``value`` is the mean outcome of the
            episodes' visits to the node.
        edges: ``(src, action, dst)`` → ``{"label", "visits", "advantage", "episodes"}``;
            ``advantage`` is the SALT advantage (mean trajectory advantage over occurrences).
    """

    group: int
    nodes: dict[int, dict[str, Any]] = field(default_factory=dict)
    edges: dict[tuple[int, int, int], dict[str, Any]] = field(default_factory=dict)

    def to_networkx(self) -> Any:
        """A ``networkx.MultiDiGraph`` (edge key = action id) with the same attributes."""
        import networkx as nx

        graph = nx.MultiDiGraph(group=self.group)
        for node, attrs in self.nodes.items():
            graph.add_node(node, **attrs)
        for (src, action, dst), attrs in self.edges.items():
            graph.add_edge(src, dst, key=action, **attrs)
        return graph

    def to_dot(self) -> str:
        """Graphviz DOT text; nodes labelled with their text, edges with action and advantage."""

        def quote(text: object) -> str:
            escaped = str(text).replace("\\", "\\\\").replace('"', '\\"')
            return '"' + escaped.replace("\n", "\\n") + '"'

        lines = [f"digraph group_{self.group} {{"]
        for node, attrs in sorted(self.nodes.items()):
            label = f"{attrs['label']}\\nN={attrs['visits']} V={attrs['value']:.3g}"
            lines.append(f"  n{node & 0xFFFFFFFFFFFFFFFF} [label={quote(label)}];")
        for (src, _action, dst), attrs in sorted(self.edges.items()):
            label = f"{attrs['label']} (N={attrs['visits']}, A={attrs['advantage']:.3g})"
            lines.append(
                f"  n{src & 0xFFFFFFFFFFFFFFFF} -> n{dst & 0xFFFFFFFFFFFFFFFF} "
                f"[label={quote(label)}];"
            )
        lines.append("}")
        return "\n".join(lines)


def _turn_text(batch: StepBatch, row: int, attr: str) -> str | None:
    if batch.episodes is None:
        return None
    turns = batch.episodes[int(batch.episode[row])].turns
    t = int(batch.t[row])
    return str(getattr(turns[t], attr)) if 0 <= t < len(turns) else None


def salt_graphs(
    batch: StepBatch,
    *,
    base: str = "grpo",
    base_kwargs: Mapping[str, Any] | None = None,
    node: str = "state",
) -> dict[int, TrajectoryGraph]:
    """Build the :class:`TrajectoryGraph` of every task group (keyed by ``batch.group`` value).

    Labels come from ``state_key`` and the source episodes' action texts when present, else the
    ids. Loops run over distinct nodes and edges, not rows.
    """
    index = index_batch(batch, "salt")
    a_traj = np.asarray(get(base)(batch, **dict(base_kwargs or {})), dtype=np.float64)
    src, dst = node_ids(batch, index, node)
    edge, n_edges, edge_row = dense_ids(batch.group, src, batch.action, dst)
    visits = np.bincount(edge, minlength=n_edges)
    advantage = np.bincount(edge, weights=a_traj, minlength=n_edges) / visits
    episodes_per_edge = [sorted(set(x)) for x in _split(batch.episode, edge, n_edges)]
    node_key, n_nodes, node_row = dense_ids(batch.group, src)
    node_visits = np.bincount(node_key, minlength=n_nodes)
    node_value = np.bincount(node_key, weights=batch.outcome, minlength=n_nodes) / node_visits
    graphs: dict[int, TrajectoryGraph] = {}
    for k, row in enumerate(node_row):
        g = int(batch.group[row])
        graph = graphs.setdefault(g, TrajectoryGraph(group=g))
        text = None if batch.state_key is None or node != "state" else batch.state_key[row]
        graph.nodes[int(src[row])] = {
            "label": str(text) if text is not None else str(int(src[row])),
            "visits": int(node_visits[k]),
            "value": float(node_value[k]),
        }
    for k, row in enumerate(edge_row):
        graph = graphs[int(batch.group[row])]
        if int(dst[row]) not in graph.nodes:
            graph.nodes[int(dst[row])] = {
                "label": "<end>" if dst[row] == END_STATE else str(int(dst[row])),
                "visits": 0,
                "value": float("nan"),
            }
        action_text = _turn_text(batch, int(row), "action")
        graph.edges[(int(src[row]), int(batch.action[row]), int(dst[row]))] = {
            "label": action_text if action_text is not None else str(int(batch.action[row])),
            "visits": int(visits[k]),
            "advantage": float(advantage[k]),
            "episodes": [int(e) for e in episodes_per_edge[k]],
        }
    return graphs


def _split(values: np.ndarray, ids: np.ndarray, n_ids: int) -> list[np.ndarray]:
    order = np.argsort(ids, kind="stable")
    return np.split(values[order], np.cumsum(np.bincount(ids, minlength=n_ids))[:-1])
