"""SPA-RL's progress estimator, trained inside the recipe (Wang et al., arXiv 2505.20732).

Every iteration the estimator is fitted on the iteration's episodes with the paper's objective,
``mean_episodes (Σ_t c_t − R)²`` (its contributions must add up to each episode's outcome), and
then gives the contributions ``c_t`` of the same turns; the ``spa`` transform adds the grounding
signal (``r_t = c_t + g_t``) and any estimator runs on the result
(``agentgym train algo=grpo reward=spa``).

The estimator is :class:`agentgym.credit.ProgressEstimator`, a linear head (or one ReLU layer)
over per-turn features:

* ``estimator_features: hidden`` (default): the policy's last hidden state at the turn's last
  response token. The reference code puts ``nn.Linear(vocab, 1)`` on the LM's last-token logits;
  the logits are a linear map of this hidden state, so a linear head on the hidden state spans
  the same functions with ``d`` instead of ``|V|`` weights. The backbone is not trained by this
  loss (the reference fine-tunes it offline); the head follows the policy as it changes.
* ``estimator_features: text``: a hashed bag of words of the turn's observation and action
  (:func:`agentgym.credit.hashed_features`, ``estimator_dim`` buckets), independent of the
  policy.

The head's weights carry over from one iteration to the next and are checkpointed.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch

from agentgym import credit
from agentgym.credit.spa import turn_texts
from agentgym.trainers.config import TrainConfig
from agentgym.trainers.credit_inputs import CreditContext, Provider, register_inputs
from agentgym.trainers.credit_models.features import hidden_states, turn_rows


@register_inputs("spa")
class SPAProgress(Provider):
    """Supplies ``contributions`` (``c_t`` per row) to the ``spa`` transform."""

    provides = ("contributions",)
    options: ClassVar[dict[str, Any]] = {
        "estimator_features": "hidden",
        "estimator_dim": 512,
        "estimator_hidden": 0,
        "estimator_lr": 0.05,
        "estimator_epochs": 300,
        "estimator_weight_decay": 0.0,
    }

    def __init__(self, cfg: TrainConfig, params: dict[str, Any]) -> None:
        super().__init__(cfg, params, credit.get_transform("spa"))
        self.features = self.option("estimator_features", str, choices=("hidden", "text"))
        self.dim = self.option("estimator_dim", int, minimum=1)
        self.hidden = self.option("estimator_hidden", int, minimum=0)
        self.lr = self.option("estimator_lr", float, minimum=0.0)
        self.epochs = self.option("estimator_epochs", int, minimum=1)
        self.weight_decay = self.option("estimator_weight_decay", float, minimum=0.0)
        self.seed = cfg.trainer.seed
        self.estimator: credit.ProgressEstimator | None = None
        self.fits = 0
        self.last_loss = float("nan")
        self._last: dict[str, float] = {}
        self._pending: dict[str, Any] | None = None

    def _features(self, ctx: CreditContext) -> np.ndarray:
        if self.features == "text":
            return credit.hashed_features(turn_texts(ctx.batch), self.dim)
        return hidden_states(ctx.model, turn_rows(ctx.episodes), ctx.update, at="response")

    def _ensure(self, width: int) -> credit.ProgressEstimator:
        if self.estimator is None:
            with torch.random.fork_rng(devices=[]):  # its seed must not move the run's stream
                self.estimator = credit.ProgressEstimator(
                    width, hidden=self.hidden, lr=self.lr, epochs=self.epochs,
                    weight_decay=self.weight_decay, seed=self.seed)
            if self._pending is not None:
                self.estimator.module.load_state_dict(self._pending["module"])
                self.fits = int(self._pending.get("fits", 0))
                self._pending = None
        return self.estimator

    def __call__(self, ctx: CreditContext) -> dict[str, Any]:
        features = self._features(ctx)
        estimator = self._ensure(features.shape[1])
        episode, outcome = ctx.batch.episode, ctx.batch.outcome
        # the head fitted on earlier iterations, scored on episodes it has not seen yet
        unseen = ({"heldout_loss": credit.spa_loss(estimator.predict(features), episode, outcome)}
                  if self.fits else {})
        estimator.fit(features, episode, outcome)
        estimator.history.clear()
        self.fits += 1
        contributions = estimator.predict(features)
        self.last_loss = credit.spa_loss(contributions, episode, outcome)
        _, first = np.unique(episode, return_index=True)
        self._last = {"outcome_var": float(np.var(outcome[first])),
                      "contribution_mean": float(contributions.mean()), **unseen}
        return {"contributions": contributions}

    def metrics(self) -> dict[str, float]:
        """``loss``: the fit's ``mean (Σ_t c_t − R)²`` on the iteration's episodes after
        fitting; ``heldout_loss``: the same loss of the head as it was before this fit (fitted
        on earlier iterations), on these episodes it had not seen (from the second fit on);
        ``outcome_var``: the variance of ``R`` over the episodes (a loss at or above it means
        the head explains nothing: predicting the mean outcome does as well);
        ``contribution_mean``: the mean ``c_t`` (dense rewards with a positive mean favour long
        episodes under return-based estimators)."""
        return {**super().metrics(), **self._last}

    def state_dict(self) -> dict[str, Any]:
        if self.estimator is None:
            return dict(self._pending or {})
        module = {k: v.clone() for k, v in self.estimator.module.state_dict().items()}
        return {"module": module, "fits": self.fits}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if not state:
            return
        if self.estimator is None:
            self._pending = dict(state)
        else:
            self.estimator.module.load_state_dict(state["module"])
            self.fits = int(state.get("fits", 0))
