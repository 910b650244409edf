"""Sokoban as a text game, with procedurally generated seeded levels and an optimal expert.

The player (``P``) pushes boxes (``X``) onto goals (``O``) in a walled room; boxes can be pushed,
never pulled, one at a time. Levels come from
:func:`agentgym.envs.text.sokoban_levels.generate_level` (reverse play from a solved state,
after gym-sokoban), so every level is solvable and its optimal solution length is known.

Observation: the grid, one row per line, cells separated by one space, e.g.::

    # # # # # #
    # _ _ # # #
    # _ X _ _ #
    # P _ _ O #
    # # # # # #

Legend (also in ``info["instruction"]``): ``#`` wall, ``_`` floor, ``O`` goal, ``X`` box,
``√`` box on a goal, ``P`` player, ``S`` player on a goal.

Actions: ``up``, ``down``, ``left``, ``right`` (case-insensitive, surrounding whitespace
ignored). Moving into a wall, or into a box that has a wall or another box behind it, is a valid
no-op (as in gym-sokoban): it costs the step penalty and ``info["moved"]`` is False.

Reward parts (gym-sokoban scheme), every step carries all four keys:

============  =========================================================================
``step``      −0.1 on every step, valid or not
``box_on``    +1.0 when the push puts a box onto a goal
``box_off``   −1.0 when the push moves a box off a goal (goal-to-goal: +1 and −1)
``solved``    +10.0 when the last box reaches a goal (``terminated=True``, ``success``)
============  =========================================================================

An invalid action (anything but the four words: empty, garbage, prompts) changes nothing,
answers with a message and the unchanged board, has ``action_valid=False`` and costs the step
penalty like any other turn, so spamming junk is never free.

``state_key`` is the grid text (player and box positions, no history).

``info["distance_to_goal"]`` (reset and every step): the optimal number of moves from the current
state to the solution, from an exhaustive reverse breadth-first search over the level's states
(:func:`goal_distance_table`, computed once per level and cached); ``inf`` from a state that
cannot be solved (a box in a corner), 0 once solved. Solver credit (``algo=cast``) reads it.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Mapping
from typing import Any

from gymnasium.error import ResetNeeded

from agentgym.core.env import TextEnv, echo_action
from agentgym.core.wrappers import RESET_NEEDED_MESSAGE
from agentgym.envs.text.sokoban_levels import (
    ACTIONS,
    BOX,
    BOX_ON_GOAL,
    FLOOR,
    GOAL,
    LEGEND,
    PLAYER,
    PLAYER_ON_GOAL,
    Level,
    State,
    forward,
    generate_level,
    parse_level,
    push_distances,
    reverse_distances,
    solve,
)
from agentgym.envs.text.words import lookup_action

STEP_PENALTY = -0.1
BOX_ON_REWARD = 1.0
BOX_OFF_REWARD = -1.0
SOLVED_REWARD = 10.0
#: States the goal-distance table may hold before missing states are solved one by one (A*).
GOAL_TABLE_MAX_STATES = 200_000


@functools.lru_cache(maxsize=256)
def goal_distance_table(
    walls: tuple[bool, ...], width: int, goals: tuple[int, ...],
    max_states: int = GOAL_TABLE_MAX_STATES,
) -> tuple[dict[State, int], bool]:
    """Optimal moves to the solution from every solvable state of a level, and whether the table
    is complete (then a state missing from it cannot be solved).

    A reverse breadth-first search from the solved states without a depth limit
    (:func:`~agentgym.envs.text.sokoban_levels.reverse_distances`); a 6x6 room with one box has
    a few hundred states. Cached per level (walls, width, goals).
    """
    table = reverse_distances(walls, width, goals, max_depth=len(walls) ** 2 + 1,
                              max_states=max_states)
    return table, len(table) < max_states



@functools.lru_cache(maxsize=64)
def _check_settings(
    dim_room: tuple[int, int],
    num_boxes: int,
    min_solution_steps: int,
    max_solution_steps: int,
    max_tries: int,
) -> None:
    """Generate one level with these settings (once per distinct setting) so that impossible
    settings fail when the environment is made, not at its first reset."""
    generate_level(
        random.Random(0),
        dim_room,
        num_boxes,
        min_solution_steps=min_solution_steps,
        max_solution_steps=max_solution_steps,
        max_tries=max_tries,
    )


class SokobanEnv(TextEnv):
    """Procedurally generated Sokoban with text observations and word actions.

    Args:
        dim_room: ``(height, width)`` of the room, outer walls included.
        num_boxes: number of boxes (= goals).
        min_solution_steps: shortest optimal solution (moves) of a generated level; levels
            that are already solved or too easy are rejected.
        max_solution_steps: longest optimal solution (moves) of a generated level; keep it under
            the turn limit (the registered 30 turns leave 10 turns of slack over the default).
        level: a fixed level in text form (see :mod:`~agentgym.envs.text.sokoban_levels`)
            played on every reset instead of generated ones. ``reset(options={"level": ...})``
            does the same for one episode.
        max_generation_tries: rooms drawn before generation gives up with ``ValueError``.
        solver_max_nodes: A* expansion budget of the expert for states off the precomputed table.
        reward_weights: optional weight per reward part (see :class:`TextEnv`).
        render_mode: ``None`` or ``"ansi"``.
    """

    def __init__(
        self,
        dim_room: tuple[int, int] = (6, 6),
        num_boxes: int = 1,
        *,
        min_solution_steps: int = 4,
        max_solution_steps: int = 20,
        level: str | None = None,
        max_generation_tries: int = 200,
        solver_max_nodes: int = 200_000,
        reward_weights: Mapping[str, float] | None = None,
        render_mode: str | None = None,
    ) -> None:
        super().__init__(reward_weights=reward_weights, render_mode=render_mode)
        self.dim_room = (int(dim_room[0]), int(dim_room[1]))
        self.num_boxes = int(num_boxes)
        self.min_solution_steps = int(min_solution_steps)
        self.max_solution_steps = int(max_solution_steps)
        self.max_generation_tries = int(max_generation_tries)
        self.solver_max_nodes = int(solver_max_nodes)
        self.fixed_level = parse_level(level) if level is not None else None
        # Fails at construction, not at the first reset, on impossible settings.
        if self.fixed_level is None:
            _check_settings(
                self.dim_room,
                self.num_boxes,
                self.min_solution_steps,
                self.max_solution_steps,
                self.max_generation_tries,
            )
        self._level: Level | None = None
        self._distances: dict[State, int] = {}
        self._plan: dict[State, int] = {}
        self._pushes: list[float] = []
        self._solved_distance: dict[State, float | None] = {}
        self._grid = ""
        self._done = False

    # -- episode ----------------------------------------------------------------------------
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[str, dict[str, Any]]:
        """Start a new episode on a generated level (or ``options["level"]``).

        Returns:
            The grid text and the reset info: ``task_id`` = ``sokoban-<level digest>`` (the same
            seed, or the same level, gives the same id), ``level`` (compact text),
            ``optimal_solution_steps`` (omitted for a fixed level whose solution is longer than
            ``max_solution_steps``) and ``admissible_actions``.
        """
        super().reset(seed=seed)
        level_text = (options or {}).get("level")
        optimal: int | None
        level = parse_level(level_text) if level_text is not None else self.fixed_level
        if level is not None:
            distances = reverse_distances(
                level.walls, level.width, level.goals, self.max_solution_steps
            )
            optimal = distances.get(level.state)
        else:
            rng = random.Random(int(self.np_random.integers(2**63 - 1)))
            generated = generate_level(
                rng,
                self.dim_room,
                self.num_boxes,
                min_solution_steps=self.min_solution_steps,
                max_solution_steps=self.max_solution_steps,
                max_tries=self.max_generation_tries,
            )
            level, distances, optimal = (
                generated.level,
                generated.distances,
                generated.solution_length,
            )
        self._load(level, distances)
        instruction = (
            f"Push every box onto a goal. You are the player and move one cell per turn: "
            f"up, down, left or right. Walking into a box pushes it one cell if the cell behind "
            f"it is free; boxes cannot be pulled, so never push a box into a corner. "
            f"Legend: {LEGEND}. Reward: -0.1 per turn, +1 for a box pushed onto a goal, "
            f"-1 for a box pushed off a goal, +10 when all boxes are on goals."
        )
        extra: dict[str, Any] = {
            "level": level.to_text(sep=""),
            "admissible_actions": list(ACTIONS),
        }
        if optimal is not None:  # unknown for a fixed level beyond max_solution_steps
            extra["optimal_solution_steps"] = optimal
        info = self.reset_info(
            task_id=f"sokoban-{level.level_id}",
            instruction=instruction,
            state_key=self._grid,
            distance_to_goal=self.distance_to_goal(),
            **extra,
        )
        return self._grid, info

    def _load(self, level: Level, distances: dict[State, int]) -> None:
        """Set the mutable board from ``level`` and precompute rendering."""
        self._level = level
        self._distances = distances
        self._plan = {}
        self._pushes = []
        self._solved_distance = {}
        w = level.width
        self._offsets = (-w, w, -1, 1)
        self._walls = list(level.walls)
        self._goal = [False] * len(level.walls)
        for g in level.goals:
            self._goal[g] = True
        self._box = [False] * len(level.walls)
        for b in level.boxes:
            self._box[b] = True
        self._player = level.player
        self._on_goal = sum(self._goal[b] for b in level.boxes)
        self._chars = [
            level.cell_char(i, level.player, level.boxes) for i in range(len(level.walls))
        ]
        self._format = "\n".join(" ".join(["{}"] * w) for _ in range(level.height))
        self._grid = self._format.format(*self._chars)
        self._done = self._on_goal == len(level.goals)

    def step(self, action: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        """Apply one action word; see the module docstring for rewards and invalid actions."""
        if self._level is None:
            raise ResetNeeded(RESET_NEEDED_MESSAGE)
        index = _ACTION_INDEX.get(action) if type(action) is str else None
        if index is None:
            index = lookup_action(action, _ACTION_INDEX)
        if self._done:
            return self._over_answer(action)
        if index is None:
            parts = {"step": STEP_PENALTY, "box_on": 0.0, "box_off": 0.0, "solved": 0.0}
            obs = (
                f"Invalid action {echo_action(action)}. Valid actions: up, down, left, right. "
                f"Nothing moved.\n\n{self._grid}"
            )
            info = self.step_info(
                state_key=self._grid, action_valid=False, reward_parts=parts, moved=False,
                distance_to_goal=self.distance_to_goal(),
            )
            return obs, self.reward_from_parts(parts), False, False, info

        d = self._offsets[index]
        walls, boxes, goal, chars = self._walls, self._box, self._goal, self._chars
        p = self._player
        q = p + d
        box_on = box_off = 0.0
        moved = False
        if not walls[q]:
            if boxes[q]:
                r = q + d
                if not walls[r] and not boxes[r]:
                    boxes[q] = False
                    boxes[r] = True
                    if goal[q]:
                        box_off = BOX_OFF_REWARD
                        self._on_goal -= 1
                    if goal[r]:
                        box_on = BOX_ON_REWARD
                        self._on_goal += 1
                        chars[r] = BOX_ON_GOAL
                    else:
                        chars[r] = BOX
                    moved = True
            else:
                moved = True
        if moved:
            chars[p] = GOAL if goal[p] else FLOOR
            chars[q] = PLAYER_ON_GOAL if goal[q] else PLAYER
            self._player = q
            self._grid = self._format.format(*chars)
        solved = self._on_goal == len(self._level.goals)
        self._done = solved
        parts = {
            "step": STEP_PENALTY,
            "box_on": box_on,
            "box_off": box_off,
            "solved": SOLVED_REWARD if solved else 0.0,
        }
        info = self.step_info(
            state_key=self._grid,
            action_valid=True,
            reward_parts=parts,
            success=solved,
            moved=moved,
            distance_to_goal=self.distance_to_goal(),
        )
        return self._grid, self.reward_from_parts(parts), solved, False, info

    def _over_answer(self, action: Any) -> tuple[str, float, bool, bool, dict[str, Any]]:
        """Answer to a step after the puzzle was solved: nothing changes, no reward."""
        parts = {"step": 0.0, "box_on": 0.0, "box_off": 0.0, "solved": 0.0}
        obs = f"The puzzle is already solved; call reset() for a new one.\n\n{self._grid}"
        info = self.step_info(
            state_key=self._grid, action_valid=False, reward_parts=parts, success=True,
            distance_to_goal=0,
        )
        return obs, 0.0, True, False, info

    # -- optional API -----------------------------------------------------------------------
    def admissible_actions(self) -> list[str]:
        """The four directions: each is a valid action (a blocked move is a costly no-op)."""
        return list(ACTIONS)

    @property
    def state(self) -> State:
        """The current ``(player cell, sorted box cells)``."""
        return (self._player, tuple(i for i, b in enumerate(self._box) if b))

    def distance_to_goal(self) -> float | None:
        """Optimal moves from the current state to the solution (``inf``: unsolvable).

        Looked up in the level's :func:`goal_distance_table`; when that table was capped (a
        large level) a missing state is solved by A* once and remembered, and a state the
        solver gives up on is unknown (None).
        """
        if self._level is None:
            raise ResetNeeded("call reset() before distance_to_goal()")
        if self._done:
            return 0
        level = self._level
        table, complete = goal_distance_table(level.walls, level.width, level.goals,
                                              GOAL_TABLE_MAX_STATES)
        state = self.state
        moves = table.get(state)
        if moves is not None:
            return moves
        if complete:
            return float("inf")
        if state not in self._solved_distance:
            if not self._pushes:
                self._pushes = push_distances(level.walls, level.width, level.goals)
            if sum(self._pushes[b] for b in state[1]) == float("inf"):
                self._solved_distance[state] = float("inf")  # a box on a dead square
            else:
                path = solve(level.walls, level.width, level.goals, state,
                             self.solver_max_nodes, self._pushes)
                self._solved_distance[state] = None if path is None else len(path)
        return self._solved_distance[state]

    def expert_action(self) -> str:
        """A first move of an optimal solution from the current state.

        States within ``max_solution_steps`` moves of the solution are answered from the
        reverse-play table; others (after the agent wandered off) are solved by A* and the plan
        is cached. From an unsolvable state (a box pushed into a corner) no move helps; the
        first move that changes the state is returned, else ``"up"``.
        """
        if self._level is None:
            raise ResetNeeded("call reset() before expert_action()")
        level = self._level
        state = self.state
        moves = self._distances.get(state)
        if moves is not None and moves > 0:
            for index, d in enumerate(self._offsets):
                nxt = forward(self._walls, state, d)
                if nxt is not None and self._distances.get(nxt) == moves - 1:
                    return ACTIONS[index]
        if state not in self._plan:
            if not self._pushes:
                self._pushes = push_distances(level.walls, level.width, level.goals)
            path = solve(
                level.walls, level.width, level.goals, state, self.solver_max_nodes, self._pushes
            )
            if path:
                current = state
                for index in path:
                    self._plan[current] = index
                    nxt = forward(self._walls, current, self._offsets[index])
                    assert nxt is not None
                    current = nxt
        if state in self._plan:
            return ACTIONS[self._plan[state]]
        for index, d in enumerate(self._offsets):
            if forward(self._walls, state, d) is not None:
                return ACTIONS[index]
        return ACTIONS[0]

    def render(self) -> str | None:
        """The grid text in ``ansi`` mode (``None`` otherwise)."""
        if self.render_mode == "ansi":
            return self._grid
        return None


_ACTION_INDEX: dict[str, int] = {word: i for i, word in enumerate(ACTIONS)}


__all__ = [
    "BOX_OFF_REWARD",
    "BOX_ON_REWARD",
    "GOAL_TABLE_MAX_STATES",
    "SOLVED_REWARD",
    "STEP_PENALTY",
    "SokobanEnv",
    "goal_distance_table",
]
