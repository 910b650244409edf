"""HiPER's critic and segments, built inside the recipe (Peng et al., arXiv 2602.16165).

HiPER's estimator needs per turn a low-level value ``V_low``, a high-level value ``V_high`` and
the switch decision that starts a new subgoal segment. The simplest faithful trainable version:

* **critic**: two value heads (``V_low``, ``V_high``; a linear layer, or one ReLU layer of
  ``critic_hidden`` units) on the policy's last hidden state at the turn's last *prompt* token —
  the state the turn acts in. Upstream reads its value heads off the shared LM; here the heads
  sit on the policy's detached hidden states, so the critic loss does not move the policy.
* **targets**: the value targets :func:`agentgym.credit.hiper_parts` computes with the current
  values (``returns_low = A_low + V_low`` on every turn, ``returns_high = A_high + V_high`` on
  segment starts), with the method's ``gamma``, ``lam_turn``, ``lam_seg`` and
  ``bootstrap_truncated``. After the values are read (they give this iteration's advantages),
  the heads take ``critic_epochs`` full-batch Adam steps on the mean squared error to those
  targets, as a PPO critic is fitted after its advantages are computed.
* **segments**: a turn whose response holds a ``<switch>…</switch>`` tag (``switch_tag``) starts
  a new segment when the tag says ``switch`` (or ``true``/``yes``/``1``) and continues the
  current one on ``keep`` (or ``false``/``no``/``0``); a turn without the tag starts its own
  segment, so with a plain action format every turn is a segment and the high level is a
  one-step SMDP over turns. Turn 0 always starts one.

The heads and their optimizer are checkpointed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from agentgym import credit
from agentgym.core.trajectory import Episode
from agentgym.trainers.config import TrainConfig
from agentgym.trainers.credit_inputs import CreditContext, Provider, register_inputs
from agentgym.trainers.credit_models.features import hidden_states, turn_rows
from agentgym.trainers.credit_models.heads import FeatureHead

_SWITCH_WORDS = {"switch": True, "true": True, "yes": True, "1": True,
                 "keep": False, "false": False, "no": False, "0": False}


def switch_decisions(episodes: Sequence[Episode], tag: str = "switch") -> np.ndarray:
    """``(N,)`` bool per turn (rows in ``StepBatch.from_episodes`` order): the turn starts a
    segment (see the module doc: the ``<tag>`` value, True without a tag or an unknown word)."""
    pattern = re.compile(rf"<{re.escape(tag)}>\s*(\w+)\s*</{re.escape(tag)}>", re.IGNORECASE)
    out: list[bool] = []
    for episode in episodes:
        for turn in episode.turns:
            match = pattern.search(turn.response_text or turn.action or "")
            out.append(True if match is None else _SWITCH_WORDS.get(match.group(1).lower(), True))
    return np.asarray(out, dtype=bool)


@register_inputs("hiper")
class HiPERCritic(Provider):
    """Supplies ``v_low``, ``v_high`` and ``switch`` to ``hiper``."""

    provides = ("v_low", "v_high", "switch")
    options: ClassVar[dict[str, Any]] = {
        "critic_hidden": 0,
        "critic_lr": 0.01,
        "critic_epochs": 100,
        "switch_tag": "switch",
    }

    def __init__(self, cfg: TrainConfig, params: dict[str, Any]) -> None:
        super().__init__(cfg, params, credit.get("hiper"))
        self.epochs = self.option("critic_epochs", int, minimum=0)
        self.tag = self.option("switch_tag", str)
        self.head = FeatureHead(2, hidden=self.option("critic_hidden", int, minimum=0),
                                lr=self.option("critic_lr", float, minimum=0.0),
                                seed=cfg.trainer.seed)
        self.last_loss = float("nan")

    def __call__(self, ctx: CreditContext) -> dict[str, Any]:
        batch = ctx.batch
        features = hidden_states(ctx.model, turn_rows(ctx.episodes), ctx.update, at="prompt")
        values = self.head.predict(features)
        v_low, v_high = values[:, 0].copy(), values[:, 1].copy()
        switch = switch_decisions(ctx.episodes, self.tag)
        parts = credit.hiper_parts(
            batch, v_low=v_low, v_high=v_high, switch=switch,
            **{k: self.setting(k) for k in ("gamma", "lam_turn", "lam_seg",
                                            "bootstrap_truncated")})
        targets = np.stack([parts.returns_low, parts.returns_high], axis=1)
        mask = np.stack([np.ones(len(batch), bool), parts.segment_start], axis=1)
        if self.epochs:
            self.last_loss = self.head.fit(features, targets, mask, epochs=self.epochs)
        return {"v_low": v_low, "v_high": v_high, "switch": switch}

    def state_dict(self) -> dict[str, Any]:
        return {"head": self.head.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.head.load_state_dict(state.get("head", {}))
