"""Progress of every phase of a training run, and the time each phase took.

Each phase that can take more than a few seconds — building the tiny model, playing the expert's
demonstrations, behaviour cloning, a rollout, an update, an evaluation — runs inside
:meth:`RunProgress.phase`:

* with ``enabled=True`` it is a rich progress line (description, bar, done/total, live info such
  as the success rate or the loss and tokens/s, elapsed time and ETA) under a persistent
  iterations line;
* with ``enabled=False`` (quiet mode, for CI and log files) it prints one line when the phase
  ends, with its duration;
* either way its wall time is added to :attr:`RunProgress.times` under the phase's key, which the
  recipe writes to ``metrics.jsonl`` as ``time/<key>_s``.

::

    with RunProgress(enabled=True) as progress:
        with progress.phase("demonstrations", total=400, key="demos") as phase:
            run_episodes(..., on_episode=phase.on_episode)
"""

from __future__ import annotations

import contextlib
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any

from agentgym.core.trajectory import Episode


class Phase:
    """One running phase: advance it, show live information."""

    def __init__(self, progress: Any, task: Any) -> None:
        self._progress, self._task = progress, task
        self.done = 0
        self.solved = 0

    def advance(self, n: int = 1, info: str = "") -> None:
        """Count ``n`` more units of work; ``info`` replaces the live text."""
        self.done += n
        if self._progress is not None:
            self._progress.update(self._task, advance=n, info=info)

    def set_info(self, info: str) -> None:
        if self._progress is not None:
            self._progress.update(self._task, info=info)

    def on_episode(self, episode: Episode) -> None:
        """``collect(on_episode=...)`` callback: advance by one, show the live success rate."""
        self.solved += bool(episode.success)
        self.advance(1, f"success {self.solved / (self.done + 1):.1%}")


class RunProgress:
    """Progress lines for a run (see the module doc).

    Args:
        enabled: rich progress lines (True) or one line per finished phase (False).
        console: a ``rich.console.Console`` (default: a new one).
        say: prints a line in quiet mode (default: ``print``).
    """

    def __init__(
        self,
        *,
        enabled: bool = True,
        console: Any = None,
        say: Callable[[str], None] | None = None,
    ) -> None:
        self.enabled = enabled
        self.times: dict[str, float] = defaultdict(float)
        self._say = say or (lambda message: print(message, flush=True))
        self._progress = None
        self._iterations = None
        if enabled:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                SpinnerColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._progress = Progress(
                SpinnerColumn(),
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[info]}"),
                TimeElapsedColumn(),
                TextColumn("eta"),
                TimeRemainingColumn(),
                console=console,
                transient=False,
            )

    def __enter__(self) -> RunProgress:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    @contextlib.contextmanager
    def phase(self, name: str, total: int | None = None, *, key: str | None = None,
              ) -> Iterator[Phase]:
        """Run a phase called ``name`` of ``total`` units (None = unknown: a spinner).

        Its wall time is added to ``times[key]`` (default: ``name`` in snake case).
        """
        key = key or "_".join(name.lower().split())
        task = None
        if self._progress is not None:
            task = self._progress.add_task(name, total=total, info="")
        phase = Phase(self._progress, task)
        start = time.perf_counter()
        try:
            yield phase
        finally:
            elapsed = time.perf_counter() - start
            self.times[key] += elapsed
            if self._progress is not None and task is not None:
                self._progress.update(task, total=total if total is not None else phase.done,
                                      completed=total if total is not None else phase.done)
                self._progress.remove_task(task)
            else:
                amount = f" ({phase.done} of {total})" if total is not None else ""
                self._say(f"{name}: done in {elapsed:.1f}s{amount}")

    def start_iterations(self, total: int, done: int = 0) -> None:
        """Show the persistent iterations line (RL iterations ``done`` of ``total``)."""
        if self._progress is not None:
            self._iterations = self._progress.add_task("iterations", total=total,
                                                       completed=done, info="")

    def end_iteration(self, info: str) -> None:
        """One more RL iteration finished; ``info`` shows its summary."""
        if self._progress is not None and self._iterations is not None:
            self._progress.update(self._iterations, advance=1, info=info)
        elif self._progress is None:
            self._say(info)

    def take_times(self) -> dict[str, float]:
        """``{"time/<key>_s": seconds}`` accumulated since the last call (then reset)."""
        out = {f"time/{key}_s": value for key, value in self.times.items()}
        self.times.clear()
        return out
