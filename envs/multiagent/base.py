"""Base class of the turn-based text games: a PettingZoo ``AECEnv`` with text in and text out.

A subclass describes one game through a few hooks (:meth:`TextAECEnv._new_game`,
:meth:`~TextAECEnv._play`, :meth:`~TextAECEnv._view`, …); this class supplies what every game
shares:

* free-text observation and action spaces per agent (:class:`~agentgym.core.spaces.FreeText`),
  the same space object on every call (PettingZoo's seeding contract);
* the agentgym info contract on *every* agent's info, at all times: ``task_id``,
  ``instruction``, ``role``, ``state_key``, ``action_valid``, ``reward_parts``, ``success``
  (plus ``message`` after the agent's last action and the game's training-time extras);
* invalid actions: a non-string, an over-long string or anything the game's parser rejects is
  answered with ``action_valid=False`` and a message in that agent's next observation; the game
  state is unchanged and the same agent moves again — never an exception; a game built with
  ``invalid_moves_allowed=k`` ends instead when a seat makes its (k+1)-th invalid move in it:
  that seat forfeits (:meth:`TextAECEnv._forfeit`, by default −1 to it and +1 to each other seat,
  who win), so a policy cannot stall a game with refused moves;
* a turn limit (``max_turns`` steps of live agents, invalid ones included): every agent is then
  ``truncated`` with no further reward;
* ``admissible_actions(agent=None)`` and ``expert_action(agent=None)`` for the agent to move
  (or any named agent), which the rollout's random and expert policies call.

Observations tell each agent what happened since it last moved (the opponent's move, the
collaborator's answer, why its own action was refused), then the game's view and whose turn it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pettingzoo import AECEnv

from agentgym.core.env import echo_action
from agentgym.core.spaces import FreeText

#: Longest action a game accepts by default (characters); longer ones are invalid.
MAX_ACTION_CHARS = 4_000


class TextObservation(str):
    """An observation: a ``str`` that also carries ``dtype``, the text space's dtype.

    PettingZoo's ``api_test`` compares ``observation_space(agent).dtype`` with the observation's
    ``dtype``, which a plain ``str`` does not have; everything else sees an ordinary string.
    """

    __slots__ = ()
    dtype = FreeText().dtype


def agent_info(
    *,
    task_id: str,
    instruction: str,
    role: str,
    state_key: str,
    action_valid: bool = True,
    reward_parts: Mapping[str, float] | None = None,
    success: bool = False,
    **extra: Any,
) -> dict[str, Any]:
    """One agent's info dict with every key of the contract, typed."""
    info: dict[str, Any] = {
        "task_id": str(task_id),
        "instruction": str(instruction),
        "role": str(role),
        "state_key": str(state_key),
        "action_valid": bool(action_valid),
        "reward_parts": {str(k): float(v) for k, v in (reward_parts or {}).items()},
        "success": bool(success),
    }
    info.update(extra)
    return info


class TextAECEnv(AECEnv):
    """A turn-based game between text agents (subclass hooks below).

    Args:
        max_turns: steps of live agents (invalid ones included) before every agent is
            truncated; None for no limit.
        render_mode: None or ``"ansi"``.
        invalid_moves_allowed: invalid actions a seat may make in one game; the next one
            forfeits the game (:meth:`_forfeit`). None: no limit (the seat moves again).

    Subclasses set ``possible_agents`` and ``roles`` (agent → role name) before calling
    ``super().__init__``, and implement the hooks.
    """

    metadata: ClassVar[dict[str, Any]] = {
        "render_modes": ["ansi"],
        "name": "text_aec_v0",
        "is_parallelizable": False,
    }
    #: Agent name → role name (``"x"``/``"o"``, ``"first"``/``"second"``, ``"coder"`` …).
    roles: dict[str, str]
    max_action_chars: int = MAX_ACTION_CHARS

    def __init__(self, *, max_turns: int | None = None, render_mode: str | None = None,
                 invalid_moves_allowed: int | None = None) -> None:
        super().__init__()
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode={render_mode!r} is not supported; choose one of "
                f"{self.metadata['render_modes']}"
            )
        if max_turns is not None and max_turns < 1:
            raise ValueError(f"max_turns must be >= 1 or None, got {max_turns}")
        if invalid_moves_allowed is not None and invalid_moves_allowed < 0:
            raise ValueError(
                f"invalid_moves_allowed must be >= 0 or None, got {invalid_moves_allowed}")
        self.invalid_moves_allowed = invalid_moves_allowed
        self._invalid_moves: dict[str, int] = {}
        self.render_mode = render_mode
        self.max_turns = max_turns
        self._observation_spaces = {agent: FreeText() for agent in self.possible_agents}
        self._action_spaces = {
            agent: FreeText(sample_max_length=24) for agent in self.possible_agents
        }
        self.agents: list[str] = []
        self._notes: dict[str, list[str]] = {}
        # the refusal of the agent's last action, shown until it plays a valid one: only the
        # latest (a seat that repeats an invalid move must not see its prompt grow each time)
        self._last_refusal: dict[str, str] = {}
        self._turns = 0
        self._over = False
        self._success: dict[str, bool] = {}
        self._seed: int | None = None

    # -- hooks a game implements ------------------------------------------------------------
    def _new_game(self, seed: int | None, options: dict[str, Any] | None) -> None:
        """Set up a new game (deterministic in ``seed``)."""
        raise NotImplementedError

    def _to_move(self) -> str:
        """The agent whose turn it is (the game is not over)."""
        raise NotImplementedError

    def _play(self, agent: str, action: str) -> str | None:
        """Apply ``agent``'s action; return None when it was played, else the reason it was
        refused (and leave the game state untouched). Call :meth:`_finish` when it ends the game,
        :meth:`_announce` to tell the agents what happened and :meth:`_give` for rewards."""
        raise NotImplementedError

    def _view(self, agent: str) -> str:
        """What ``agent`` sees of the game now (board, cards, conversation state)."""
        raise NotImplementedError

    def _state_key(self, agent: str) -> str:
        """``agent``'s state without history (what it knows now), for anchor-state grouping."""
        raise NotImplementedError

    def _instruction(self, agent: str) -> str:
        """The rules and goal in words, for ``agent``."""
        raise NotImplementedError

    def _task_id(self) -> str:
        """Names the task; the same seed gives the same id."""
        raise NotImplementedError

    def legal_actions(self, agent: str) -> list[str]:
        """The valid actions of ``agent`` now (empty when it is not its turn)."""
        raise NotImplementedError

    def _expert(self, agent: str) -> str:
        """The game's expert move for ``agent`` (its turn)."""
        raise NotImplementedError

    def _render(self) -> str:
        """The whole game as text (``render()`` in ``ansi`` mode)."""
        return self._view(self.possible_agents[0])

    def _extra_info(self, agent: str) -> dict[str, Any]:
        """More info keys for ``agent`` (training-time information such as hidden specs)."""
        return {}

    # -- helpers for games --------------------------------------------------------------------
    def _announce(self, text: str, to: str | list[str] | None = None) -> None:
        """Tell ``to`` (default: every agent) what happened; shown in their next observation."""
        targets = self.possible_agents if to is None else [to] if isinstance(to, str) else to
        for agent in targets:
            self._notes.setdefault(agent, []).append(text)

    def _give(self, agent: str, part: str, value: float) -> None:
        """Add ``value`` to ``agent``'s reward part ``part`` of this step."""
        parts = self._step_parts.setdefault(agent, {})
        parts[part] = parts.get(part, 0.0) + float(value)

    def _forfeit(self, agent: str) -> None:
        """End the game because ``agent`` made more invalid moves than allowed: −1 to it and +1
        to every other seat (reward part ``outcome``), who win. Games with other stakes
        override this."""
        for other in self.possible_agents:
            self._give(other, "outcome", -1.0 if other == agent else 1.0)
        self._announce(f"{self.roles.get(agent, agent)} made more than "
                       f"{self.invalid_moves_allowed} invalid moves and forfeits the game.")
        self._finish({other: other != agent for other in self.possible_agents})

    def _finish(self, success: Mapping[str, bool]) -> None:
        """End the game; ``success[agent]`` says who solved/won it."""
        self._over = True
        self._success = {agent: bool(success.get(agent, False)) for agent in self.possible_agents}

    @property
    def turn(self) -> int:
        """Steps taken so far in this game (invalid ones included)."""
        return self._turns

    # -- PettingZoo API ----------------------------------------------------------------------
    def observation_space(self, agent: str) -> FreeText:
        return self._observation_spaces[agent]

    def action_space(self, agent: str) -> FreeText:
        return self._action_spaces[agent]

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None) -> None:
        self._seed = seed
        self.agents = list(self.possible_agents)
        self._notes = {agent: [] for agent in self.agents}
        self._last_refusal = {}
        self._invalid_moves = dict.fromkeys(self.possible_agents, 0)
        self._turns = 0
        self._over = False
        self._success = dict.fromkeys(self.agents, False)
        self._step_parts: dict[str, dict[str, float]] = {}
        self._new_game(seed, options)
        self.rewards = dict.fromkeys(self.agents, 0.0)
        self._cumulative_rewards = dict.fromkeys(self.agents, 0.0)
        self.terminations = dict.fromkeys(self.agents, False)
        self.truncations = dict.fromkeys(self.agents, False)
        self.infos = {agent: self._info(agent, True, {}) for agent in self.agents}
        self.agent_selection = self._to_move()

    def observe(self, agent: str) -> TextObservation:
        notes = self._notes.get(agent, [])
        if agent in self._last_refusal:
            notes = [*notes, self._last_refusal[agent]]
        head = "\n".join(notes) + "\n\n" if notes else ""
        return TextObservation(head + self._view(agent) + "\n\n" + self._prompt(agent))

    def step(self, action: Any) -> None:
        agent = self.agent_selection
        if self.terminations.get(agent) or self.truncations.get(agent):
            self._was_dead_step(action)
            return
        self._step_parts = {}
        self._turns += 1
        self._cumulative_rewards[agent] = 0.0
        message = self._refusal(action)
        if message is None:
            notes_before = list(self._notes.get(agent, []))
            self._notes[agent] = []
            message = self._play(agent, action)
            if message is not None:  # refused by the game: nothing changed, keep the notes
                self._notes[agent] = notes_before
        valid = message is None
        if valid:
            self._last_refusal.pop(agent, None)
        else:
            self._last_refusal[agent] = f"Invalid action {echo_action(action)}: {message}"
            self._invalid_moves[agent] = self._invalid_moves.get(agent, 0) + 1
            if (self.invalid_moves_allowed is not None
                    and self._invalid_moves[agent] > self.invalid_moves_allowed):
                self._forfeit(agent)
        if self._over:
            self.terminations = dict.fromkeys(self.agents, True)
        elif self.max_turns is not None and self._turns >= self.max_turns:
            self.truncations = dict.fromkeys(self.agents, True)
            self._announce(f"The turn limit ({self.max_turns} turns) was reached; the game ends.")
        self.rewards = {a: float(sum(self._step_parts.get(a, {}).values())) for a in self.agents}
        for other in self.agents:
            previous = self.infos.get(other, {})
            if other == agent:
                extra = {"message": "" if valid else str(message)}
                self.infos[other] = self._info(other, valid, self._step_parts.get(other, {}),
                                               **extra)
            else:
                self.infos[other] = self._info(
                    other, bool(previous.get("action_valid", True)),
                    self._step_parts.get(other, {}),
                    **({"message": previous["message"]} if "message" in previous else {}),
                )
        if not self._over and not self.truncations.get(agent, False):
            self.agent_selection = self._to_move()
        self._accumulate_rewards()
        self._deads_step_first()

    def render(self) -> str | None:
        if self.render_mode != "ansi":
            return None
        return self._render()

    def close(self) -> None:
        pass

    # -- optional methods of the agentgym contract -------------------------------------------
    def admissible_actions(self, agent: str | None = None) -> list[str]:
        """Valid actions of ``agent`` (default: the agent to move)."""
        agent = agent or self.agent_selection
        if self._over or agent not in self.agents or agent != self._live_to_move():
            return []
        return self.legal_actions(agent)

    def expert_action(self, agent: str | None = None) -> str:
        """The expert's action for ``agent`` (default: the agent to move)."""
        agent = agent or self.agent_selection
        if self._over or agent != self._live_to_move():
            return ""
        return self._expert(agent)

    def role_of(self, agent: str) -> str:
        """``agent``'s role name."""
        return self.roles[agent]

    # -- internals ---------------------------------------------------------------------------
    def _live_to_move(self) -> str | None:
        return None if self._over else self._to_move()

    def _refusal(self, action: Any) -> str | None:
        if not isinstance(action, str):
            return f"an action is text (a str), got {type(action).__name__}"
        if len(action) > self.max_action_chars:
            return f"the action is too long ({len(action)} > {self.max_action_chars} characters)"
        if not action.strip():
            return "the action is empty"
        return None

    def _prompt(self, agent: str) -> str:
        if self._over:
            return "The game is over."
        if self.max_turns is not None and self._turns >= self.max_turns:
            return "The game is over (turn limit)."
        if agent != self._to_move():
            return "Waiting for the other player."
        legal = self.legal_actions(agent)
        if legal and len(legal) <= 12:
            return "Your turn. Valid actions: " + ", ".join(legal) + "."
        return "Your turn."

    def _info(
        self, agent: str, valid: bool, parts: Mapping[str, float], **extra: Any
    ) -> dict[str, Any]:
        return agent_info(
            task_id=self._task_id(),
            instruction=self._instruction(agent),
            role=self.roles[agent],
            state_key=self._state_key(agent),
            action_valid=valid,
            reward_parts=parts,
            success=self._success.get(agent, False),
            turn=self._turns,
            **extra,
            **self._extra_info(agent),
        )


def clean_action(text: str) -> str:
    """A short move written loosely, in canonical form: lower case, single spaces, without
    surrounding brackets, quotes or a final full stop (``" [Cell 5]. "`` → ``"cell 5"``)."""
    text = " ".join(text.strip().lower().split()).rstrip(".!").strip()
    while len(text) >= 2 and text[0] + text[-1] in ("[]", "()", "{}", '""', "''", "``", "**"):
        text = text[1:-1].strip().rstrip(".!").strip()
    return text
