"""The models and callables credit methods need beyond the batch, built inside the recipe.

One module per provider (registered with :func:`agentgym.trainers.credit_inputs.register_inputs`
when this package is imported): :mod:`.spa` (SPA's progress estimator), :mod:`.progrm` (ProgRM's
progress model), :mod:`.oprl` (OPRL's implicit PRM), :mod:`.arena` (ArenaRL's judges),
:mod:`.hiper` (HiPER's critic and segments), :mod:`.igpo` (IGPO's beliefs), :mod:`.rae`
(SPIRAL's role baselines) and :mod:`.sweet` (SWEET-RL's critic). Shared pieces: :mod:`.features`
(per-turn hidden states and log-probabilities of a model, by teacher forcing) and :mod:`.heads`
(small checkpointed heads on those features).
"""

from agentgym.trainers.credit_models import arena, hiper, igpo, oprl, progrm, rae, spa, sweet

__all__ = ["arena", "hiper", "igpo", "oprl", "progrm", "rae", "spa", "sweet"]
