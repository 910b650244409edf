"""Gymnasium's toy-text grid worlds, FrozenLake and Taxi, as text games with word actions.

Both wrap the Gymnasium classes (``gymnasium.envs.toy_text``) for the dynamics and rewards and
add what an LLM agent needs: a plain-text board (Gymnasium's ``ansi`` rendering embeds colour
escape codes, so the board is drawn here), a sentence saying where things are, word actions,
named reward parts, ``state_key`` for anchor-state grouping and an optimal expert.

Conventions shared with :mod:`agentgym.envs.text.sokoban`: rows and columns in sentences count
from 1 at the top-left; an invalid action (anything but the action words, e.g. empty text,
100 kB of junk, prompt injections) changes nothing, answers with a message and the unchanged
board, has ``action_valid=False`` and costs what a normal step costs (FrozenLake: 0, Taxi: −1),
so it is never cheaper than a real move. A step after the episode ended is answered the same
way with reward 0 and ``terminated=True``.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from gymnasium.envs.toy_text.frozen_lake import FrozenLakeEnv as _GymFrozenLake
from gymnasium.envs.toy_text.frozen_lake import generate_random_map
from gymnasium.envs.toy_text.taxi import TaxiEnv as _GymTaxi
from gymnasium.error import ResetNeeded

from agentgym.core.env import TextEnv

_ECHO_CHARS = 40
_MAX_ACTION_CHARS = 64
_SEPARATORS = re.compile(r"[\s_-]+")


def _echo(action: Any) -> str:
    """A short, printable rendering of an arbitrary action for error messages."""
    text = action if isinstance(action, str) else repr(action)
    suffix = f"... ({len(text)} characters)" if len(text) > _ECHO_CHARS else ""
    return f"{text[:_ECHO_CHARS]!r}{suffix}"


def _lookup(action: Any, table: Mapping[str, int]) -> int | None:
    """Action index of ``action`` in ``table``: case-insensitive, whitespace, ``_`` and ``-``
    runs collapsed to one space; None for anything else (including non-strings)."""
    if not isinstance(action, str) or len(action) > _MAX_ACTION_CHARS:
        return None
    return table.get(_SEPARATORS.sub(" ", action.strip().lower()))


def _seed_from(rng: np.random.Generator) -> int:
    return int(rng.integers(2**31 - 1))


# =============================================================================================
# FrozenLake
# =============================================================================================
#: Word -> Gymnasium FrozenLake action (0 left, 1 down, 2 right, 3 up).
FROZEN_LAKE_ACTIONS: dict[str, int] = {"left": 0, "down": 1, "right": 2, "up": 3}


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
                size=self.map_size, p=self.p_frozen, seed=_seed_from(self.np_random)
            )
        self._desc = [str(row) for row in desc]
        self._lake = _GymFrozenLake(
            desc=self._desc, is_slippery=self.is_slippery, success_rate=self.success_rate
        )
        self._lake.reset(seed=_seed_from(self.np_random))
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
        )

    def step(self, action: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        """Apply one action word (see the class docstring)."""
        if self._lake is None:
            raise ResetNeeded("call reset() before step()")
        index = _lookup(action, FROZEN_LAKE_ACTIONS)
        if self._done or index is None:
            message = (
                "The episode is over; call reset() to play again."
                if self._done
                else f"Invalid action {_echo(action)}. Valid actions: up, down, left, right. "
                "You did not move."
            )
            info = self.step_info(
                state_key=self._state_key(),
                action_valid=False,
                reward_parts={"goal": 0.0},
                success=self._success,
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


# =============================================================================================
# Taxi
# =============================================================================================
#: Word -> Gymnasium Taxi action (0 south, 1 north, 2 east, 3 west, 4 pickup, 5 dropoff),
#: with up/down/left/right and spelled-out pick up / drop off as synonyms.
TAXI_ACTIONS: dict[str, int] = {
    "south": 0,
    "north": 1,
    "east": 2,
    "west": 3,
    "pickup": 4,
    "dropoff": 5,
    "down": 0,
    "up": 1,
    "right": 2,
    "left": 3,
    "pick up": 4,
    "drop off": 5,
}
TAXI_WORDS: tuple[str, ...] = ("south", "north", "east", "west", "pickup", "dropoff")
#: Names and (row, column) of the four stops, in Gymnasium's index order.
TAXI_STOPS: tuple[tuple[str, tuple[int, int]], ...] = (
    ("R", (0, 0)),
    ("G", (0, 4)),
    ("Y", (4, 0)),
    ("B", (4, 3)),
)
_TAXI_MAP: tuple[str, ...] = (
    "+---------+",
    "|R: | : :G|",
    "| : | : : |",
    "| : : : : |",
    "| | : | : |",
    "|Y| : |B: |",
    "+---------+",
)


@functools.cache
def taxi_distances() -> tuple[tuple[int, ...], tuple[tuple[tuple[int, bool], ...], ...]]:
    """Fewest actions from each of Taxi's 500 states to a delivery, and the dry dynamics.

    Returns:
        ``(dist, moves)``: ``dist[s]`` (``-1`` if no delivery is possible, i.e. terminal
        states) and ``moves[s][a] = (next_state, terminated)`` of the non-rainy Taxi.
    """
    taxi = _GymTaxi()
    moves = tuple(
        tuple((int(taxi.P[s][a][0][1]), bool(taxi.P[s][a][0][3])) for a in range(6))
        for s in range(500)
    )
    predecessors: list[list[int]] = [[] for _ in range(500)]
    dist = [-1] * 500
    queue: deque[int] = deque()
    for s in range(500):
        for nxt, terminated in moves[s]:
            if terminated:
                if dist[s] < 0:
                    dist[s] = 1
                    queue.append(s)
            elif nxt != s:
                predecessors[nxt].append(s)
    while queue:
        s = queue.popleft()
        for prev in predecessors[s]:
            if dist[prev] < 0:
                dist[prev] = dist[s] + 1
                queue.append(prev)
    return tuple(dist), moves


class TaxiEnv(TextEnv):
    """Taxi: drive to the passenger, pick them up and drop them off at their destination.

    Observation: Gymnasium's map with the taxi drawn as ``T`` and a sentence, e.g.::

        +---------+
        |R: | : :G|
        | : | : : |
        | : : : : |
        | | : |T: |
        |Y| : |B: |
        +---------+
        The taxi T is at row 4, column 4. The passenger is waiting at Y (row 5, column 1).
        The destination is G (row 1, column 5).

    ``|`` is a wall the taxi cannot cross, ``:`` an open side; R, G, Y, B are the stops.
    Actions: ``south``, ``north``, ``east``, ``west``, ``pickup``, ``dropoff`` (synonyms
    ``down``, ``up``, ``right``, ``left``, ``pick up``, ``drop off``).

    Reward parts (Gymnasium's rewards, exactly one part non-zero per step): ``step`` −1 for a
    move or a legal pickup, ``delivered`` +20 for the successful drop-off (``terminated``,
    ``success``), ``illegal`` −10 for a pickup or drop-off where none is possible. An invalid
    action costs ``step`` −1. ``state_key``: ``taxi=(r,c) passenger=P destination=D``.

    Args:
        is_rainy: Gymnasium's rainy mode (moves may slip sideways); the expert is then not
            guaranteed to finish within the turn limit.
        fickle_passenger: Gymnasium's fickle passenger (may change destination once); the expert
            re-plans every step.
        reward_weights: optional weight per reward part.
        render_mode: ``None`` or ``"ansi"``.
    """

    def __init__(
        self,
        *,
        is_rainy: bool = False,
        fickle_passenger: bool = False,
        reward_weights: Mapping[str, float] | None = None,
        render_mode: str | None = None,
    ) -> None:
        super().__init__(reward_weights=reward_weights, render_mode=render_mode)
        self.is_rainy = bool(is_rainy)
        self.fickle_passenger = bool(fickle_passenger)
        self._taxi = _GymTaxi(is_rainy=self.is_rainy, fickle_passenger=self.fickle_passenger)
        self._started = False
        self._done = False

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[str, dict[str, Any]]:
        """New episode; ``options={"state": s}`` starts from Gymnasium's encoded state ``s``
        (the passenger must be waiting at a stop other than the destination)."""
        super().reset(seed=seed)
        self._taxi.reset(seed=_seed_from(self.np_random))
        start = (options or {}).get("state")
        if start is not None:
            start = int(start)
            if not 0 <= start < 500 or self._taxi.initial_state_distrib[start] == 0:
                raise ValueError(
                    f"options['state']={start} is not a Taxi start state (0..499 with the "
                    "passenger waiting at a stop other than the destination)"
                )
            self._taxi.s = start
        self._started = True
        self._done = False
        start_state = int(self._taxi.s)
        instruction = (
            "You drive a taxi on a 5x5 grid. Drive to the passenger, pick them up, drive to "
            "their destination and drop them off. Actions: south, north, east, west, pickup, "
            "dropoff. In the map, | is a wall the taxi cannot cross, : is an open side, "
            "R, G, Y and B are the four stops and T is the taxi. Rows and columns count from 1 "
            "at the top-left. Reward: -1 per turn, +20 for delivering the passenger, -10 for a "
            "pickup or dropoff where none is possible."
        )
        return self._observation(), self.reset_info(
            task_id=f"taxi-{start_state}",
            instruction=instruction,
            state_key=self._state_key(),
            admissible_actions=list(TAXI_WORDS),
        )

    def step(self, action: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        """Apply one action word (see the class docstring)."""
        if not self._started:
            raise ResetNeeded("call reset() before step()")
        index = _lookup(action, TAXI_ACTIONS)
        if self._done or index is None:
            step_cost = 0.0 if self._done else -1.0
            message = (
                "The passenger was delivered; call reset() to play again."
                if self._done
                else f"Invalid action {_echo(action)}. Valid actions: "
                f"{', '.join(TAXI_WORDS)}. Nothing happened."
            )
            parts = {"step": step_cost, "delivered": 0.0, "illegal": 0.0}
            info = self.step_info(
                state_key=self._state_key(),
                action_valid=False,
                reward_parts=parts,
                success=self._done,
            )
            reward = self.reward_from_parts(parts)
            return f"{message}\n\n{self._observation()}", reward, self._done, False, info
        _, reward, terminated, _, _ = self._taxi.step(index)
        reward = float(reward)
        parts = {
            "step": reward if reward not in (20.0, -10.0) else 0.0,
            "delivered": 20.0 if reward == 20.0 else 0.0,
            "illegal": -10.0 if reward == -10.0 else 0.0,
        }
        self._done = bool(terminated)
        obs = self._observation()
        if parts["illegal"]:
            obs += (
                "\nIllegal pickup: there is no passenger here to pick up."
                if index == 4
                else "\nIllegal dropoff: the passenger is not in the taxi or you are not at a stop."
            )
        if self._done:
            obs += "\nThe passenger was delivered. Well done!"
        info = self.step_info(
            state_key=self._state_key(),
            action_valid=True,
            reward_parts=parts,
            success=self._done,
        )
        return obs, self.reward_from_parts(parts), self._done, False, info

    # -- helpers -------------------------------------------------------------------------------
    @property
    def decoded_state(self) -> tuple[int, int, int, int]:
        """``(taxi_row, taxi_col, passenger_location, destination)``, Gymnasium's decoding:
        passenger location 0-3 is a stop index, 4 means in the taxi."""
        row, col, passenger, destination = self._taxi.decode(int(self._taxi.s))
        return int(row), int(col), int(passenger), int(destination)

    def _state_key(self) -> str:
        row, col, passenger, destination = self.decoded_state
        where = "taxi" if passenger == 4 else TAXI_STOPS[passenger][0]
        return (
            f"taxi=({row + 1},{col + 1}) passenger={where} "
            f"destination={TAXI_STOPS[destination][0]}"
        )

    def _observation(self) -> str:
        row, col, passenger, destination = self.decoded_state
        lines = [list(line) for line in _TAXI_MAP]
        lines[row + 1][2 * col + 1] = "T"
        board = "\n".join("".join(line) for line in lines)
        dest_name, (dest_r, dest_c) = TAXI_STOPS[destination]
        if passenger == 4:
            where = "The passenger is in the taxi."
        elif self._done:
            where = f"The passenger is at {TAXI_STOPS[passenger][0]}."
        else:
            name, (pr, pc) = TAXI_STOPS[passenger]
            where = f"The passenger is waiting at {name} (row {pr + 1}, column {pc + 1})."
        return (
            f"{board}\nThe taxi T is at row {row + 1}, column {col + 1}. {where} "
            f"The destination is {dest_name} (row {dest_r + 1}, column {dest_c + 1})."
        )

    def admissible_actions(self) -> list[str]:
        """The six canonical action words (all valid; an impossible pickup/dropoff is
        Gymnasium's −10 illegal move)."""
        return list(TAXI_WORDS)

    def expert_action(self) -> str:
        """A first action of a shortest delivery plan from the current state (BFS over the
        500 decoded states of the non-rainy dynamics)."""
        if not self._started:
            raise ResetNeeded("call reset() before expert_action()")
        dist, moves = taxi_distances()
        state = int(self._taxi.s)
        best, best_dist = 0, None
        for action, (nxt, terminated) in enumerate(moves[state]):
            if terminated:
                return TAXI_WORDS[action]
            if nxt != state and dist[nxt] >= 0 and (best_dist is None or dist[nxt] < best_dist):
                best, best_dist = action, dist[nxt]
        return TAXI_WORDS[best]

    def render(self) -> str | None:
        """The board text in ``ansi`` mode (``None`` otherwise)."""
        return self._observation() if self.render_mode == "ansi" and self._started else None


__all__ = [
    "FROZEN_LAKE_ACTIONS",
    "TAXI_ACTIONS",
    "TAXI_STOPS",
    "TAXI_WORDS",
    "FrozenLakeEnv",
    "TaxiEnv",
    "taxi_distances",
]
