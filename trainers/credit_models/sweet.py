"""SWEET-RL's critic, trained online inside the recipe (Zhou et al., arXiv 2503.15478, §4).

**Choice of critic.** The paper's critic is a language model of the actor's family whose
per-turn advantage is a log-likelihood ratio, ``A_φ(o_t, a_t, c) = β · mean_tokens
log[π_φ(a_t | c, o_t) / π_ref(a_t | c, o_t)]``, and §5 reports that this parameterization beats a
scalar value head on the same LM. It is also the cheapest faithful choice here: the policy's own
architecture and tokenizer (for ``model=tiny``, the local Qwen2 built from the environment's
text, so nothing is downloaded), so the critic reads exactly the tokens the policy saw. The
critic ``π_φ`` is a trainable copy of the policy taken on the first iteration (after the
behaviour-cloning warm start) and ``π_ref`` a frozen copy of the same weights; a head on frozen
features could not read the training-time information through the backbone.

**Training-time information.** The critic's prompt for a turn is the turn's own prompt (the exact
``prompt_ids`` the policy saw) after one system message holding the episode's training-time
fields (``critic_info``; default ``reference_solution``, ColBench's ``c``, also ``hidden_spec``
or ``hidden_tests`` in ``agentgym/Collab-v0``), cut to ``critic_info_tokens`` tokens. The fields
come from the episode's ``info`` (its reset info) or its first turn's ``info``; an environment
without them gives the critic the plain prompt. The policy never sees them.

**Each iteration**, before the policy update:

1. ``log π_ref`` (mean over each turn's response tokens, temperature 1) of every turn;
2. ``critic_steps`` AdamW steps on the Bradley–Terry loss of
   :func:`agentgym.credit.bradley_terry` (pairs: episodes of one task group with different
   outcomes; no pair, no step), back-propagated through each turn's mean log-probability;
3. the per-turn ``A_φ`` after those steps goes to ``credit.sweet`` as ``turn_advantages``.

The critic's trainable weights, its optimizer and the reference's weights are checkpointed, so a
resumed run continues with the same critic and the same ``π_ref``.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import torch

from agentgym import credit
from agentgym.core.trajectory import Episode, StepBatch
from agentgym.trainers.config import TrainConfig
from agentgym.trainers.credit_inputs import CreditContext, Provider, register_inputs
from agentgym.trainers.credit_models.features import (
    TurnRows,
    backward_logprobs,
    response_logprobs,
    turn_rows,
)

INFO_HEADER = "Training-time information (never shown to the agent):\n"


def info_text(episode: Episode, keys: Sequence[str]) -> str:
    """The training-time fields ``keys`` of ``episode`` as ``key: value`` lines (may be empty)."""
    sources: list[Mapping[str, Any]] = [episode.info]
    if episode.turns:
        sources.append(episode.turns[0].info)
    lines = []
    for key in keys:
        value = next((s[key] for s in sources if s.get(key) not in (None, "")), None)
        if value is not None:
            lines.append(f"{key}:\n{value}")
    return "\n".join(lines)


def critic_rows(
    episodes: Sequence[Episode], tokenizer: Any, keys: Sequence[str], max_tokens: int
) -> TurnRows:
    """:func:`turn_rows` of ``episodes`` with each prompt preceded by the episode's training-time
    information as a ChatML system message (``max_tokens`` tokens of it at most)."""
    rows = turn_rows(episodes)
    head = tokenizer.encode("<|im_start|>system\n" + INFO_HEADER, add_special_tokens=False)
    tail = tokenizer.encode("<|im_end|>\n", add_special_tokens=False)
    prefixes: list[list[int]] = []
    for episode in episodes:
        text = info_text(episode, keys)
        body = tokenizer.encode(text, add_special_tokens=False)[:max_tokens] if text else []
        prefix = [*head, *body, *tail] if body else []
        prefixes += [prefix] * sum(1 for t in episode.turns if t.prompt_ids and t.response_ids)
    prompts = [[*p, *q] for p, q in zip(prefixes, rows.prompts, strict=True)]
    return TurnRows(prompts, rows.responses, rows.rows, rows.n_rows)


class SweetCritic:
    """The LM critic ``A_φ = β · (mean log π_φ − mean log π_ref)`` and its Bradley–Terry fit.

    Args:
        policy: the model to copy (the critic and the reference start from its weights).
        beta: β.
        lr: AdamW learning rate of the critic.
        betas, weight_decay: AdamW settings.
        max_grad_norm: gradient clipping (0: none).
    """

    def __init__(self, policy: torch.nn.Module, *, beta: float, lr: float,
                 betas: Sequence[float] = (0.9, 0.999), weight_decay: float = 0.0,
                 max_grad_norm: float = 1.0) -> None:
        self.beta, self.max_grad_norm = float(beta), float(max_grad_norm)
        self.model = copy.deepcopy(policy)
        self.model.eval()
        self.reference = copy.deepcopy(policy)
        self.reference.eval()
        for parameter in self.reference.parameters():
            parameter.requires_grad_(False)
        self.optimizer = torch.optim.AdamW([p for _, p in self.trainable()], lr=lr,
                                           betas=tuple(betas), weight_decay=weight_decay)
        self.updates = 0

    def trainable(self) -> list[tuple[str, torch.nn.Parameter]]:
        """The critic's trainable ``(name, parameter)`` pairs (LoRA only, for a LoRA policy)."""
        return [(n, p) for n, p in self.model.named_parameters() if p.requires_grad]

    def reference_logprobs(self, rows: TurnRows, ctx: Any) -> np.ndarray:
        """``(n_rows,)`` mean token log-probability of each turn's response under ``π_ref``."""
        return response_logprobs(self.reference, rows, ctx, mean=True)

    def advantages(self, rows: TurnRows, ctx: Any, reference: np.ndarray) -> np.ndarray:
        """``(n_rows,)`` ``A_φ`` of every turn (0 for turns without token ids)."""
        return self.beta * (response_logprobs(self.model, rows, ctx, mean=True) - reference)

    def step(self, batch: StepBatch, rows: TurnRows, ctx: Any, reference: np.ndarray) -> float:
        """One AdamW step on the Bradley–Terry loss; returns the loss before it (NaN and no step
        when the batch has no pair of different outcomes)."""
        objective = credit.bradley_terry(batch, self.advantages(rows, ctx, reference))
        if len(objective.better) == 0:
            return float("nan")
        lengths = np.ones(rows.n_rows)
        lengths[rows.rows] = [max(1, len(r)) for r in rows.responses]
        # ∂L/∂θ = Σ_rows ∂L/∂A_row · β · ∂ mean log π_φ / ∂θ, and the mean is the sum / length
        coefficients = objective.grad * self.beta / lengths
        self.optimizer.zero_grad(set_to_none=True)
        backward_logprobs(self.model, rows, coefficients, ctx)
        params = [p for _, p in self.trainable()]
        if self.max_grad_norm > 0:
            torch.nn.utils.clip_grad_norm_(params, self.max_grad_norm)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.model.eval()
        self.updates += 1
        return objective.loss

    def state_dict(self) -> dict[str, Any]:
        """Trainable weights of the critic and the reference, the optimizer, the step count."""
        names = [n for n, _ in self.trainable()]
        reference = dict(self.reference.named_parameters())
        return {"params": {n: p.detach().cpu().clone() for n, p in self.trainable()},
                "reference": {n: reference[n].detach().cpu().clone() for n in names},
                "optimizer": self.optimizer.state_dict(), "updates": self.updates}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        critic, reference = dict(self.trainable()), dict(self.reference.named_parameters())
        with torch.no_grad():
            for name, value in state["params"].items():
                critic[name].copy_(value)
            for name, value in state.get("reference", {}).items():
                reference[name].copy_(value)
        self.optimizer.load_state_dict(state["optimizer"])
        self.updates = int(state.get("updates", 0))


@register_inputs("sweet")
class SweetInputs(Provider):
    """Supplies ``turn_advantages`` (``A_φ`` per row) to ``sweet`` from the online critic."""

    provides = ("turn_advantages",)
    options: ClassVar[dict[str, Any]] = {
        "critic_beta": 0.1,
        "critic_lr": None,
        "critic_steps": 2,
        "critic_info": ["reference_solution"],
        "critic_info_tokens": 384,
    }

    def __init__(self, cfg: TrainConfig, params: dict[str, Any]) -> None:
        super().__init__(cfg, params, credit.get("sweet"))
        lr = self.option("critic_lr", float, minimum=0.0, nullable=True)
        self.lr = float(cfg.algo.optim.lr if lr is None else lr)
        self.beta = self.option("critic_beta", float, minimum=0.0)
        self.steps = self.option("critic_steps", int, minimum=0)
        keys = self.option("critic_info", (list, tuple, str))
        self.keys = [keys] if isinstance(keys, str) else [str(k) for k in keys]
        self.max_tokens = self.option("critic_info_tokens", int, minimum=0)
        self.critic: SweetCritic | None = None
        self.last_loss = float("nan")
        self._pending: dict[str, Any] | None = None

    def _ensure(self, policy: torch.nn.Module) -> SweetCritic:
        if self.critic is None:
            optim = self.cfg.algo.optim
            self.critic = SweetCritic(policy, beta=self.beta, lr=self.lr, betas=optim.betas,
                                      weight_decay=optim.weight_decay,
                                      max_grad_norm=optim.max_grad_norm)
            if self._pending is not None:
                self.critic.load_state_dict(self._pending)
                self._pending = None
        return self.critic

    def __call__(self, ctx: CreditContext) -> dict[str, Any]:
        critic = self._ensure(ctx.model)
        update = dataclasses.replace(ctx.update, temperature=1.0)  # the critic's own softmax
        rows = critic_rows(ctx.episodes, ctx.tokenizer, self.keys, self.max_tokens)
        reference = critic.reference_logprobs(rows, update)
        for _ in range(self.steps):
            self.last_loss = critic.step(ctx.batch, rows, update, reference)
        return {"turn_advantages": critic.advantages(rows, update, reference)}

    def state_dict(self) -> dict[str, Any]:
        if self.critic is None:
            return dict(self._pending or {})
        return self.critic.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if not state:
            return
        if self.critic is None:
            self._pending = dict(state)
        else:
            self.critic.load_state_dict(state)
