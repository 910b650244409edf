"""OPRL / iStar's implicit process reward model, trained online (Liu et al., arXiv 2509.19199).

The PRM ``π_φ`` is a copy of the policy taken on the first iteration (after the warm start). On
every iteration, before the policy update:

1. ``log π_old`` of every turn's response under the current policy (the pre-update snapshot);
2. ``prm_steps`` DPO steps on ``π_φ`` (Eq. 2): for every pair of episodes of one task group whose
   outcomes differ, better ``τ⁺`` and worse ``τ⁻``,
   ``−log σ(β·[log π_φ/π_old](τ⁺) − β·[log π_φ/π_old](τ⁻))``, where a trajectory's log-ratio is
   the sum over its turns' response tokens; the loss is averaged over the batch's pairs (an
   iteration without such a pair does not train the PRM);
3. the implicit step reward's log-ratio per turn, ``Σ_tokens log π_φ(a_t) − log π_old(a_t)``,
   goes to ``credit.oprl`` as ``log_ratio`` (which multiplies by β, Eq. 1, and adds the
   normalized step term to the episode advantage, Eqs. 3–5).

The DPO gradient is taken through the per-turn log-probabilities (``dL/dlog π_φ(turn)`` is that
of its trajectory's log-ratio), so the PRM trains in micro-batches of turns like the policy.
β is the method's ``beta``. The PRM's optimizer is AdamW with ``prm_lr`` (default: the policy's
``algo.optim.lr``) and the policy's gradient clipping. Its trainable weights and optimizer are
checkpointed.
"""

from __future__ import annotations

import copy
from typing import Any, ClassVar

import numpy as np
import torch

from agentgym import credit
from agentgym.trainers.config import TrainConfig
from agentgym.trainers.credit_inputs import CreditContext, Provider, register_inputs
from agentgym.trainers.credit_models.features import (
    TurnRows,
    backward_logprobs,
    response_logprobs,
    turn_rows,
)


def preference_pairs(batch: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per dense episode: group and outcome, and the ``(better, worse)`` pairs of each group.

    Returns:
        ``(episode_of_row, better, worse)``: the dense episode index of every row, and two
        ``(P,)`` arrays of dense episode indices with ``outcome[better] > outcome[worse]`` in
        the same task group.
    """
    _, first, dense = np.unique(batch.episode, return_index=True, return_inverse=True)
    group, outcome = batch.group[first], batch.outcome[first]
    same = group[:, None] == group[None, :]
    better = outcome[:, None] > outcome[None, :]
    i, j = np.nonzero(same & better)
    return dense, i, j


def dpo_loss_gradient(
    log_ratio: np.ndarray, better: np.ndarray, worse: np.ndarray, beta: float
) -> tuple[float, np.ndarray]:
    """Mean DPO loss over pairs and its gradient w.r.t. each trajectory's log-ratio.

    Args:
        log_ratio: ``(E,)`` ``Σ log π_φ − log π_old`` per trajectory.
        better, worse: ``(P,)`` pair indices.
        beta: β.

    Returns:
        ``(loss, d loss / d log_ratio)`` (``(E,)``).
    """
    z = torch.tensor(log_ratio, dtype=torch.float64, requires_grad=True)
    margin = beta * (z[torch.as_tensor(better)] - z[torch.as_tensor(worse)])
    loss = -torch.nn.functional.logsigmoid(margin).mean()
    loss.backward()
    assert z.grad is not None
    return float(loss.detach()), z.grad.numpy().copy()


@register_inputs("oprl")
class ImplicitPRM(Provider):
    """Supplies ``log_ratio`` (per turn) to ``oprl`` from an online implicit PRM."""

    provides = ("log_ratio",)
    options: ClassVar[dict[str, Any]] = {"prm_lr": None, "prm_steps": 1}

    def __init__(self, cfg: TrainConfig, params: dict[str, Any]) -> None:
        super().__init__(cfg, params, credit.get("oprl"))
        lr = self.option("prm_lr", float, minimum=0.0, nullable=True)
        self.lr = float(cfg.algo.optim.lr if lr is None else lr)
        self.steps = self.option("prm_steps", int, minimum=0)
        self.max_grad_norm = float(cfg.algo.optim.max_grad_norm)
        self.beta = float(self.setting("beta"))
        self.prm: torch.nn.Module | None = None
        self.optimizer: torch.optim.Optimizer | None = None
        self.updates = 0
        self.last_loss = float("nan")
        self._pending: dict[str, Any] | None = None

    def _trainable(self) -> list[tuple[str, torch.nn.Parameter]]:
        assert self.prm is not None
        return [(n, p) for n, p in self.prm.named_parameters() if p.requires_grad]

    def _ensure(self, policy: torch.nn.Module) -> torch.nn.Module:
        """Copy the policy into the PRM once; apply a pending (resumed) state."""
        if self.prm is None:
            self.prm = copy.deepcopy(policy)
            self.prm.eval()
            self.optimizer = torch.optim.AdamW([p for _, p in self._trainable()], lr=self.lr,
                                               betas=tuple(self.cfg.algo.optim.betas),
                                               weight_decay=self.cfg.algo.optim.weight_decay)
            if self._pending is not None:
                self._apply(self._pending)
                self._pending = None
        return self.prm

    def _dpo_step(self, rows: TurnRows, old: np.ndarray, ctx: CreditContext) -> float:
        """One DPO step of the PRM on the batch's preference pairs (NaN: no pair, no step)."""
        dense, better, worse = preference_pairs(ctx.batch)
        if len(better) == 0:
            return float("nan")
        assert self.prm is not None and self.optimizer is not None
        current = response_logprobs(self.prm, rows, ctx.update)
        per_episode = np.bincount(dense, weights=current - old, minlength=int(dense.max()) + 1)
        loss, grad = dpo_loss_gradient(per_episode, better, worse, self.beta)
        self.optimizer.zero_grad(set_to_none=True)
        backward_logprobs(self.prm, rows, grad[dense], ctx.update)
        params = [p for _, p in self._trainable()]
        if self.max_grad_norm > 0:
            torch.nn.utils.clip_grad_norm_(params, self.max_grad_norm)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.prm.eval()
        self.updates += 1
        return loss

    def __call__(self, ctx: CreditContext) -> dict[str, Any]:
        prm = self._ensure(ctx.model)
        rows = turn_rows(ctx.episodes)
        old = response_logprobs(ctx.model, rows, ctx.update)
        for _ in range(self.steps):
            self.last_loss = self._dpo_step(rows, old, ctx)
        return {"log_ratio": response_logprobs(prm, rows, ctx.update) - old}

    def state_dict(self) -> dict[str, Any]:
        if self.prm is None:
            return dict(self._pending or {})
        assert self.optimizer is not None
        return {"params": {n: p.detach().cpu().clone() for n, p in self._trainable()},
                "optimizer": self.optimizer.state_dict(), "updates": self.updates}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if not state:
            return
        if self.prm is None:
            self._pending = dict(state)
        else:
            self._apply(state)

    def _apply(self, state: dict[str, Any]) -> None:
        assert self.optimizer is not None
        named = dict(self._trainable())
        with torch.no_grad():
            for name, value in state["params"].items():
                named[name].copy_(value)
        self.optimizer.load_state_dict(state["optimizer"])
        self.updates = int(state.get("updates", 0))
