"""Rock-paper-scissors over several rounds: a PettingZoo ``ParallelEnv`` (simultaneous moves).

Each round both agents answer at once with ``rock``, ``paper`` or ``scissors`` (or ``r``/``p``/
``s``); ``pettingzoo.classic.rps_v2`` scores the round (+1 win, −1 loss, 0 tie, reward part
``outcome``). After ``rounds`` rounds the game is ``terminated``. When either move of a round is
invalid the round is not played: the state is unchanged, the offender is told why, the other
agent is told to move again, and both answer anew.

The expert plays the game's equilibrium (uniformly random) until it has seen the opponent move,
then a best response to the opponent's move counts so far, ties broken at random; its random
draws come from a generator seeded by the reset seed, the agent and the round.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from typing import Any, ClassVar

import numpy as np
from pettingzoo import ParallelEnv

from agentgym.core.env import echo_action
from agentgym.core.spaces import FreeText
from agentgym.envs.multiagent.base import TextObservation, agent_info, clean_action

MOVES = ("rock", "paper", "scissors")
_ALIASES = {"r": "rock", "p": "paper", "s": "scissors", **{m: m for m in MOVES}}
_BEATS = {"rock": "scissors", "paper": "rock", "scissors": "paper"}  # key beats value


class RockPaperScissorsEnv(ParallelEnv):
    """Rock-paper-scissors between ``player_0`` and ``player_1`` (both in role ``player``).

    Args:
        rounds: rounds per game.
        max_turns: parallel steps (invalid rounds included) before both agents are truncated.
        render_mode: None or ``"ansi"``.
    """

    metadata: ClassVar[dict[str, Any]] = {
        "render_modes": ["ansi"],
        "name": "agentgym_rock_paper_scissors_v0",
    }

    def __init__(
        self, *, rounds: int = 5, max_turns: int | None = None, render_mode: str | None = None
    ) -> None:
        from pettingzoo.classic.rps.rps import raw_env

        if rounds < 1:
            raise ValueError(f"rounds must be >= 1, got {rounds}")
        if max_turns is not None and max_turns < 1:
            raise ValueError(f"max_turns must be >= 1 or None, got {max_turns}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode={render_mode!r} is not supported; use 'ansi' or None")
        self.rounds = int(rounds)
        self.max_turns = max_turns
        self.render_mode = render_mode
        self._inner = raw_env(num_actions=3, max_cycles=self.rounds)
        self.possible_agents = list(self._inner.possible_agents)
        self.roles = dict.fromkeys(self.possible_agents, "player")
        self.agents: list[str] = []
        self._observation_spaces = {a: FreeText() for a in self.possible_agents}
        self._action_spaces = {a: FreeText(sample_max_length=12) for a in self.possible_agents}
        self._moves: dict[str, list[str]] = {}
        self._score: dict[str, float] = {}
        self._notes: dict[str, list[str]] = {}
        self._steps = 0
        self._seed_key = 0

    # -- PettingZoo API ----------------------------------------------------------------------
    def observation_space(self, agent: str) -> FreeText:
        return self._observation_spaces[agent]

    def action_space(self, agent: str) -> FreeText:
        return self._action_spaces[agent]

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, TextObservation], dict[str, dict[str, Any]]]:
        self._inner.reset(seed=seed)
        self.agents = list(self.possible_agents)
        self._moves = {a: [] for a in self.agents}
        self._score = dict.fromkeys(self.agents, 0.0)
        self._notes = {a: [] for a in self.agents}
        self._steps = 0
        text = "none" if seed is None else str(seed)
        self._seed_key = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=4).digest(),
                                        "little")
        observations = {a: self._observe(a) for a in self.agents}
        infos = {a: self._info(a, True, {}, over=False) for a in self.agents}
        return observations, infos

    def step(self, actions: dict[str, Any]) -> tuple[
        dict[str, TextObservation], dict[str, float], dict[str, bool], dict[str, bool],
        dict[str, dict[str, Any]],
    ]:
        live = list(self.agents)
        self._steps += 1
        self._notes = {a: [] for a in live}
        parsed: dict[str, str] = {}
        errors: dict[str, str] = {}
        for agent in live:
            move, error = self._parse(actions.get(agent))
            if error is None:
                parsed[agent] = move
            else:
                errors[agent] = error
        parts: dict[str, dict[str, float]] = {a: {} for a in live}
        if errors:
            for agent in live:
                if agent in errors:
                    self._notes[agent].append(
                        f"Invalid action {echo_action(actions.get(agent))}: {errors[agent]}"
                    )
                else:
                    self._notes[agent].append(
                        "The round was not played: the other player's move was invalid. "
                        "Choose again."
                    )
        else:
            for agent in self._inner.agents:
                self._inner.step(MOVES.index(parsed[agent]))
            for agent in live:
                other = self._other(agent)
                value = float(self._inner.rewards[agent])
                self._moves[agent].append(parsed[agent])
                self._score[agent] += value
                parts[agent]["outcome"] = value
                result = {1.0: "you win the round", -1.0: "you lose the round"}.get(value, "tie")
                self._notes[agent].append(
                    f"Round {len(self._moves[agent])}: you played {parsed[agent]}, the opponent "
                    f"played {parsed[other]}: {result}."
                )
        over = len(self._moves[live[0]]) >= self.rounds
        truncated = not over and self.max_turns is not None and self._steps >= self.max_turns
        if truncated:
            for agent in live:
                self._notes[agent].append(f"The turn limit ({self.max_turns}) ends the game.")
        observations = {a: self._observe(a, over or truncated) for a in live}
        rewards = {a: float(sum(parts[a].values())) for a in live}
        terminations = dict.fromkeys(live, over)
        truncations = dict.fromkeys(live, truncated)
        infos = {
            a: self._info(a, a not in errors, parts[a], over=over,
                          message=errors.get(a, ""))
            for a in live
        }
        if over or truncated:
            self.agents = []
        return observations, rewards, terminations, truncations, infos

    def render(self) -> str | None:
        if self.render_mode != "ansi":
            return None
        return " | ".join(f"{a}: {' '.join(self._moves.get(a, []))}" for a in self.possible_agents)

    def close(self) -> None:
        pass

    # -- agentgym extras ---------------------------------------------------------------------
    def admissible_actions(self, agent: str | None = None) -> list[str]:
        """The moves (the same for every live agent)."""
        if agent is not None and agent not in self.agents:
            return []
        return list(MOVES) if self.agents else []

    def expert_action(self, agent: str | None = None) -> str:
        """Best response to the opponent's move counts (uniformly random before any)."""
        agent = agent or (self.agents[0] if self.agents else self.possible_agents[0])
        if agent not in self.agents:
            return ""
        round_index = len(self._moves[agent])
        rng = np.random.default_rng(
            [self._seed_key, self.possible_agents.index(agent), round_index]
        )
        seen = Counter(self._moves[self._other(agent)])
        if not seen:
            return str(MOVES[int(rng.integers(3))])
        # The value of a move = wins against the seen moves − losses against them.
        value = {m: seen[_BEATS[m]] - seen[_BEATS[_BEATS[m]]] for m in MOVES}
        best = max(value.values())
        choices = [m for m in MOVES if value[m] == best]
        return str(choices[int(rng.integers(len(choices)))])

    def role_of(self, agent: str) -> str:
        return self.roles[agent]

    # -- internals ---------------------------------------------------------------------------
    def _other(self, agent: str) -> str:
        return self.possible_agents[1 - self.possible_agents.index(agent)]

    @staticmethod
    def _parse(action: Any) -> tuple[str, str | None]:
        if not isinstance(action, str):
            return "", f"an action is text (a str), got {type(action).__name__}"
        if len(action) > 200:
            return "", f"the action is too long ({len(action)} characters)"
        move = _ALIASES.get(clean_action(action))
        if move is None:
            return "", "answer with rock, paper or scissors"
        return move, None

    def _observe(self, agent: str, over: bool = False) -> TextObservation:
        played = len(self._moves.get(agent, []))
        other = self._other(agent)
        lines = [*self._notes.get(agent, [])]
        lines.append(
            f"Score after {played} of {self.rounds} rounds: you {self._score[agent]:g}, "
            f"opponent {self._score[other]:g}."
        )
        lines.append(
            "The game is over." if over
            else f"Round {played + 1}: choose rock, paper or scissors."
        )
        return TextObservation("\n".join(lines))

    def _info(
        self, agent: str, valid: bool, parts: dict[str, float], *, over: bool, **extra: Any
    ) -> dict[str, Any]:
        other = self._other(agent)
        played = len(self._moves[agent])
        return agent_info(
            task_id=f"rps/{self.rounds}-rounds",
            instruction=(
                f"You play {self.rounds} rounds of rock-paper-scissors against one opponent; "
                "both of you move at the same time. Rock beats scissors, scissors beat paper, "
                "paper beats rock. Each round you win scores +1, each round you lose -1. Answer "
                "with one word: rock, paper or scissors."
            ),
            role=self.roles[agent],
            state_key=f"round={played}|score={self._score[agent]:g}:{self._score[other]:g}",
            action_valid=valid,
            reward_parts=parts,
            success=over and self._score[agent] > self._score[other],
            turn=self._steps,
            **extra,
        )
