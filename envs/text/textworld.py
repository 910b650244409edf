"""TextWorld: household and cooking text adventures generated offline (ALFWorld's engine).

TextWorld (Côté et al., 2018, https://arxiv.org/abs/1806.11532) generates parser games from a
logic of rooms, containers, supporters, doors, keys and food, and compiles them to Z-machine
files played by Jericho. ALFWorld (Shridhar et al., 2021, https://arxiv.org/abs/2010.03768) runs
on the same engine; its own game files are a GitHub download, so this environment generates
games with ALFWorld-like household goals instead: by default ``tw-cooking`` (find the
ingredients in a small house, prepare the meal, eat it), or ``custom`` quests (open, take,
unlock, put), ``treasure_hunter`` and ``coin_collector``. See
:mod:`agentgym.envs.text.textworld_games` for generation and the on-disk cache.

Tasks and seeds: task ``i`` is the game generated with TextWorld seed ``i`` (modulo
``num_tasks`` when that is set; with ``pool_size`` every block of 1,000,000 seeds plays its own
pool of ``pool_size`` games, see :func:`pooled_task`). ``reset(seed=s)`` plays task ``s``;
``reset()`` without a seed plays the *next* task (the previous task's index + 1; task 0 on the
first reset), so an unseeded run walks the tasks in order, deterministically.
``reset(options={"task": i})`` picks task ``i`` whatever the seed.

**Easy split** (``split="easy"``): the cooking games' first tasks — one room (the kitchen), a
recipe of one ingredient (even task indices) or two (odd ones) lying in the kitchen, nothing to
open, cook or cut, so a game is won in 3–5 commands: ``examine cookbook``, ``take <ingredient>
from <place>`` for each ingredient, ``prepare meal``, ``eat meal``. The objective does not name
the ingredients (the cookbook does), so the expert reads the cookbook first, as a player who
cannot see the game's internals must. It plays pools of 32 games by default (``pool_size``), so
a training run generates about a hundred games once instead of one per seed.

Actions are free text matched (case and whitespace normalised) against TextWorld's admissible
commands; anything else is refused with ``action_valid=False``, a message listing some valid
commands, and an unchanged game (it is never sent to the interpreter).

Reward parts per turn: ``score`` (the change of the game's score: +1 per quest step reached)
and ``won`` (1.0 on the winning turn). ``terminated`` when the game is won or lost (e.g. the
cooking game is lost by eating a needed ingredient); ``success`` = won.

``state_key`` names what the player sees, built from TextWorld's logical facts rather than the
prose (see :func:`agentgym.envs.text.textworld_text.state_key`), e.g.
``room=kitchen|inv=flour(raw,uncut)|objs=fridge(open)[milk(raw)],plain door(open),table``.

Cost (2-core box under load): a valid step ~4-5 ms (~200 steps/s), an invalid one ~5 µs, a
reset 12-20 ms; generating a game ~4-8 s alone, ~2-4 s each when :meth:`TextWorldEnv.prepare`
generates a batch, then a cache hit.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from gymnasium.error import ResetNeeded

from agentgym.core.env import TextEnv, echo_action
from agentgym.core.trajectory import normalize_action
from agentgym.core.wrappers import RESET_NEEDED_MESSAGE
from agentgym.envs.text.textworld_games import (
    GameConfig,
    default_cache_dir,
    ensure_game,
    ensure_games,
)
from agentgym.envs.text.textworld_text import clean_feedback, state_key

#: Seeds per block of :func:`pooled_task` (the trainer's training, held-out and demonstration
#: seeds start at 0, 1,000,000 and 2,000,000).
SEED_BLOCK = 1_000_000
#: Splits: ``None`` (the settings given) and ``easy`` (see the module doc).
SPLITS = (None, "easy")
#: Games per seed block of the easy split unless ``pool_size`` says otherwise.
EASY_POOL_SIZE = 32

#: Commands that never change the game; listed after the others in the invalid-action message.
_PASSIVE_PREFIXES = ("examine ", "look", "inventory")
#: Characters of an invalid action echoed back in the message.
_ECHO_CHARS = 60
#: The verbs and particles of TextWorld's commands (its grammar's ``take {f} from {c}``, ...).
COMMAND_WORDS = (
    "chop", "close", "cook", "dice", "drink", "drop", "east", "eat", "examine", "from", "go",
    "grill", "fry", "insert", "into", "inventory", "lock", "look", "meal", "north", "on", "open",
    "prepare", "put", "roast", "slice", "south", "take", "unlock", "west", "with",
)


def select_task(
    previous: int | None,
    seed: int | None,
    options: Mapping[str, Any] | None,
    num_tasks: int | None,
) -> int:
    """The task index a reset plays.

    ``options["task"]`` if given, else ``seed``, else ``previous + 1`` (``0`` on the first
    reset); wrapped modulo ``num_tasks`` when that is set.

    >>> select_task(None, None, None, None), select_task(4, None, None, None)
    (0, 5)
    >>> select_task(4, 7, {"task": 2}, None), select_task(1, None, None, 2)
    (2, 0)
    """
    if options and options.get("task") is not None:
        index = int(options["task"])
    elif seed is not None:
        index = int(seed)
    elif previous is not None:
        index = previous + 1
    else:
        index = 0
    if index < 0:
        raise ValueError(f"task index must be >= 0, got {index}")
    return index % num_tasks if num_tasks else index


def pooled_task(index: int, pool_size: int) -> int:
    """The game a task index plays when each block of :data:`SEED_BLOCK` seeds has a pool of
    ``pool_size`` games: ``block · SEED_BLOCK + (index mod SEED_BLOCK) mod pool_size``.

    Seeds of different blocks never share a game, so the trainer's training, held-out and
    demonstration seeds play disjoint pools.

    >>> pooled_task(5, 4), pooled_task(1_000_005, 4), pooled_task(2_000_003, 4)
    (1, 1000001, 2000003)
    """
    block, offset = divmod(int(index), SEED_BLOCK)
    return block * SEED_BLOCK + offset % int(pool_size)


def _request_infos() -> Any:
    import textworld

    return textworld.EnvInfos(
        admissible_commands=True,
        policy_commands=True,
        facts=True,
        objective=True,
        score=True,
        max_score=True,
        won=True,
        lost=True,
        feedback=True,
        extras=["walkthrough"],
    )


class TextWorldEnv(TextEnv):
    """Generated TextWorld games behind the agentgym text-environment API.

    Args:
        challenge: ``cooking`` (default), ``custom``, ``treasure_hunter`` or ``coin_collector``.
        rooms: number of rooms; default 6 for cooking (one of 1, 6, 9, 12), 3 for custom.
        objects: custom: minimum number of objects.
        quest_length: custom: actions the quest needs.
        recipe: cooking: ingredients in the recipe.
        take: cooking: ingredients to find around the house.
        need_open: cooking: containers and doors start closed.
        need_cook: cooking: some ingredients must be cooked.
        need_cut: cooking: some ingredients must be cut.
        level: treasure_hunter / coin_collector difficulty.
        split: ``None`` (the settings above) or ``"easy"`` (the cooking games' first tasks;
            replaces the cooking settings, see the module doc).
        num_tasks: when set, task indices wrap around a pool of this many games.
        pool_size: when set, each block of 1,000,000 seeds plays a pool of this many games
            (:func:`pooled_task`; generated together on first use); the easy split's default
            is 32.
        cache_dir: where generated games are kept; default ``$AGENTGYM_CACHE_DIR/textworld``
            or ``~/.cache/agentgym/textworld``.
        generation_timeout: seconds allowed to generate one game.
        max_listed_actions: valid commands named in the answer to an invalid action.
        reward_weights: weight per reward part (``score``, ``won``).
        render_mode: ``None`` or ``"ansi"`` (the current observation text).

    Info keys beyond the contract: ``admissible_actions`` (sorted list), ``score``,
    ``max_score``, ``won``, ``lost``, ``distance_to_goal`` (:meth:`distance_to_goal`); at reset
    also ``game_file``. The walkthrough is kept out
    of the infos (a prompt built from them would leak the solution); it is in the game's
    ``meta.json``, and :meth:`expert_action` gives the oracle's next command.
    """

    def __init__(
        self,
        challenge: str = "cooking",
        *,
        rooms: int | None = None,
        objects: int = 6,
        quest_length: int = 3,
        recipe: int = 1,
        take: int = 1,
        need_open: bool = True,
        need_cook: bool = False,
        need_cut: bool = False,
        level: int = 1,
        split: str | None = None,
        num_tasks: int | None = None,
        pool_size: int | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        generation_timeout: float = 300.0,
        max_listed_actions: int = 10,
        reward_weights: Mapping[str, float] | None = None,
        render_mode: str | None = None,
    ) -> None:
        super().__init__(reward_weights=reward_weights, render_mode=render_mode)
        if split not in SPLITS:
            raise ValueError(f"unknown TextWorld split {split!r}; choose None or 'easy'")
        self.split = split
        if split == "easy":
            challenge, rooms, recipe, take = "cooking", 1, 1, 1
            need_open = need_cook = need_cut = False
            pool_size = EASY_POOL_SIZE if pool_size is None else pool_size
        if rooms is None:
            rooms = 3 if challenge == "custom" else 6
        self.config = GameConfig(
            challenge=challenge,
            rooms=rooms,
            objects=objects,
            quest_length=quest_length,
            recipe=recipe,
            take=take,
            need_open=need_open,
            need_cook=need_cook,
            need_cut=need_cut,
            level=level,
        )
        if num_tasks is not None and num_tasks < 1:
            raise ValueError(f"num_tasks must be >= 1 or None, got {num_tasks}")
        if pool_size is not None and not 1 <= pool_size <= SEED_BLOCK:
            raise ValueError(f"pool_size must be in [1, {SEED_BLOCK}] or None, got {pool_size}")
        if pool_size is not None and num_tasks is not None:
            raise ValueError("set num_tasks or pool_size, not both")
        self.num_tasks = num_tasks
        self.pool_size = pool_size
        self.cache_dir = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
        self.generation_timeout = float(generation_timeout)
        self.max_listed_actions = int(max_listed_actions)

        self._tw_env: Any = None  # the textworld environment (Jericho + state tracking)
        self._game_file: Path | None = None
        self._task_index: int | None = None
        self._game_state: Any = None
        self._observation = ""
        self._state_key = ""
        self._commands: dict[str, str] = {}  # normalised -> exact admissible command
        self._score = 0
        self._done = False
        self._walkthrough: list[str] = []
        self._walk_pos = 0
        self._read_cookbook = False

    # -- tasks ------------------------------------------------------------------------------
    def config_for(self, index: int) -> GameConfig:
        """The settings of task ``index`` (the easy split: two ingredients on odd indices)."""
        if self.split == "easy" and index % 2:
            return replace(self.config, recipe=2, take=2)
        return self.config

    def task_id(self, index: int) -> str:
        """Stable id of task ``index``: ``tw-<challenge>-s<index>-<settings digest>``."""
        return self.config_for(index).task_name(index)

    def _task_of(self, seed: int | None, options: Mapping[str, Any] | None) -> int:
        index = select_task(self._task_index, seed, options, self.num_tasks)
        if self.pool_size is not None and not (options and options.get("task") is not None):
            index = pooled_task(index, self.pool_size)
        return index

    def _ensure(self, index: int) -> Path:
        """The game of task ``index``; with a pool, the whole pool of its block is generated
        in one batch the first time one of its games is needed."""
        config = self.config_for(index)
        path = self.cache_dir / config.task_name(index) / "game.z8"
        if self.pool_size is not None and not path.exists():
            first = index - index % SEED_BLOCK
            self.prepare(range(first, first + self.pool_size))
        return ensure_game(config, index, self.cache_dir, timeout=self.generation_timeout)

    def prepare(self, tasks: Iterable[int], *, workers: int = 1) -> list[str]:
        """Generate (or find in the cache) the games of ``tasks`` ahead of time.

        Batched generation is about twice as fast per game as generating at each reset.

        Args:
            tasks: task indices (wrapped modulo ``num_tasks`` when that is set).
            workers: generator processes run in parallel.

        Returns:
            The ``game.z8`` paths.
        """
        indices = [self._task_of(int(t), None) for t in tasks]
        by_config: dict[GameConfig, list[int]] = {}
        for index in indices:
            by_config.setdefault(self.config_for(index), []).append(index)
        found: dict[int, Path] = {}
        for config, group in by_config.items():
            paths = ensure_games(
                config, group, self.cache_dir, timeout=self.generation_timeout, workers=workers
            )
            found.update(zip(group, paths, strict=True))
        return [str(found[i]) for i in indices]

    def _load(self, game_file: Path) -> None:
        if self._tw_env is not None and self._game_file == game_file:
            return  # same game: a reset is enough
        import textworld

        self._close_game()
        with warnings.catch_warnings():  # "not fully supported by Jericho": TextWorld tracks state
            warnings.simplefilter("ignore")
            self._tw_env = textworld.start(str(game_file), request_infos=_request_infos())
        self._game_file = game_file

    # -- gymnasium API ----------------------------------------------------------------------
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[str, dict[str, Any]]:
        super().reset(seed=seed)
        index = self._task_of(seed, options)
        game_file = self._ensure(index)
        self._load(game_file)
        self._task_index = index
        state = self._tw_env.reset()
        self._walkthrough = list(state.get("extra.walkthrough") or [])
        self._walk_pos = 0
        self._read_cookbook = False
        self._score = int(state.get("score") or 0)
        self._done = False
        self._update(state)
        self._observation = clean_feedback(state.feedback or "") or str(state["objective"])
        return self._observation, self.reset_info(
            task_id=self.task_id(index),
            instruction=str(state["objective"]),
            state_key=self._state_key,
            admissible_actions=self.admissible_actions(),
            score=self._score,
            max_score=int(state["max_score"]),
            game_file=str(game_file),
            distance_to_goal=self.distance_to_goal(),
        )

    def step(self, action: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        if self._game_state is None:
            raise ResetNeeded(RESET_NEEDED_MESSAGE)
        if self._done:
            return self._refuse("The game is over; call reset() to play again.")
        command = self._match(action)
        if command is None:
            return self._refuse(self._invalid_message(action))

        state, _, _ = self._tw_env.step(command)
        self._read_cookbook |= normalize_action(command) == "examine cookbook"
        if self._walk_pos < len(self._walkthrough) and (
            normalize_action(self._walkthrough[self._walk_pos]) == normalize_action(command)
        ):
            self._walk_pos += 1
        score = int(state.get("score") or 0)
        won, lost = bool(state.get("won")), bool(state.get("lost"))
        parts = {"score": float(score - self._score), "won": 1.0 if won else 0.0}
        self._score = score
        self._done = won or lost
        self._update(state)
        self._observation = clean_feedback(state.feedback or "") or "Nothing happens."
        info = self._info(action_valid=True, parts=parts, success=won)
        return self._observation, self.reward_from_parts(parts), self._done, False, info

    def render(self) -> str | None:
        return self._observation if self.render_mode == "ansi" else None

    def close(self) -> None:
        self._close_game()
        self._game_state = None
        super().close()

    #: A tiny model's tokenizer keeps :meth:`tokenizer_words` whole also where its BPE merges
    #: knew them (``prepare`` is then one id at the start of an action and after a space).
    tokenizer_words_everywhere = True

    def tokenizer_words(self) -> list[str]:
        """Words a tokenizer trained for these games should keep whole: the command words and
        every food, object, door and room name of TextWorld's cooking games. A name of several
        words (``white tuna``) becomes one token, the same at the start of a cookbook line as in
        ``take white tuna from fridge``."""
        from textworld.challenges.tw_cooking import cooking

        names = set(cooking.FOODS)
        names.update(name for entity in cooking.ENTITIES.values() for name in entity["names"])
        names.update(name for door in cooking.DOORS for name in door["names"])
        names.update(room for level in cooking.ROOMS for room in level)
        return sorted(names | set(COMMAND_WORDS))

    # -- oracle and action set --------------------------------------------------------------
    def admissible_actions(self) -> list[str]:
        """Commands the game accepts now, sorted (empty once the game is over)."""
        if self._done or self._game_state is None:
            return []
        return sorted(set(self._commands.values()))

    def distance_to_goal(self) -> float | None:
        """Commands left to win: the length of TextWorld's winning policy re-planned from the
        current state (the walkthrough that remains), 0 once won, ``inf`` once lost, None when
        TextWorld gives no plan.

        It is read from the game state TextWorld already tracks (``policy_commands``), so it
        costs nothing per step; only its length is reported, never the commands (a prompt built
        from the infos cannot leak the solution).
        """
        state = self._game_state
        if state is None:
            raise ResetNeeded("call reset() before distance_to_goal()")
        if state.get("won"):
            return 0
        if state.get("lost"):
            return float("inf")
        policy = state.get("policy_commands")
        return len(policy) if policy else None

    def expert_action(self) -> str:
        """Next command of TextWorld's winning policy, re-planned from the current state.

        Falls back to the walkthrough (while the agent has followed it), then to ``look``. In the
        easy split it reads the cookbook first (the objective does not name the ingredients).
        """
        if self._game_state is None or self._done:
            return "look"
        cookbook = "examine cookbook"
        if self.split == "easy" and not self._read_cookbook and cookbook in self._commands:
            return self._commands[cookbook]
        policy = list(self._game_state.get("policy_commands") or [])
        if policy:
            return str(policy[0])
        if self._walk_pos < len(self._walkthrough):
            step = self._walkthrough[self._walk_pos]
            if self._match(step) is not None:
                return step
        return "look"

    # -- internals --------------------------------------------------------------------------
    def _update(self, state: Any) -> None:
        self._game_state = state
        self._state_key = state_key(state.get("facts") or [])
        # The next step of the winning policy is executable by construction; accept it even if
        # TextWorld's admissible list were to miss it, so the expert can always act.
        commands = [
            *(state.get("admissible_commands") or []),
            *(state.get("policy_commands") or [])[:1],
        ]
        self._commands = {normalize_action(c): str(c) for c in commands}

    def _match(self, action: Any) -> str | None:
        if not isinstance(action, str) or len(action) > 1000:
            return None
        return self._commands.get(normalize_action(action).rstrip(".!"))

    def _invalid_message(self, action: Any) -> str:
        valid = self.admissible_actions()
        ordered = sorted(valid, key=lambda c: (c.startswith(_PASSIVE_PREFIXES), c))
        listed = ", ".join(ordered[: self.max_listed_actions])
        more = f" ({len(valid)} in all)" if len(valid) > self.max_listed_actions else ""
        return (
            f"{echo_action(action, _ECHO_CHARS)} is not a valid command here; nothing happened. "
            f"Valid commands include: {listed}{more}."
        )

    def _refuse(self, message: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        parts = {"score": 0.0, "won": 0.0}
        info = self._info(action_valid=False, parts=parts, success=False)
        self._observation = message
        return message, self.reward_from_parts(parts), self._done, False, info

    def _info(self, *, action_valid: bool, parts: dict[str, float], success: bool) -> dict:
        state = self._game_state
        return self.step_info(
            state_key=self._state_key,
            action_valid=action_valid,
            reward_parts=parts,
            success=success,
            admissible_actions=self.admissible_actions(),
            score=self._score,
            max_score=int(state["max_score"]),
            won=bool(state.get("won")),
            lost=bool(state.get("lost")),
            distance_to_goal=self.distance_to_goal(),
        )

    def _close_game(self) -> None:
        if self._tw_env is not None:
            self._tw_env.close()
        self._tw_env = None
        self._game_file = None
