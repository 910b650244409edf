"""A rich progress bar for training: iterations, episodes of the current rollout, success rate."""

from __future__ import annotations

from typing import Any

from agentgym.core.trajectory import Episode


class TrainProgress:
    """Two bars: iterations and the episodes of the running rollout (with live success rate).

    Args:
        total_iterations: RL iterations in the run.
        start: iterations already done (resume).
        enabled: False turns every method into a no-op.
        console: a ``rich.console.Console`` (default: a new one).
    """

    def __init__(
        self, total_iterations: int, start: int = 0, *, enabled: bool = True, console: Any = None
    ) -> None:
        self.enabled = enabled
        self._progress = None
        if not enabled:
            return
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self._iters = self._progress.add_task("iterations", total=total_iterations,
                                              completed=start, info="")
        self._episodes = self._progress.add_task("rollout", total=1, info="")
        self._done = 0
        self._solved = 0

    def __enter__(self) -> TrainProgress:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def start_rollout(self, label: str, total: int) -> None:
        if self._progress is None:
            return
        self._done = self._solved = 0
        self._progress.reset(self._episodes, total=total, description=label, info="")

    def on_episode(self, episode: Episode) -> None:
        """``collect(on_episode=...)`` callback: advance and show the live success rate."""
        if self._progress is None:
            return
        self._done += 1
        self._solved += bool(episode.success)
        self._progress.update(
            self._episodes, advance=1, info=f"success {self._solved / self._done:.1%}"
        )

    def end_iteration(self, info: str) -> None:
        if self._progress is not None:
            self._progress.update(self._iters, advance=1, info=info)
