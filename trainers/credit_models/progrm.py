"""ProgRM's progress model, trained inside the recipe (Zhang et al., arXiv 2505.18121).

Labels come from recipe mining (:func:`agentgym.credit.progress_labels`): in every task group
with a successful episode, the longest common subsequence of the successful action sequences is
the recipe, and a turn's label is the share of the recipe done after it. A progress model — a
sigmoid head on the policy's last hidden state at the turn's last response token, fitted with
binary cross-entropy on the labelled turns (groups with a recipe) and kept across iterations —
then scores *every* turn, those of groups without a success included, and the ``progrm``
transform rewards the change ``p̂_t − p̂_{t−1}``. Until it has seen a labelled turn it predicts
no progress (0).

``progress_model: false`` keeps the label-only path: the transform uses the labels themselves
(groups without a success get 0).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from agentgym import credit
from agentgym.credit.common import index_batch
from agentgym.credit.progrm import recipes
from agentgym.trainers.config import TrainConfig
from agentgym.trainers.credit_inputs import CreditContext, Provider, register_inputs
from agentgym.trainers.credit_models.features import hidden_states, turn_rows
from agentgym.trainers.credit_models.heads import FeatureHead


def labelled_rows(batch: Any, success_threshold: float) -> np.ndarray:
    """``(N,)`` bool: the row's task group has a non-empty recipe (its label is meaningful)."""
    index = index_batch(batch, "progrm")
    success = index.ep_outcome > success_threshold
    groups = [g for g, recipe in recipes(batch, index, success).items() if len(recipe)]
    return np.isin(index.row_group, np.asarray(groups, dtype=np.int64))


@register_inputs("progrm")
class ProgressModel(Provider):
    """Supplies ``progress`` (``p̂_t`` per row, or None for the label-only path) to ``progrm``."""

    provides = ("progress",)
    options: ClassVar[dict[str, Any]] = {
        "progress_model": True,
        "model_hidden": 0,
        "model_lr": 0.01,
        "model_epochs": 100,
    }

    def __init__(self, cfg: TrainConfig, params: dict[str, Any]) -> None:
        super().__init__(cfg, params, credit.get_transform("progrm"))
        self.enabled = self.option("progress_model", bool)
        self.epochs = self.option("model_epochs", int, minimum=1)
        self.head = FeatureHead(1, hidden=self.option("model_hidden", int, minimum=0),
                                lr=self.option("model_lr", float, minimum=0.0),
                                seed=cfg.trainer.seed)
        self.last_loss = float("nan")

    def __call__(self, ctx: CreditContext) -> dict[str, Any]:
        if not self.enabled:
            return {"progress": None}
        batch = ctx.batch
        threshold = float(self.setting("success_threshold"))
        labels = credit.progress_labels(batch, success_threshold=threshold)
        labelled = labelled_rows(batch, threshold)
        features = hidden_states(ctx.model, turn_rows(ctx.episodes), ctx.update, at="response")
        self.head.ensure(features.shape[1])
        if labelled.any():
            self.last_loss = self.head.fit(features[labelled], labels[labelled, None],
                                           epochs=self.epochs, loss="bce")
        if self.head.steps == 0:
            return {"progress": np.zeros(len(batch))}
        logits = self.head.predict(features)[:, 0]
        return {"progress": 1.0 / (1.0 + np.exp(-logits))}

    def state_dict(self) -> dict[str, Any]:
        return {"head": self.head.state_dict()} if self.enabled else {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.head.load_state_dict(state.get("head", {}))
