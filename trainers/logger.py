"""Metrics to a JSON-lines file and TensorBoard.

``RUN_DIR/metrics.jsonl`` holds one JSON object per record: ``{"iteration": k, "kind": "train" |
"eval" | "warmup" | "final", ...numbers}``. ``agentgym plot RUN_DIR`` reads it back. On resume
the records after the checkpoint's iteration are dropped, so a resumed run's file reads as if it
had never stopped.
"""

from __future__ import annotations

import json
import math
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
    """

    def __init__(self, run_dir: str | Path, *, tensorboard: bool = True) -> None:
        self.path = Path(run_dir) / METRICS_FILE
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self._writer = SummaryWriter(str(Path(run_dir) / "tb"))
            except ImportError:  # tensorboard not installed: JSONL only
                self._writer = None

    def truncate_after(self, iteration: int) -> None:
        """Drop records of iterations after ``iteration`` (used on resume)."""
        if not self.path.exists():
            return
        kept = [r for r in read_metrics(self.path) if r.get("iteration", 0) <= iteration]
        with self.path.open("w", encoding="utf-8") as f:
            for record in kept:
                f.write(json.dumps(record) + "\n")

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
    """Records of a ``metrics.jsonl`` file (or of ``RUN_DIR/metrics.jsonl``)."""
    path = Path(path)
    if path.is_dir():
        path = path / METRICS_FILE
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]
