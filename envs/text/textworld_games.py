"""Generating TextWorld games offline and caching them on disk, one folder per (settings, task).

A game is made by TextWorld's own generator (Côté et al., 2018, "TextWorld: A Learning
Environment for Text-based Games", https://arxiv.org/abs/1806.11532): a challenge from
``textworld.challenges`` (``tw-cooking``, ``tw-treasure_hunter``, ``tw-coin_collector``) or a
``custom`` game (a small house with rooms, containers and a random quest), compiled to a Z-machine
``.z8`` file by the bundled Inform 7 compiler.

Generation runs in a child Python process with ``PYTHONHASHSEED=0``. TextWorld iterates over sets
while it builds a game, so in a hash-randomised interpreter the same seed gives games whose files
(and room descriptions) differ in small ways; a fixed hash seed makes the files byte-identical in
every process, and the child keeps TextWorld's global state out of the caller's process.

Cache layout (``cache_dir`` defaults to ``$AGENTGYM_CACHE_DIR/textworld``, else
``~/.cache/agentgym/textworld``)::

    <cache_dir>/tw-cooking-s3-1a2b3c4d/      # task name: challenge, task index, settings digest
        game.z8  game.json  meta.json
    <cache_dir>/.locks/<task name>.lock

Games are generated into a temporary folder inside ``cache_dir`` and renamed into place, so a
reader never sees a half-written game; a per-task file lock keeps concurrent processes and threads
from generating the same game twice.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from agentgym.core.paths import cache_dir

#: Challenges :class:`GameConfig` knows, mapped to TextWorld's challenge names (``None``: custom).
CHALLENGES: dict[str, str | None] = {
    "cooking": "tw-cooking",
    "custom": None,
    "treasure_hunter": "tw-treasure_hunter",
    "coin_collector": "tw-coin_collector",
}
#: Number of rooms ``tw-cooking`` can lay out.
COOKING_ROOMS: tuple[int, ...] = (1, 6, 9, 12)
#: Files a complete cached game folder holds.
GAME_FILES: tuple[str, ...] = ("game.z8", "game.json", "meta.json")
#: Bumped when the way games are generated changes, so old caches are not reused.
GENERATOR_VERSION = 1
#: Attempts (with derived seeds) before a custom game whose quest cannot be built is an error.
MAX_ATTEMPTS = 5


def default_cache_dir() -> Path:
    """``$AGENTGYM_CACHE_DIR/textworld`` if that variable is set, else
    ``~/.cache/agentgym/textworld``."""
    return cache_dir("textworld")


@dataclass(frozen=True)
class GameConfig:
    """Difficulty settings of generated games; only those of ``challenge`` matter.

    Attributes:
        challenge: ``cooking`` (tw-cooking: find the recipe's ingredients, prepare and eat the
            meal), ``custom`` (a house with a random quest: take, open, unlock, put ...),
            ``treasure_hunter`` or ``coin_collector``.
        rooms: number of rooms (cooking: one of 1, 6, 9, 12; custom: any >= 1).
        objects: custom: minimum number of objects in the house.
        quest_length: custom: number of actions the quest needs.
        recipe: cooking: number of ingredients in the recipe.
        take: cooking: number of ingredients to find (<= ``recipe``).
        need_open: cooking: containers and doors start closed and must be opened.
        need_cook: cooking: some ingredients must be cooked.
        need_cut: cooking: some ingredients must be cut.
        level: treasure_hunter (1-30) and coin_collector (1-300) difficulty.
    """

    challenge: str = "cooking"
    rooms: int = 6
    objects: int = 6
    quest_length: int = 3
    recipe: int = 1
    take: int = 1
    need_open: bool = True
    need_cook: bool = False
    need_cut: bool = False
    level: int = 1

    def __post_init__(self) -> None:
        if self.challenge not in CHALLENGES:
            known = ", ".join(sorted(CHALLENGES))
            raise ValueError(
                f"unknown TextWorld challenge {self.challenge!r}; choose one of {known}"
            )
        if self.challenge == "cooking":
            if self.rooms not in COOKING_ROOMS:
                raise ValueError(f"cooking games have rooms in {COOKING_ROOMS}, got {self.rooms}")
            if not 1 <= self.recipe <= 5 or not 0 <= self.take <= self.recipe:
                raise ValueError(
                    f"cooking needs 1 <= recipe <= 5 and 0 <= take <= recipe, got "
                    f"recipe={self.recipe}, take={self.take}"
                )
        elif self.challenge == "custom":
            if self.rooms < 1 or self.objects < 0 or self.quest_length < 1:
                raise ValueError(
                    f"custom games need rooms >= 1, objects >= 0 and quest_length >= 1, got "
                    f"rooms={self.rooms}, objects={self.objects}, quest_length={self.quest_length}"
                )
        else:
            top = 30 if self.challenge == "treasure_hunter" else 300
            if not 1 <= self.level <= top:
                raise ValueError(f"{self.challenge} needs 1 <= level <= {top}, got {self.level}")

    def settings(self) -> dict[str, Any]:
        """The settings that matter for this challenge (what the task id's digest covers)."""
        if self.challenge == "cooking":
            return {
                "go": self.rooms,
                "recipe": self.recipe,
                "take": self.take,
                "open": self.need_open,
                "cook": self.need_cook,
                "cut": self.need_cut,
            }
        if self.challenge == "custom":
            return {"rooms": self.rooms, "objects": self.objects, "quest_length": self.quest_length}
        return {"level": self.level}

    def digest(self) -> str:
        """8 hex characters naming the challenge, its settings and the generator version."""
        payload = json.dumps(
            {"challenge": self.challenge, "settings": self.settings(), "v": GENERATOR_VERSION},
            sort_keys=True,
        )
        return hashlib.sha256(payload.encode()).hexdigest()[:8]

    def task_name(self, index: int) -> str:
        """Stable name of task ``index``: ``tw-<challenge>-s<index>-<digest>``."""
        return f"tw-{self.challenge}-s{int(index)}-{self.digest()}"


def game_seed(index: int, attempt: int) -> int:
    """TextWorld seed of task ``index``: the index itself, then derived seeds on retries."""
    if attempt == 0:
        return int(index)
    digest = hashlib.sha256(f"{index}:{attempt}".encode()).digest()
    return int.from_bytes(digest[:4], "little") % (2**31 - 1)


def is_complete(folder: Path) -> bool:
    """True when ``folder`` holds a whole generated game."""
    return all((folder / name).is_file() for name in GAME_FILES)


def ensure_game(
    config: GameConfig, index: int, cache_dir: str | os.PathLike[str], *, timeout: float = 300.0
) -> Path:
    """Path of task ``index``'s ``game.z8``, generating and caching it first if needed.

    Args:
        config: the difficulty settings.
        index: the task index (>= 0); the same index and settings always give the same game.
        cache_dir: the cache folder (created if missing).
        timeout: seconds the generator may take before it is an error.

    Returns:
        The path of the cached ``game.z8`` (its ``game.json`` lies beside it).

    Raises:
        RuntimeError: TextWorld could not generate the game (the message carries its error).
    """
    return ensure_games(config, [index], cache_dir, timeout=timeout)[0]


def ensure_games(
    config: GameConfig,
    indices: Iterable[int],
    cache_dir: str | os.PathLike[str],
    *,
    timeout: float = 300.0,
    workers: int = 1,
) -> list[Path]:
    """Like :func:`ensure_game` for many tasks; the missing ones are generated in batches.

    One generator process makes a whole batch, so TextWorld parses its grammars once per batch
    instead of once per game (about half the time per game); ``workers`` batches run at once.

    Args:
        config: the difficulty settings.
        indices: task indices (>= 0).
        cache_dir: the cache folder (created if missing).
        timeout: seconds allowed per game.
        workers: generator processes run in parallel.

    Returns:
        The ``game.z8`` path of each index, in order.
    """
    wanted = [int(i) for i in indices]
    if any(i < 0 for i in wanted):
        raise ValueError(f"task indices must be >= 0, got {wanted}")
    root = Path(cache_dir).expanduser()
    paths = [root / config.task_name(i) / "game.z8" for i in wanted]
    missing = sorted({i for i, p in zip(wanted, paths, strict=True) if not is_complete(p.parent)})
    if missing:
        root.mkdir(parents=True, exist_ok=True)
        n_batches = max(1, min(int(workers), len(missing)))
        batches = [missing[k::n_batches] for k in range(n_batches)]
        if n_batches == 1:
            _ensure_batch(config, batches[0], root, timeout)
        else:
            with ThreadPoolExecutor(n_batches) as pool:
                for future in [
                    pool.submit(_ensure_batch, config, b, root, timeout) for b in batches
                ]:
                    future.result()
    return paths


def _ensure_batch(config: GameConfig, indices: list[int], root: Path, timeout: float) -> None:
    """Generate the games of ``indices`` still missing, holding each one's lock meanwhile."""
    with contextlib.ExitStack() as stack:
        for index in sorted(indices):  # one global lock order: no deadlock between batches
            stack.enter_context(_file_lock(root / ".locks" / f"{config.task_name(index)}.lock"))
        # Another process or thread may have made some while we waited for the locks.
        todo = [i for i in indices if not is_complete(root / config.task_name(i))]
        if not todo:
            return
        tmps = {
            i: Path(tempfile.mkdtemp(prefix=f".tmp-{config.task_name(i)}-", dir=root)) for i in todo
        }
        try:
            error: RuntimeError | None = None
            try:
                _generate_in_child(config, tmps, timeout=timeout * len(todo))
            except RuntimeError as exc:
                error = exc  # keep the games finished before the failure
            for index, tmp in tmps.items():
                if not is_complete(tmp):
                    continue
                final = root / config.task_name(index)
                tmp.chmod(0o755)  # mkdtemp makes it private; a shared cache must stay readable
                if final.exists():  # a stale, incomplete folder (e.g. copied by hand)
                    shutil.rmtree(final, ignore_errors=True)
                os.rename(tmp, final)  # atomic on one file system
            if error is not None:
                raise error
        finally:
            for tmp in tmps.values():
                shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """An exclusive ``flock`` on ``path`` (threads hold separate descriptors, so it serialises
    them too); without ``fcntl`` only the atomic rename protects the cache."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    with open(path, "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _generate_in_child(config: GameConfig, out_dirs: dict[int, Path], *, timeout: float) -> None:
    """Run :func:`generate_here` for each ``index -> out_dir`` in one fresh interpreter with
    ``PYTHONHASHSEED=0``."""
    env = dict(os.environ)
    env["PYTHONHASHSEED"] = "0"
    # The child sees the parent's import path (editable installs, test roots).
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    code = (
        "import json, sys\n"
        "from agentgym.envs.text.textworld_games import GameConfig, generate_here\n"
        "config = GameConfig(**json.loads(sys.argv[1]))\n"
        "for index, out_dir in json.loads(sys.argv[2]):\n"
        "    generate_here(config, index, out_dir)\n"
    )
    jobs = json.dumps([[i, str(d)] for i, d in out_dirs.items()])
    names = ", ".join(config.task_name(i) for i in out_dirs)
    command = [sys.executable, "-c", code, json.dumps(asdict(config)), jobs]
    try:
        done = subprocess.run(
            command,
            cwd=next(iter(out_dirs.values())),
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise RuntimeError(
            f"generating TextWorld games {names} took more than {timeout:.0f} s"
        ) from exc
    if done.returncode != 0 or not all(is_complete(d) for d in out_dirs.values()):
        tail = (done.stderr or done.stdout or "")[-2000:]
        raise RuntimeError(
            f"TextWorld could not generate games {names} (exit code {done.returncode}):\n{tail}"
        )


def generate_here(config: GameConfig, index: int, out_dir: str | os.PathLike[str]) -> Path:
    """Generate task ``index`` into ``out_dir`` in *this* process (the child's entry point).

    Writes ``game.z8``, ``game.json`` and ``meta.json`` (name, seed, settings, objective,
    walkthrough, max score). Deterministic only under ``PYTHONHASHSEED=0``; use
    :func:`ensure_game` instead.
    """
    import textworld
    import textworld.challenges
    from textworld.generator import QuestGenerationError, compile_game

    out = Path(out_dir)
    last_error: Exception | None = None
    for attempt in range(MAX_ATTEMPTS):
        seed = game_seed(index, attempt)
        options = textworld.GameOptions()
        options.seeds = seed
        options.path = str(out / "game.z8")
        options.file_ext = ".z8"
        options.force_recompile = True
        try:
            if config.challenge == "custom":
                options.nb_rooms = config.rooms
                options.nb_objects = config.objects
                options.chaining.min_length = config.quest_length
                options.chaining.max_length = config.quest_length
                options.chaining.max_depth = config.quest_length
                options.grammar.theme = "house"
                _, game = textworld.make(options)
            else:
                _, make, _ = textworld.challenges.CHALLENGES[CHALLENGES[config.challenge]]
                settings: dict[str, Any] = dict(config.settings())
                if config.challenge == "cooking":
                    settings.update(recipe_seed=seed, split=None, drop=False)
                game = make(settings=settings, options=options)
                compile_game(game, options)
            break
        except QuestGenerationError as exc:
            last_error = exc
    else:
        raise RuntimeError(f"no quest after {MAX_ATTEMPTS} attempts: {last_error}")
    (out / "game.ni").unlink(missing_ok=True)  # the Inform 7 source is not needed to play
    meta = {
        "name": config.task_name(index),
        "index": int(index),
        "seed": seed,
        "challenge": config.challenge,
        "settings": config.settings(),
        "objective": game.objective,
        "walkthrough": list(game.metadata.get("walkthrough", [])),
        "max_score": game.max_score,
        "textworld": textworld.__version__,
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=1, sort_keys=True))
    return out / "game.z8"
