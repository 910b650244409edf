"""Gymnasium's FrozenLake as a text game with word actions.

It wraps Gymnasium's class (``gymnasium.envs.toy_text.frozen_lake``) for the dynamics and
rewards and adds what an LLM agent needs: a plain-text board (Gymnasium's ``ansi`` rendering
embeds colour escape codes, so the board is drawn here), a sentence saying where things are,
word actions, named reward parts, ``state_key`` for anchor-state grouping and an optimal expert.

Conventions shared with :mod:`agentgym.envs.text.sokoban` and :mod:`agentgym.envs.text.taxi`:
rows and columns in sentences count from 1 at the top-left; an invalid action (anything but the
action words, e.g. empty text, 100 kB of junk, prompt injections) changes nothing, answers with
a message and the unchanged board, has ``action_valid=False`` and costs what a normal step
costs (here 0), so it is never cheaper than a real move. A step after the episode ended is
answered the same way with reward 0 and ``terminated=True``.
"""

from __future__ import annotations

import functools
import hashlib
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from gymnasium.envs.toy_text.frozen_lake import FrozenLakeEnv as _GymFrozenLake
from gymnasium.envs.toy_text.frozen_lake import generate_random_map
from gymnasium.error import ResetNeeded

from agentgym.core.env import TextEnv, echo_action
from agentgym.core.wrappers import RESET_NEEDED_MESSAGE
from agentgym.envs.text.words import child_seed, lookup_action

#: Word -> Gymnasium FrozenLake action (0 left, 1 down, 2 right, 3 up).
FROZEN_LAKE_ACTIONS: dict[str, int] = {"left": 0, "down": 1, "right": 2, "up": 3}


@functools.lru_cache(maxsize=1024)
def lake_distances(desc: tuple[str, ...]) -> tuple[tuple[float, ...], ...]:
    """Fewest moves from every cell of the map ``desc`` to its goal ``G`` without entering a hole.

    Breadth-first search from the goal over the non-hole cells (4-neighbourhood). Returns a
    ``rows x columns`` table: 0 on the goal, ``inf`` on holes and on cells with no safe path.
    """
    rows, cols = len(desc), len(desc[0])
    inf = float("inf")
    dist = [[inf] * cols for _ in range(rows)]
    queue: deque[tuple[int, int]] = deque()
    for r, row in enumerate(desc):
        for c, cell in enumerate(row):
            if cell == "G":
                dist[r][c] = 0
                queue.append((r, c))
    while queue:
        r, c = queue.popleft()
        for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1)):
            nr, nc = r + dr, c + dc
            if (0 <= nr < rows and 0 <= nc < cols and desc[nr][nc] != "H"
                    and dist[nr][nc] == inf):
                dist[nr][nc] = dist[r][c] + 1
                queue.append((nr, nc))
    return tuple(tuple(row) for row in dist)



class FrozenLakeEnv(TextEnv):
    """FrozenLake on a seeded random map: walk from ``S`` to ``G`` without falling into ``H``.

    The seed picks the map (``generate_random_map(size=map_size, p=p_frozen, seed=...)``, which
    guarantees a path) so the same seed is the same task.

    Observation::

        P F F F
        F H F H
        F F F H
        H F F G
        You are at row 1, column 1. The goal G is at row 4, column 4.

    Legend: ``S`` start, ``F`` frozen (safe), ``H`` hole, ``G`` goal, ``P`` you.
    Actions: ``up``, ``down``, ``left``, ``right``; walking into the edge is a valid no-op.
    Reward part ``goal``: 1.0 on reaching the goal (``terminated``, ``success``), else 0.
    Falling into a hole: ``terminated`` with ``success=False``. ``state_key``: ``row=R col=C``.
    ``info["distance_to_goal"]`` (reset and every step): the fewest moves from the player's cell
    to the goal around the holes (:func:`lake_distances`, a breadth-first search cached per map);
    ``inf`` in a hole or where no safe path exists, 0 on the goal. On slippery ice it counts
    moves that go where they are meant to (a lower bound on the moves needed).

    Args:
        map_size: side of the square map.
        is_slippery: Gymnasium's slippery ice (the intended move succeeds with probability
            ``success_rate``, else a perpendicular one). The expert then maximizes the success
            probability but cannot guarantee success.
        p_frozen: probability that a generated cell is frozen (Gymnasium's ``p``).
        success_rate: Gymnasium's ``success_rate`` for slippery ice.
        desc: a fixed map (list of row strings) played on every reset instead of generated
            ones; ``reset(options={"desc": [...]})`` does the same for one episode.
        reward_weights: optional weight per reward part.
        render_mode: ``None`` or ``"ansi"``.
    """

    def __init__(
        self,
        map_size: int = 4,
        is_slippery: bool = False,
        *,
        p_frozen: float = 0.8,
        success_rate: float = 1.0 / 3.0,
        desc: Sequence[str] | None = None,
        reward_weights: Mapping[str, float] | None = None,
        render_mode: str | None = None,
    ) -> None:
        super().__init__(reward_weights=reward_weights, render_mode=render_mode)
        if int(map_size) < 2:
            raise ValueError(f"map_size must be >= 2, got {map_size}")
        self.map_size = int(map_size)
        self.is_slippery = bool(is_slippery)
        self.p_frozen = float(p_frozen)
        self.success_rate = float(success_rate)
        self.fixed_desc = [str(row) for row in desc] if desc is not None else None
        self._lake: _GymFrozenLake | None = None
        self._desc: list[str] = []
        self._done = False
        self._success = False
        self._q: np.ndarray | None = None

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[str, dict[str, Any]]:
        """New episode on a map drawn from the seed (or ``options["desc"]``)."""
        super().reset(seed=seed)
        desc = (options or {}).get("desc") or self.fixed_desc
        if desc is None:
            desc = generate_random_map(
                size=self.map_size, p=self.p_frozen, seed=child_seed(self.np_random)
            )
        self._desc = [str(row) for row in desc]
        self._lake = _GymFrozenLake(
            desc=self._desc, is_slippery=self.is_slippery, success_rate=self.success_rate
        )
        self._lake.reset(seed=child_seed(self.np_random))
        self._done = self._success = False
        self._q = None
        size = f"{len(self._desc)}x{len(self._desc[0])}"
        digest = hashlib.blake2b("\n".join(self._desc).encode(), digest_size=6).hexdigest()
        goal_r, goal_c = self._find("G")
        instruction = (
            "Walk across the frozen lake from the start S to the goal G without stepping into "
            "a hole H. Each turn move one cell: up, down, left or right. Legend: S start, "
            "F frozen ice (safe), H hole, G goal, P you. Rows and columns count from 1 at the "
            f"top-left; the goal is at row {goal_r + 1}, column {goal_c + 1}. Reward: 1 for "
            "reaching the goal, 0 otherwise."
            + (" The ice is slippery: you may slide sideways." if self.is_slippery else "")
        )
        obs = self._observation()
        return obs, self.reset_info(
            task_id=f"frozenlake-{size}-{digest}",
            instruction=instruction,
            state_key=self._state_key(),
            map="\n".join(self._desc),
            admissible_actions=self.admissible_actions(),
            distance_to_goal=self.distance_to_goal(),
        )

    def step(self, action: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        """Apply one action word (see the class docstring)."""
        if self._lake is None:
            raise ResetNeeded(RESET_NEEDED_MESSAGE)
        index = lookup_action(action, FROZEN_LAKE_ACTIONS)
        if self._done or index is None:
            message = (
                "The episode is over; call reset() to play again."
                if self._done
                else f"Invalid action {echo_action(action)}. Valid actions: up, down, left, right. "
                "You did not move."
            )
            info = self.step_info(
                state_key=self._state_key(),
                action_valid=False,
                reward_parts={"goal": 0.0},
                success=self._success,
                distance_to_goal=self.distance_to_goal(),
            )
            return f"{message}\n\n{self._observation()}", 0.0, self._done, False, info
        _, reward, terminated, _, _ = self._lake.step(index)
        self._success = bool(terminated and reward > 0)
        self._done = bool(terminated)
        parts = {"goal": float(reward)}
        obs = self._observation()
        if self._done:
            obs += (
                "\nYou reached the goal!" if self._success else "\nYou fell into a hole. Game over."
            )
        info = self.step_info(
            state_key=self._state_key(),
            action_valid=True,
            reward_parts=parts,
            success=self._success,
            distance_to_goal=self.distance_to_goal(),
        )
        return obs, self.reward_from_parts(parts), self._done, False, info

    # -- helpers -------------------------------------------------------------------------------
    def _find(self, symbol: str) -> tuple[int, int]:
        for r, row in enumerate(self._desc):
            c = row.find(symbol)
            if c >= 0:
                return r, c
        raise ValueError(f"the FrozenLake map has no {symbol!r}")

    @property
    def position(self) -> tuple[int, int]:
        """``(row, column)`` of the player, from 0."""
        assert self._lake is not None
        return divmod(int(self._lake.s), len(self._desc[0]))

    def distance_to_goal(self) -> float:
        """Fewest safe moves from the player's cell to the goal (``inf`` in a hole)."""
        if self._lake is None:
            raise ResetNeeded("call reset() before distance_to_goal()")
        r, c = self.position
        return lake_distances(tuple(self._desc))[r][c]

    def _state_key(self) -> str:
        r, c = self.position
        return f"row={r + 1} col={c + 1}"

    def _observation(self) -> str:
        r, c = self.position
        rows = [list(row) for row in self._desc]
        rows[r][c] = "P"
        goal_r, goal_c = self._find("G")
        board = "\n".join(" ".join(row) for row in rows)
        return (
            f"{board}\nYou are at row {r + 1}, column {c + 1}. "
            f"The goal G is at row {goal_r + 1}, column {goal_c + 1}."
        )

    def admissible_actions(self) -> list[str]:
        """The four directions (all valid; walking into the edge does nothing)."""
        return ["up", "down", "left", "right"]

    def _action_values(self) -> np.ndarray:
        """``Q[s, a]`` of reaching the goal, discount 0.99, by value iteration on Gymnasium's
        transition table ``P`` (exact shortest paths on non-slippery ice). Shape ``(nS, 4)``."""
        assert self._lake is not None
        n_states = self._lake.observation_space.n
        reward = np.zeros((n_states, 4))
        cont = np.zeros((n_states, 4, n_states))
        for s, by_action in self._lake.P.items():
            for a, transitions in by_action.items():
                for prob, nxt, r, term in transitions:
                    reward[s, a] += prob * r
                    if not term:
                        cont[s, a, nxt] += prob
        value = np.zeros(n_states)
        for _ in range(10_000):
            q = reward + 0.99 * cont @ value
            new_value = q.max(axis=1)
            if np.max(np.abs(new_value - value)) < 1e-12:
                break
            value = new_value
        return q

    def expert_action(self) -> str:
        """The move with the highest discounted chance of reaching the goal: on non-slippery
        ice a first move of a shortest safe path (always solves a generated map)."""
        if self._lake is None:
            raise ResetNeeded("call reset() before expert_action()")
        if self._q is None:
            self._q = self._action_values()
        best = int(np.argmax(self._q[int(self._lake.s)]))
        return next(word for word, a in FROZEN_LAKE_ACTIONS.items() if a == best)

    def render(self) -> str | None:
        """The board text in ``ansi`` mode (``None`` otherwise)."""
        return self._observation() if self.render_mode == "ansi" and self._lake else None


__all__ = ["FROZEN_LAKE_ACTIONS", "FrozenLakeEnv", "lake_distances"]
