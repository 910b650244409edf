"""Small heads on per-turn features, trained inside the recipe and checkpointed with it.

A :class:`FeatureHead` maps features ``(N, d)`` (the policy's hidden states, see
:mod:`.features`) to ``k`` outputs with a linear layer or one ReLU layer. It is built on first
use, when ``d`` is known, with weights drawn from its own seed (the global torch random stream
is left untouched, so building it later on a resumed run changes nothing else), and keeps one
Adam optimizer across iterations. ``state_dict`` holds the weights and the optimizer; a state
loaded before the head is built (a resume) is applied when it is.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn


class FeatureHead:
    """A ``d → k`` regressor on turn features.

    Args:
        outputs: ``k``.
        hidden: 0 for a linear head, else the width of one ReLU layer.
        lr: Adam learning rate.
        seed: seed of the initial weights.
    """

    def __init__(self, outputs: int, *, hidden: int = 0, lr: float = 1e-2, seed: int = 0) -> None:
        self.outputs, self.hidden, self.lr, self.seed = outputs, hidden, lr, seed
        self.module: nn.Module | None = None
        self.optimizer: torch.optim.Optimizer | None = None
        self.steps = 0
        self._pending: dict[str, Any] | None = None

    def ensure(self, width: int) -> FeatureHead:
        """Build the head for ``width`` input features (once) and apply a pending state."""
        if self.module is None:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(self.seed)
                if self.hidden:
                    self.module = nn.Sequential(nn.Linear(width, self.hidden), nn.ReLU(),
                                                nn.Linear(self.hidden, self.outputs))
                else:
                    self.module = nn.Linear(width, self.outputs)
            self.optimizer = torch.optim.Adam(self.module.parameters(), lr=self.lr)
            if self._pending is not None:
                self._apply(self._pending)
                self._pending = None
        return self

    def predict(self, features: np.ndarray) -> np.ndarray:
        """``(N, k)`` float64 outputs for ``features (N, d)``."""
        self.ensure(features.shape[1])
        assert self.module is not None
        with torch.no_grad():
            return self.module(torch.from_numpy(np.asarray(features, np.float32))).double().numpy()

    def fit(
        self,
        features: np.ndarray,
        targets: np.ndarray,
        mask: np.ndarray | None = None,
        *,
        epochs: int,
        loss: str = "mse",
    ) -> float:
        """Full-batch Adam steps on ``features (N, d)`` → ``targets (N, k)``.

        Args:
            mask: ``(N, k)`` which targets count (default all); NaN targets never count.
            epochs: optimizer steps.
            loss: ``"mse"`` or ``"bce"`` (binary cross-entropy on logits, targets in [0, 1]).

        Returns:
            The loss before the last step (NaN when no target counts: nothing is trained).
        """
        self.ensure(features.shape[1])
        assert self.module is not None and self.optimizer is not None
        y = np.asarray(targets, np.float64).reshape(len(features), self.outputs)
        keep = np.isfinite(y) if mask is None else (np.asarray(mask, bool).reshape(y.shape)
                                                    & np.isfinite(y))
        if not keep.any():
            return float("nan")
        x = torch.from_numpy(np.asarray(features, np.float32))
        target = torch.from_numpy(np.where(keep, y, 0.0).astype(np.float32))
        weight = torch.from_numpy(keep.astype(np.float32))
        count = weight.sum()
        value = float("nan")
        for _ in range(epochs):
            self.optimizer.zero_grad()
            out = self.module(x)
            if loss == "bce":
                each = nn.functional.binary_cross_entropy_with_logits(out, target, reduction="none")
            else:
                each = (out - target) ** 2
            total = (each * weight).sum() / count
            total.backward()
            self.optimizer.step()
            value = float(total.detach())
            self.steps += 1
        return value

    def state_dict(self) -> dict[str, Any]:
        """Weights and optimizer (empty before the head is built)."""
        if self.module is None:
            return dict(self._pending or {})
        assert self.optimizer is not None
        return {"module": {k: v.clone() for k, v in self.module.state_dict().items()},
                "optimizer": self.optimizer.state_dict(), "steps": self.steps}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` (kept until the head is built)."""
        if not state:
            return
        if self.module is None:
            self._pending = dict(state)
        else:
            self._apply(state)

    def _apply(self, state: dict[str, Any]) -> None:
        assert self.module is not None and self.optimizer is not None
        self.module.load_state_dict(state["module"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.steps = int(state.get("steps", 0))
