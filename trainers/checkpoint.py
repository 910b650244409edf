"""Resumable checkpoints: model, optimizer, every RNG state and the data position.

Layout of ``RUN_DIR/checkpoint-000012/``:

* ``config.json``, ``model.safetensors``, tokenizer files — a plain Hugging Face model directory
  (LoRA merged in), so ``agentgym eval policy=RUN_DIR/checkpoint-000012`` loads it directly;
* ``trainer_state.pt`` — iteration, optimizer state, Python/NumPy/torch RNG states, the
  engine's sampler state, the shuffling generator, LoRA adapter weights (when used) and the
  recipe's bookkeeping.

A checkpoint is written to a temporary directory and renamed into place, so a kill while saving
leaves the previous checkpoint intact; ``latest_checkpoint`` ignores incomplete directories.
"""

from __future__ import annotations

import random
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

from agentgym.trainers.model import save_pretrained

_NAME = re.compile(r"^checkpoint-(\d+)$")
STATE_FILE = "trainer_state.pt"


def rng_state() -> dict[str, Any]:
    """Python, NumPy and torch (CPU and CUDA) global RNG states."""
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.random.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` returned."""
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.random.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def checkpoint_name(iteration: int) -> str:
    return f"checkpoint-{iteration:06d}"


def list_checkpoints(run_dir: str | Path) -> list[Path]:
    """Complete checkpoints of ``run_dir``, oldest first."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        return []
    found = [
        (int(m.group(1)), p)
        for p in run_dir.iterdir()
        if (m := _NAME.match(p.name)) and (p / STATE_FILE).exists()
    ]
    return [p for _, p in sorted(found)]


def latest_checkpoint(run_dir: str | Path) -> Path | None:
    """The newest complete checkpoint of ``run_dir``, or None."""
    found = list_checkpoints(run_dir)
    return found[-1] if found else None


def _lora_state(model: torch.nn.Module) -> dict[str, torch.Tensor] | None:
    if not hasattr(model, "peft_config"):
        return None
    return {n: p.detach().cpu().clone() for n, p in model.named_parameters() if "lora_" in n}


def save_checkpoint(
    run_dir: str | Path,
    iteration: int,
    *,
    model: torch.nn.Module,
    tokenizer: Any,
    optimizer: torch.optim.Optimizer | dict[str, Any],
    extra: dict[str, Any],
    keep: int = 0,
    image_processor: Any = None,
) -> Path:
    """Write ``checkpoint-<iteration>`` atomically and prune old ones (``keep`` newest; 0 = all).

    Args:
        run_dir: the run directory.
        iteration: iterations completed.
        model, tokenizer, optimizer: the training state (``optimizer`` may be its state dict
            already, e.g. gathered from FSDP2 shards).
        extra: more state to restore (engine sampler, shuffling generator, metrics bookkeeping).
        keep: how many checkpoints to keep.
        image_processor: a vision-language model's image processor (saved with it, so the
            checkpoint loads as a model directory of its own).
    """
    run_dir = Path(run_dir)
    final = run_dir / checkpoint_name(iteration)
    tmp = run_dir / (final.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    save_pretrained(model, tokenizer, tmp, image_processor=image_processor)
    state = {
        "iteration": iteration,
        "optimizer": optimizer if isinstance(optimizer, dict) else optimizer.state_dict(),
        "rng": rng_state(),
        "lora": _lora_state(model),
        **extra,
    }
    torch.save(state, tmp / STATE_FILE)
    if final.exists():
        shutil.rmtree(final)
    tmp.rename(final)
    if keep > 0:
        for old in list_checkpoints(run_dir)[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
    return final


class CheckpointError(ValueError):
    """A checkpoint cannot be read (truncated, corrupted, or from another model)."""


def read_trainer_state(path: str | Path) -> dict[str, Any]:
    """The trainer state of checkpoint ``path`` (read before anything is built, so a corrupted
    checkpoint is reported at once).

    Raises:
        CheckpointError: one line saying which checkpoint is unreadable and what to do.
    """
    path = Path(path)
    try:
        state = torch.load(path / STATE_FILE, map_location="cpu", weights_only=False)
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise CheckpointError(
            f"checkpoint {path} is unreadable ({first}); delete it to resume from the one "
            "before, or start a new trainer.run_dir"
        ) from exc
    if not isinstance(state, dict) or "iteration" not in state:
        raise CheckpointError(f"checkpoint {path} has no trainer state; delete it")
    return state


def load_checkpoint(
    path: str | Path,
    *,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    state: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Restore model weights, optimizer and RNG states from ``path``; returns the state dict.

    Model weights: the LoRA adapters from the state file when the model has adapters, else the
    full weights from the saved model directory (bit-exact safetensors).

    Args:
        state: the trainer state if already read with :func:`read_trainer_state`.

    Raises:
        CheckpointError: the checkpoint is unreadable or does not match the model.
    """
    from safetensors.torch import load_file

    path = Path(path)
    state = state if state is not None else read_trainer_state(path)
    if state.get("lora") is not None:
        named = dict(model.named_parameters())
        with torch.no_grad():
            for name, value in state["lora"].items():
                named[name].copy_(value)
    else:
        weights: dict[str, torch.Tensor] = {}
        try:
            for file in sorted(path.glob("*.safetensors")):
                weights.update(load_file(str(file)))
        except Exception as exc:
            raise CheckpointError(f"checkpoint {path} has unreadable weights ({exc})") from exc
        missing, unexpected = model.load_state_dict(weights, strict=False)
        missing = [m for m in missing if not m.endswith("lm_head.weight")]  # tied embeddings
        if missing or unexpected:
            raise CheckpointError(
                f"checkpoint {path} does not match the model: missing {missing[:5]}, "
                f"unexpected {unexpected[:5]}"
            )
    optimizer.load_state_dict(state["optimizer"])
    set_rng_state(state["rng"])
    return state
