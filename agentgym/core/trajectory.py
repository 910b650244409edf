"""The episode data model shared by environments, credit assignment and trainers.

* :class:`Turn` — one agent action and what the environment answered.
* :class:`Episode` — the turns of one play of one task; episodes of the same task played from the
  same seed share a ``group_id`` (the group GRPO-style baselines compare within).
* :class:`StepBatch` — the columnar view of many episodes that every credit method consumes:
  numpy arrays with one row per turn.

Conventions. ``Turn.state_key`` names the state *in which the action was taken* (the observation
the agent saw, without history): that is the anchor state GiGPO groups by. ``Turn.observation``
is the observation that state produced, i.e. the policy's input at that turn.

Episodes round-trip through JSON lines (:func:`save_episodes` / :func:`load_episodes`).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

_WHITESPACE = re.compile(r"\s+")


def stable_hash(text: str) -> int:
    """A 64-bit signed hash of ``text`` that is the same in every process (unlike ``hash``)."""
    digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "little", signed=True)


def role_id(role: str | None) -> int:
    """The int64 id of a role in :attr:`StepBatch.role`: 0 for None, else :func:`stable_hash`."""
    return 0 if role is None else stable_hash(str(role))


def normalize_action(action: str) -> str:
    """Canonical form of an action for equality: stripped, lower-cased, single-spaced."""
    return _WHITESPACE.sub(" ", action.strip().lower())


@dataclass
class Turn:
    """One turn: the observation shown, the action taken and the environment's answer.

    Attributes:
        observation: the observation the action was chosen from.
        action: the action text passed to ``env.step`` (after extraction from the model output).
        reward: the turn's scalar reward (the configured combination of ``reward_parts``).
        reward_parts: named reward components of this turn.
        state_key: the state the action was taken in, without history (see module doc).
        action_valid: False when the environment could not execute the action.
        terminated: the task ended on this turn.
        truncated: the turn or context budget ran out on this turn.
        info: the rest of the step's info dict (JSON-serializable values).
        prompt_ids: token ids of the prompt the policy saw (LLM policies only).
        response_ids: token ids the policy generated, exactly as sampled.
        response_logprobs: log-probability of each response token under the sampling policy.
        response_text: the raw model output the action was extracted from.
        prompt_images: images the prompt showed (uint8 ``(H, W, 3)`` arrays, vision-language
            policies only), in the order of the prompt's image placeholders.
    """

    observation: str
    action: str
    reward: float = 0.0
    reward_parts: dict[str, float] = field(default_factory=dict)
    state_key: str = ""
    action_valid: bool = True
    terminated: bool = False
    truncated: bool = False
    info: dict[str, Any] = field(default_factory=dict)
    prompt_ids: list[int] | None = None
    response_ids: list[int] | None = None
    response_logprobs: list[float] | None = None
    response_text: str | None = None
    prompt_images: list[Any] | None = None


@dataclass
class Episode:
    """One play of one task.

    Attributes:
        env_id: the registered environment id.
        task_id: the task played (``reset`` info ``task_id``).
        group_id: episodes of the same task from the same seed share it.
        episode_id: unique within a batch.
        seed: the seed passed to ``env.reset``.
        turns: the turns in order.
        success: whether the task was solved.
        outcome: the episode's final score (``info["score"]`` of the last step when the
            environment reports one, else the sum of turn rewards).
        info: the ``reset`` info (``instruction``, ``answer`` …) and run metadata such as
            ``error`` when the environment crashed.
        role: the seat's role in a multi-agent game (``"x"``, ``"first"``, ``"coder"`` …):
            each seat's turns form their own episode; None for single-agent environments.
    """

    env_id: str
    task_id: str
    group_id: str
    episode_id: str
    seed: int | None
    turns: list[Turn] = field(default_factory=list)
    success: bool = False
    outcome: float = 0.0
    info: dict[str, Any] = field(default_factory=dict)
    role: str | None = None

    @property
    def total_reward(self) -> float:
        return float(sum(turn.reward for turn in self.turns))

    @property
    def terminated(self) -> bool:
        return bool(self.turns) and self.turns[-1].terminated

    @property
    def truncated(self) -> bool:
        return bool(self.turns) and self.turns[-1].truncated

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Episode:
        turn_fields = {f.name for f in fields(Turn)}
        turns = [Turn(**{k: v for k, v in t.items() if k in turn_fields}) for t in data["turns"]]
        episode_fields = {f.name for f in fields(cls)} - {"turns"}
        return cls(turns=turns, **{k: v for k, v in data.items() if k in episode_fields})


def _jsonable(value: Any) -> Any:
    """Convert numpy scalars/arrays and other stray types so ``json.dumps`` accepts them."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return repr(value)


def save_episodes(episodes: Iterable[Episode], path: str | Path) -> Path:
    """Write episodes as JSON lines (one episode per line); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for episode in episodes:
            f.write(json.dumps(_jsonable(episode.to_dict()), ensure_ascii=False))
            f.write("\n")
    return path


def load_episodes(path: str | Path) -> list[Episode]:
    """Read episodes written by :func:`save_episodes`."""
    with Path(path).open(encoding="utf-8") as f:
        return [Episode.from_dict(json.loads(line)) for line in f if line.strip()]


@dataclass
class StepBatch:
    """Columnar view of many episodes: one row per turn, the input of every credit method.

    All arrays have shape ``(n_rows,)``. Rows of an episode need not be contiguous or ordered:
    credit methods order by ``(episode, t)`` themselves.

    Attributes:
        group: int64, task group index (same task and seed ⇒ same group).
        episode: int64, episode index (unique across the batch).
        t: int64, turn index within the episode (0-based).
        reward: float64, the turn reward.
        done: bool, True on the last turn of an episode.
        state: int64, :func:`stable_hash` of the turn's ``state_key``.
        action: int64, :func:`stable_hash` of the normalized action.
        valid: bool, whether the action was valid.
        outcome: float64, the episode's final score, repeated on each of its rows.
        terminated: bool, the episode's task ended on this turn.
        truncated: bool, the budget ran out on this turn.
        reward_parts: named reward components, each a float64 array (0 where a turn lacks it).
        state_key: object array of the ``state_key`` strings (for similarity grouping), or None.
        episodes: the source episodes, index ``i`` ↔ ``episode == i`` (None when built from arrays).
        role: int64, :func:`role_id` of the episode's ``Episode.role`` (0 when it has none), so
            one role gets one id in every batch; None (the default, and what
            :meth:`from_episodes` gives when no episode has a role) means role 0 on every row —
            see :meth:`roles`.
    """

    group: np.ndarray
    episode: np.ndarray
    t: np.ndarray
    reward: np.ndarray
    done: np.ndarray
    state: np.ndarray
    action: np.ndarray
    valid: np.ndarray
    outcome: np.ndarray
    terminated: np.ndarray | None = None
    truncated: np.ndarray | None = None
    reward_parts: dict[str, np.ndarray] = field(default_factory=dict)
    state_key: np.ndarray | None = None
    episodes: Sequence[Episode] | None = None
    role: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.reward)
        self.group = np.asarray(self.group, dtype=np.int64)
        self.episode = np.asarray(self.episode, dtype=np.int64)
        self.t = np.asarray(self.t, dtype=np.int64)
        self.reward = np.asarray(self.reward, dtype=np.float64)
        self.done = np.asarray(self.done, dtype=bool)
        self.state = np.asarray(self.state, dtype=np.int64)
        self.action = np.asarray(self.action, dtype=np.int64)
        self.valid = np.asarray(self.valid, dtype=bool)
        self.outcome = np.asarray(self.outcome, dtype=np.float64)
        self.terminated = (
            np.zeros(n, dtype=bool) if self.terminated is None
            else np.asarray(self.terminated, dtype=bool)
        )
        self.truncated = (
            np.zeros(n, dtype=bool) if self.truncated is None
            else np.asarray(self.truncated, dtype=bool)
        )
        self.reward_parts = {
            k: np.asarray(v, dtype=np.float64) for k, v in self.reward_parts.items()
        }
        if self.state_key is not None:
            self.state_key = np.asarray(self.state_key, dtype=object)
        if self.role is not None:
            self.role = np.asarray(self.role, dtype=np.int64)
        self.validate()

    def __len__(self) -> int:
        return len(self.reward)

    @property
    def n_rows(self) -> int:
        return len(self.reward)

    def roles(self) -> np.ndarray:
        """``(n_rows,)`` int64 role ids: the ``role`` column, or zeros when it is None."""
        return self.role if self.role is not None else np.zeros(len(self), dtype=np.int64)

    def validate(self) -> None:
        """Raise ``ValueError`` naming the column when lengths differ or rewards are not finite."""
        n = len(self.reward)
        columns: dict[str, np.ndarray | None] = {
            "group": self.group, "episode": self.episode, "t": self.t, "done": self.done,
            "state": self.state, "action": self.action, "valid": self.valid,
            "outcome": self.outcome, "terminated": self.terminated, "truncated": self.truncated,
            "state_key": self.state_key, "role": self.role,
            **{f"reward_parts[{k!r}]": v for k, v in self.reward_parts.items()},
        }
        for name, column in columns.items():
            if column is not None and (column.ndim != 1 or len(column) != n):
                raise ValueError(
                    f"StepBatch column {name} has shape {column.shape}; expected ({n},) "
                    "like reward"
                )
        for name in ("reward", "outcome", *(f"reward_parts[{k!r}]" for k in self.reward_parts)):
            column = columns.get(name, self.reward)
            if not np.all(np.isfinite(column)):
                bad = int(np.flatnonzero(~np.isfinite(column))[0])
                raise ValueError(f"StepBatch column {name} is not finite at row {bad}")

    @classmethod
    def from_episodes(cls, episodes: Sequence[Episode]) -> StepBatch:
        """Build the columnar view of ``episodes`` (rows ordered by episode, then turn).

        ``group`` indexes distinct ``group_id`` values in order of first appearance; ``role`` is
        filled when any episode has an ``Episode.role`` (multi-agent games), else None.
        """
        group_index: dict[str, int] = {}
        lengths = np.fromiter((len(e.turns) for e in episodes), dtype=np.int64, count=len(episodes))
        episode_groups = np.fromiter(
            (group_index.setdefault(e.group_id, len(group_index)) for e in episodes),
            dtype=np.int64,
            count=len(episodes),
        )
        turns = [turn for e in episodes for turn in e.turns]
        n = len(turns)
        episode = np.repeat(np.arange(len(episodes), dtype=np.int64), lengths)
        starts = np.cumsum(lengths) - lengths
        t = np.arange(n, dtype=np.int64) - np.repeat(starts, lengths)
        done = np.zeros(n, dtype=bool)
        done[(starts + lengths - 1)[lengths > 0]] = True
        part_names = sorted({name for turn in turns for name in turn.reward_parts})
        state_keys = np.array([turn.state_key for turn in turns], dtype=object)
        return cls(
            group=np.repeat(episode_groups, lengths),
            episode=episode,
            t=t,
            reward=np.array([turn.reward for turn in turns], dtype=np.float64),
            done=done,
            state=np.array([stable_hash(k) for k in state_keys], dtype=np.int64),
            action=np.array([stable_hash(normalize_action(tn.action)) for tn in turns], np.int64),
            valid=np.array([turn.action_valid for turn in turns], dtype=bool),
            outcome=np.repeat(np.array([e.outcome for e in episodes], dtype=np.float64), lengths),
            terminated=np.array([turn.terminated for turn in turns], dtype=bool),
            truncated=np.array([turn.truncated for turn in turns], dtype=bool),
            reward_parts={
                name: np.array([turn.reward_parts.get(name, 0.0) for turn in turns], np.float64)
                for name in part_names
            },
            state_key=state_keys,
            episodes=list(episodes),
            role=np.repeat(
                np.array([role_id(e.role) for e in episodes], dtype=np.int64), lengths
            ) if any(e.role is not None for e in episodes) else None,
        )

    def per_episode(self, values: np.ndarray) -> list[list[float]]:
        """Split a per-row array into per-episode lists ordered by turn (for inspection)."""
        values = np.asarray(values)
        order = np.lexsort((self.t, self.episode))
        n_episodes = int(self.episode.max()) + 1 if len(self) else 0
        out: list[list[float]] = [[] for _ in range(n_episodes)]
        for row in order:
            out[self.episode[row]].append(float(values[row]))
        return out
