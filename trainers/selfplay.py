"""Training in multi-agent (PettingZoo) environments: who sits in the other seats.

The learner is the trainer's engine. Each rollout splits its tasks over the opponent pool
(``trainer.opponents``), round-robin by task:

* ``self`` — the learner in every seat (self-play, as SPIRAL); every seat's turns are training
  data, each seat its own episode with its ``role``;
* ``snapshot`` — the learner against a frozen copy of itself taken every
  ``trainer.snapshot_every`` iterations (the first snapshot is the warm start);
* ``random`` / ``expert`` — the learner against the uniform policy or the environment's expert.

The learner's seats are the environment's ``possible_agents`` except those its
``default_policies()`` fill (Collab's scripted collaborator keeps its seat, so the learner is
always the coder there).

Against an opponent the learner takes each seat in turn (task ``j`` puts it in seat
``j mod n_seats``), and only its own seat's episodes are kept for the update. Held-out evaluation
always plays the learner against ``trainer.eval_opponent`` in every seat in turn; its success rate
is the learner's win rate.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any

from agentgym.core.policies import ExpertPolicy, RandomPolicy
from agentgym.core.registration import make
from agentgym.core.trajectory import Episode
from agentgym.trainers.config import OPPONENT_KINDS, EnvConfig


def seats(env: EnvConfig) -> list[str]:
    """The learner's seats of ``env``: its PettingZoo ``possible_agents`` without the seats the
    environment's ``default_policies()`` fill (all of them when it has none)."""
    game = make(env.id, **dict(env.kwargs))
    try:
        defaults_fn = getattr(getattr(game, "unwrapped", game), "default_policies", None)
        defaults = set(defaults_fn()) if callable(defaults_fn) else set()
        return [a for a in game.possible_agents if a not in defaults]
    finally:
        game.close()


def fixed_opponent(kind: str, seed: int) -> Any:
    """The policy of a fixed opponent kind (``random`` or ``expert``)."""
    if kind == "random":
        return RandomPolicy(seed)
    if kind == "expert":
        return ExpertPolicy()
    raise ValueError(f"{kind!r} is not a fixed opponent; use random or expert")


def play_against(
    run_episodes: Callable[..., list[Episode]],
    env: EnvConfig,
    learner: Any,
    opponent: Any | None,
    seeds: Sequence[int],
    seat_names: Sequence[str],
    **kwargs: Any,
) -> list[Episode]:
    """The learner's episodes of ``seeds`` against ``opponent`` (None = self-play).

    With an opponent, task ``j`` seats the learner in ``seat_names[j % n]`` and the opponent in
    the others; only the learner's episodes are returned. ``kwargs`` go to ``run_episodes``.
    """
    if opponent is None:  # the learner in each of its seats; the environment fills the rest
        episodes = run_episodes(env, dict.fromkeys(seat_names, learner), list(seeds), **kwargs)
        return [e for e in episodes if e.info.get("seat") in seat_names]
    out: list[Episode] = []
    for k, seat in enumerate(seat_names):
        mine = [s for j, s in enumerate(seeds) if j % len(seat_names) == k]
        if not mine:
            continue
        policies = {name: (learner if name == seat else opponent) for name in seat_names}
        episodes = run_episodes(env, policies, mine, **kwargs)
        out += [e for e in episodes if e.info.get("seat") == seat]
    return out


class OpponentPool:
    """The opponents of a multi-agent training run.

    Args:
        kinds: entries of :data:`OPPONENT_KINDS` (a kind may repeat to weigh it).
        snapshot_every: iterations between snapshots of the learner (``snapshot`` kind).
        make_engine: builds a sampling engine around a model (for snapshots).
        seed: seed of the random opponent.
    """

    def __init__(
        self,
        kinds: Sequence[str],
        snapshot_every: int,
        make_engine: Callable[[Any], Any],
        seed: int = 0,
    ) -> None:
        unknown = [k for k in kinds if k not in OPPONENT_KINDS]
        if unknown or not kinds:
            raise ValueError(f"trainer.opponents: {unknown or 'empty'}; choose from "
                             f"{', '.join(OPPONENT_KINDS)}")
        self.kinds = list(kinds)
        self.snapshot_every = max(1, snapshot_every)
        self._make_engine = make_engine
        self._seed = seed
        self._snapshot: Any = None
        self.snapshot_iteration = -1

    def update_snapshot(self, model: Any, iteration: int) -> None:
        """Take a frozen copy of ``model`` if none exists or one is due at ``iteration``."""
        if "snapshot" not in self.kinds:
            return
        if self._snapshot is None or iteration - self.snapshot_iteration >= self.snapshot_every:
            self._freeze_into_snapshot(copy.deepcopy(model), iteration)

    def state_dict(self) -> dict[str, Any]:
        """The snapshot's weights and iteration (checkpointed, so a resumed run plays the same
        opponent)."""
        if self._snapshot is None:
            return {"iteration": -1, "weights": None}
        weights = {k: v.clone() for k, v in self._snapshot.model.state_dict().items()}
        return {"iteration": self.snapshot_iteration, "weights": weights}

    def load_state_dict(self, state: dict[str, Any], model: Any) -> None:
        """Restore a snapshot saved by :meth:`state_dict` (``model`` gives the architecture)."""
        if state.get("weights") is None:
            return
        frozen = copy.deepcopy(model)
        frozen.load_state_dict(state["weights"])
        self._freeze_into_snapshot(frozen, int(state["iteration"]))

    def _freeze_into_snapshot(self, frozen: Any, iteration: int) -> None:
        frozen.eval()
        for parameter in frozen.parameters():
            parameter.requires_grad_(False)
        self._snapshot = self._make_engine(frozen)
        self.snapshot_iteration = iteration

    def split(self, seeds: Sequence[int]) -> list[tuple[str, Any, list[int]]]:
        """``(kind, opponent policy or None for self-play, seeds)`` per pool entry, the seeds
        dealt round-robin; entries without seeds are left out."""
        out = []
        for k, kind in enumerate(self.kinds):
            mine = [s for j, s in enumerate(seeds) if j % len(self.kinds) == k]
            if not mine:
                continue
            if kind == "self":
                opponent = None
            elif kind == "snapshot":
                opponent = self._snapshot
            else:
                opponent = fixed_opponent(kind, self._seed + k)
            out.append((kind, opponent, mine))
        return out
