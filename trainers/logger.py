"""Metrics to a JSON-lines file and TensorBoard.

``RUN_DIR/metrics.jsonl`` holds one JSON object per record: ``{"iteration": k, "kind": "train" |
"eval" | "warmup" | "final", ...numbers}``. ``agentgym plot RUN_DIR`` reads it back. On resume
the records after the checkpoint's iteration are dropped, so a resumed run's file reads as if it
had never stopped.
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

METRICS_FILE = "metrics.jsonl"


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        return value.item()
    return value


class MetricsLogger:
    """Append metric records to ``metrics.jsonl`` (and TensorBoard when available).

    Args:
        run_dir: the run directory.
        tensorboard: also write TensorBoard scalars under ``RUN_DIR/tb``.
        warn: called once with a message when TensorBoard was asked for but is not installed.
    """

    def __init__(
        self,
        run_dir: str | Path,
        *,
        tensorboard: bool = True,
        warn: Callable[[str], None] | None = None,
    ) -> None:
        self.path = Path(run_dir) / METRICS_FILE
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self._writer = SummaryWriter(str(Path(run_dir) / "tb"))
            except ImportError:
                (warn or _warn)(
                    "tensorboard is not installed: metrics go to metrics.jsonl only "
                    "(pip install tensorboard, or set trainer.tensorboard=false)"
                )

    def truncate_after(self, iteration: int) -> None:
        """Keep only the records of iterations ``<= iteration`` (resume: the checkpoint's
        iteration; a fresh start: -1, which empties the file). The file is rewritten through a
        temporary file, so a kill mid-way never leaves it half written."""
        if not self.path.exists():
            return
        kept = [r for r in read_metrics(self.path) if r.get("iteration", 0) <= iteration]
        tmp = self.path.with_name(self.path.name + ".tmp")
        with tmp.open("w", encoding="utf-8") as f:
            for record in kept:
                f.write(json.dumps(record) + "\n")
        os.replace(tmp, self.path)

    def log(self, kind: str, iteration: int, metrics: dict[str, Any]) -> dict[str, Any]:
        record = {"kind": kind, "iteration": iteration,
                  **{k: _clean(v) for k, v in metrics.items()}}
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
        if self._writer is not None:
            for key, value in record.items():
                numeric = isinstance(value, int | float) and not isinstance(value, bool)
                if numeric and key != "iteration":
                    self._writer.add_scalar(f"{kind}/{key}", value, iteration)
            self._writer.flush()
        return record

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    """Records of a ``metrics.jsonl`` file (or of ``RUN_DIR/metrics.jsonl``).

    A torn last line (the process was killed while appending it) is skipped; a corrupt line
    anywhere else is an error.

    Raises:
        ValueError: a line before the last one is not a JSON object.
    """
    path = Path(path)
    if path.is_dir():
        path = path / METRICS_FILE
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    records = []
    for number, line in enumerate(lines, 1):
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            if number == len(lines):
                break  # torn by a kill while it was being written
            raise ValueError(f"{path}:{number} is not a JSON record") from None
    return records


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)
