"""Gymnasium's Taxi as a text game with word actions.

It wraps Gymnasium's class (``gymnasium.envs.toy_text.taxi``) for the dynamics and rewards and
adds a plain-text map with the taxi drawn in, a sentence saying where the passenger and the
destination are, word actions (with synonyms), named reward parts, ``state_key`` and an optimal
expert (breadth-first search over the 500 states).

Conventions shared with :mod:`agentgym.envs.text.sokoban` and
:mod:`agentgym.envs.text.frozen_lake`: rows and columns in sentences count from 1 at the
top-left; an invalid action changes nothing, answers with a message and the unchanged map, has
``action_valid=False`` and costs what a move costs (−1), so it is never cheaper than a real
move. A step after the episode ended is answered the same way with reward 0 and
``terminated=True``.
"""

from __future__ import annotations

import functools
from collections import deque
from collections.abc import Mapping
from typing import Any

from gymnasium.envs.toy_text.taxi import TaxiEnv as _GymTaxi
from gymnasium.error import ResetNeeded

from agentgym.core.env import TextEnv, echo_action
from agentgym.core.wrappers import RESET_NEEDED_MESSAGE
from agentgym.envs.text.words import child_seed, lookup_action

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
    ``info["distance_to_goal"]`` (reset and every step): the fewest actions to the delivery from
    the current state (:func:`taxi_distances`, one breadth-first search over the 500 states of
    the dry dynamics, cached), 0 once delivered.

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
        self._taxi.reset(seed=child_seed(self.np_random))
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
            distance_to_goal=self.distance_to_goal(),
        )

    def step(self, action: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        """Apply one action word (see the class docstring)."""
        if not self._started:
            raise ResetNeeded(RESET_NEEDED_MESSAGE)
        index = lookup_action(action, TAXI_ACTIONS)
        if self._done or index is None:
            step_cost = 0.0 if self._done else -1.0
            message = (
                "The passenger was delivered; call reset() to play again."
                if self._done
                else f"Invalid action {echo_action(action)}. Valid actions: "
                f"{', '.join(TAXI_WORDS)}. Nothing happened."
            )
            parts = {"step": step_cost, "delivered": 0.0, "illegal": 0.0}
            info = self.step_info(
                state_key=self._state_key(),
                action_valid=False,
                reward_parts=parts,
                success=self._done,
                distance_to_goal=self.distance_to_goal(),
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
            distance_to_goal=self.distance_to_goal(),
        )
        return obs, self.reward_from_parts(parts), self._done, False, info

    # -- helpers -------------------------------------------------------------------------------
    @property
    def decoded_state(self) -> tuple[int, int, int, int]:
        """``(taxi_row, taxi_col, passenger_location, destination)``, Gymnasium's decoding:
        passenger location 0-3 is a stop index, 4 means in the taxi."""
        row, col, passenger, destination = self._taxi.decode(int(self._taxi.s))
        return int(row), int(col), int(passenger), int(destination)

    def distance_to_goal(self) -> float:
        """Fewest actions from the current state to the delivery (0 once delivered; ``inf``
        from a state with no delivery, which a started episode never reaches)."""
        if not self._started:
            raise ResetNeeded("call reset() before distance_to_goal()")
        if self._done:
            return 0
        dist = taxi_distances()[0][int(self._taxi.s)]
        return dist if dist >= 0 else float("inf")

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


__all__ = ["TAXI_ACTIONS", "TAXI_STOPS", "TAXI_WORDS", "TaxiEnv", "taxi_distances"]
