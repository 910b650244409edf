"""SPA-RL: stepwise progress attribution (Wang et al., arXiv 2505.20732).

Reference code: WangHanLinHenry/SPA-RL-Agent.

A progress estimator predicts a contribution ``c_t`` for every turn, trained so that an episode's
contributions sum to its outcome: ``loss = MSE(Σ_t c_t, R)``. The step reward adds a grounding
signal ``g_t`` (the action took effect): ``r_t = c_t + g_t``.

The reference estimator is a linear head on the agent LM's last-token logits; here the head is a
small torch module over any per-turn features — embeddings passed in, or a hashed bag of words
of the turn's observation and action text (:func:`hashed_features`). torch is imported only when
an estimator is built, so ``import agentgym.credit`` does not need it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from agentgym.core.trajectory import StepBatch, stable_hash
from agentgym.credit.common import as_row_array, index_batch
from agentgym.credit.registry import register_transform

_WORD = re.compile(r"\w+")


def hashed_features(texts: Sequence[str], dim: int = 512) -> np.ndarray:
    """``(n, dim)`` float32 hashed bag of words: ``log1p(count)`` of each word's bucket."""
    out = np.zeros((len(texts), dim), dtype=np.float32)
    for i, text in enumerate(texts):
        for word in _WORD.findall(text.lower()):
            out[i, stable_hash(word) % dim] += 1.0
    return np.log1p(out)


def turn_texts(batch: StepBatch, fields: Sequence[str] = ("observation", "action")) -> list[str]:
    """Per-row text of the source turns (``batch.episodes`` required), fields joined by newlines."""
    if batch.episodes is None:
        raise ValueError("spa: the batch has no source episodes; pass features= or texts")
    out = []
    for e, t in zip(batch.episode.tolist(), batch.t.tolist(), strict=True):
        turn = batch.episodes[e].turns[t]
        out.append("\n".join(str(getattr(turn, f)) for f in fields))
    return out


def spa_loss(contributions: np.ndarray, episode: np.ndarray, outcome: np.ndarray) -> float:
    """Estimator loss ``mean_episodes (Σ_t c_t − R)²`` (numpy; ``outcome`` per row, constant)."""
    contributions = np.asarray(contributions, dtype=np.float64)
    _, ep = np.unique(np.asarray(episode), return_inverse=True)
    sums = np.bincount(ep, weights=contributions)
    target = np.zeros_like(sums)
    target[ep] = np.asarray(outcome, dtype=np.float64)
    return float(np.mean((sums - target) ** 2))


class ProgressEstimator:
    """SPA progress estimator: a torch head mapping turn features to contributions ``c_t``.

    Args:
        n_features: feature dimension ``d``.
        hidden: 0 for a linear head (as the reference), else the width of one ReLU layer.
        lr: Adam learning rate.
        epochs: full-batch training steps.
        weight_decay: Adam weight decay.
        seed: torch seed for the initial weights.
    """

    def __init__(
        self,
        n_features: int,
        *,
        hidden: int = 0,
        lr: float = 0.05,
        epochs: int = 300,
        weight_decay: float = 0.0,
        seed: int = 0,
    ) -> None:
        import torch
        from torch import nn

        torch.manual_seed(seed)
        self.n_features = n_features
        self.lr, self.epochs, self.weight_decay = lr, epochs, weight_decay
        if hidden:
            self.module: Any = nn.Sequential(
                nn.Linear(n_features, hidden), nn.ReLU(), nn.Linear(hidden, 1)
            )
        else:
            self.module = nn.Linear(n_features, 1)
        self.history: list[float] = []

    def _check(self, features: np.ndarray) -> np.ndarray:
        features = np.asarray(features, dtype=np.float32)
        if features.ndim != 2 or features.shape[1] != self.n_features:
            raise ValueError(
                f"spa: features have shape {features.shape}; expected (n, {self.n_features})"
            )
        return features

    def fit(
        self, features: np.ndarray, episode: np.ndarray, outcome: np.ndarray
    ) -> ProgressEstimator:
        """Train on turns: ``features (N, d)``, ``episode (N,)`` labels, ``outcome (N,)``.

        Minimizes ``mean_episodes (Σ_t c_t − R)²``; the loss per step goes to ``history``.
        """
        import torch

        features = self._check(features)
        outcome = as_row_array(outcome, len(features), "spa outcome")
        _, ep = np.unique(np.asarray(episode), return_inverse=True)
        n_ep = int(ep.max()) + 1
        target = np.zeros(n_ep)
        target[ep] = outcome
        x = torch.from_numpy(features)
        ep_t = torch.from_numpy(ep.astype(np.int64))
        y = torch.from_numpy(target.astype(np.float32))
        optimizer = torch.optim.Adam(
            self.module.parameters(), lr=self.lr, weight_decay=self.weight_decay
        )
        self.module.train()
        for _ in range(self.epochs):
            optimizer.zero_grad()
            c = self.module(x).squeeze(-1)
            sums = torch.zeros(n_ep).index_add(0, ep_t, c)
            loss = torch.mean((sums - y) ** 2)
            loss.backward()
            optimizer.step()
            self.history.append(float(loss.detach()))
        return self

    def predict(self, features: np.ndarray) -> np.ndarray:
        """``(N,)`` contributions ``c_t`` of the turns with ``features (N, d)``."""
        import torch

        features = self._check(features)
        self.module.eval()
        with torch.no_grad():
            return self.module(torch.from_numpy(features)).squeeze(-1).double().numpy()

    def fit_batch(self, batch: StepBatch, features: np.ndarray | None = None) -> ProgressEstimator:
        """:meth:`fit` on a batch (hashed text features of its turns unless given)."""
        if features is None:
            features = hashed_features(turn_texts(batch), self.n_features)
        return self.fit(features, batch.episode, batch.outcome)

    def predict_batch(self, batch: StepBatch, features: np.ndarray | None = None) -> np.ndarray:
        """:meth:`predict` on a batch's turns."""
        if features is None:
            features = hashed_features(turn_texts(batch), self.n_features)
        return self.predict(features)


def grounding_signal(
    batch: StepBatch,
    *,
    next_observation: Sequence[str] | None = None,
    failure_text: str = "Nothing happens",
    weight: float = 0.5,
) -> np.ndarray:
    """``(N,)`` grounding ``g_t = weight`` unless the next observation contains ``failure_text``.

    The next observation of turn ``t`` is the observation of turn ``t+1`` (the environment's
    answer to action ``t``); an episode's last turn always gets ``weight`` (SPA ``rl_data_org``).

    Args:
        batch: ``N`` rows.
        next_observation: ``(N,)`` texts per row; default: read from ``batch.episodes``.
        failure_text: substring marking an action that had no effect.
        weight: the signal's value (0.5).
    """
    index = index_batch(batch, "spa")
    if next_observation is None:
        if batch.episodes is None:
            raise ValueError("spa: pass next_observation= or a batch with source episodes")
        observations = np.array(turn_texts(batch, ("observation",)), dtype=object)
        nxt = index.next_row()
        texts = np.where(nxt >= 0, observations[np.maximum(nxt, 0)], "")
    else:
        texts = np.asarray(list(next_observation), dtype=object)
        if texts.shape != (index.n_rows,):
            raise ValueError(f"spa: next_observation must have {index.n_rows} texts")
    failed = np.strings.find(texts.astype(str), failure_text) >= 0
    g = np.where(failed, 0.0, weight)
    g[index.ep_last] = weight
    return g


@register_transform("spa")
def spa(
    batch: StepBatch,
    *,
    contributions: np.ndarray | None = None,
    estimator: ProgressEstimator | None = None,
    features: np.ndarray | None = None,
    next_observation: Sequence[str] | None = None,
    failure_text: str = "Nothing happens",
    grounding_weight: float = 0.5,
    steptool_weighting: bool = False,
) -> np.ndarray:
    """SPA step rewards ``r_t = c_t + g_t`` (Wang et al. 2025, arXiv 2505.20732).

    Args:
        batch: ``N`` rows.
        contributions: ``(N,)`` ready ``c_t``; else predicted by ``estimator``.
        estimator: a fitted :class:`ProgressEstimator`.
        features: ``(N, d)`` estimator inputs (default: hashed turn texts).
        next_observation, failure_text, grounding_weight: see :func:`grounding_signal`
            (``grounding_weight=0`` drops the signal).
        steptool_weighting: multiply step ``k`` of ``K`` by ``K − k − 1`` as the released PPO
            trainer does (a quirk: the last step gets weight 0). Off by default.

    Returns:
        ``(N,)`` per-turn rewards.
    """
    index = index_batch(batch, "spa")
    if contributions is not None:
        c = as_row_array(contributions, index.n_rows, "spa contributions")
    elif estimator is not None:
        c = estimator.predict_batch(batch, features)
    else:
        raise ValueError("spa: pass contributions= or a fitted estimator=")
    reward = c.copy()
    if grounding_weight:
        reward += grounding_signal(
            batch, next_observation=next_observation, failure_text=failure_text,
            weight=grounding_weight,
        )
    if steptool_weighting:
        reward *= (index.ep_len[index.ep] - index.rank - 1).astype(np.float64)
    return reward
