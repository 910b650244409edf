"""SPIRAL's role baselines for ``rae`` (Liu et al., arXiv 2506.24119), kept across iterations.

``credit.rae`` subtracts, per game and role, an exponential moving average of that role's
returns, updated episode by episode; the averages must live from one iteration to the next (a
fresh baseline every iteration is 0 at the start of each batch). The provider holds one
:class:`agentgym.credit.RoleBaselines`, passes it to every call (the method updates it in place)
and checkpoints it.
"""

from __future__ import annotations

from typing import Any

from agentgym import credit
from agentgym.trainers.config import TrainConfig
from agentgym.trainers.credit_inputs import CreditContext, Provider, register_inputs


@register_inputs("rae")
class RoleBaselineInputs(Provider):
    """Supplies ``baselines`` (the running role baselines) to ``rae``."""

    provides = ("baselines",)

    def __init__(self, cfg: TrainConfig, params: dict[str, Any]) -> None:
        super().__init__(cfg, params, credit.get("rae"))
        self.baselines = credit.RoleBaselines()

    def __call__(self, ctx: CreditContext) -> dict[str, Any]:
        return {"baselines": self.baselines}

    def state_dict(self) -> dict[str, Any]:
        return self.baselines.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state:
            self.baselines.load_state_dict(state)
