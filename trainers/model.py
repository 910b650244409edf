"""Load the policy model and tokenizer: the embedded tiny model, a local checkpoint, LoRA.

Every model — the tiny one included — is loaded with ``AutoModelForCausalLM.from_pretrained`` and
``AutoTokenizer.from_pretrained`` from a local directory, so a real model is a change of path::

    model, tokenizer = load_policy(ModelConfig(name="qwen2.5-1.5b", path="/models/Qwen2.5-1.5B"),
                                   EnvConfig(), device=torch.device("cuda"))
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import torch

from agentgym.trainers.config import EnvConfig, ModelConfig
from agentgym.trainers.tiny import ensure_tiny_model


def resolve_device(name: str) -> torch.device:
    """``auto`` → ``cuda`` when available, else ``cpu``."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("trainer.device=cuda but no CUDA device is available")
    return torch.device(name)


def resolve_dtype(name: str, device: torch.device) -> torch.dtype:
    """``auto`` → bfloat16 on GPU, float32 on CPU."""
    if name == "auto":
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    return {"float32": torch.float32, "bfloat16": torch.bfloat16}[name]


def model_path(cfg: ModelConfig, env: EnvConfig) -> Path:
    """The local directory the model loads from (building the tiny model if needed)."""
    if cfg.path:
        path = Path(cfg.path).expanduser()
        if not (path / "config.json").exists():
            raise FileNotFoundError(
                f"model.path={cfg.path!r} has no config.json; point it at a local Hugging Face "
                "model directory (no downloads are made)"
            )
        return path
    if cfg.name != "tiny":
        raise ValueError(f"model {cfg.name!r} needs model.path (a local directory)")
    return ensure_tiny_model(env, cfg.tiny)


def load_tokenizer(path: str | Path) -> Any:
    """``AutoTokenizer`` from a local directory, left-padding, with a pad token."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(path))
    tokenizer.padding_side = "left"
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_policy(
    cfg: ModelConfig, env: EnvConfig, device: torch.device, *, path: str | Path | None = None
) -> tuple[torch.nn.Module, Any]:
    """Load ``(model, tokenizer)``; adds LoRA adapters when ``cfg.lora.rank > 0``.

    Args:
        cfg: model settings.
        env: the environment (the tiny model is built for it).
        device: where the model lives.
        path: load from this directory instead of ``cfg`` (e.g. a warm-started checkpoint).
    """
    from transformers import AutoModelForCausalLM

    source = Path(path) if path is not None else model_path(cfg, env)
    dtype = resolve_dtype(cfg.dtype, device)
    model = AutoModelForCausalLM.from_pretrained(
        str(source), dtype=dtype, attn_implementation=cfg.attn_implementation
    )
    model.to(device)
    if cfg.lora.rank > 0 and not _has_adapters(model):
        from peft import LoraConfig, get_peft_model

        lora = LoraConfig(
            r=cfg.lora.rank,
            lora_alpha=cfg.lora.alpha,
            lora_dropout=cfg.lora.dropout,
            target_modules=list(cfg.lora.target_modules),
            task_type="CAUSAL_LM",
        )
        model = get_peft_model(model, lora)
    if cfg.gradient_checkpointing:
        model.gradient_checkpointing_enable()
    model.config.use_cache = True
    return model, load_tokenizer(source)


def _has_adapters(model: torch.nn.Module) -> bool:
    return any("lora_" in name for name, _ in model.named_parameters())


def frozen_copy(model: torch.nn.Module) -> torch.nn.Module:
    """A frozen deep copy of ``model`` in eval mode (the KL reference policy)."""
    reference = copy.deepcopy(model)
    reference.eval()
    for parameter in reference.parameters():
        parameter.requires_grad_(False)
    return reference


def trainable_parameters(model: torch.nn.Module) -> list[tuple[str, torch.nn.Parameter]]:
    """``(name, parameter)`` pairs that receive gradients."""
    return [(n, p) for n, p in model.named_parameters() if p.requires_grad]


def save_pretrained(model: torch.nn.Module, tokenizer: Any, path: str | Path) -> Path:
    """Save a loadable model directory (LoRA adapters are merged into a plain model)."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    to_save = model
    if hasattr(model, "merge_and_unload"):
        to_save = copy.deepcopy(model).merge_and_unload()
    to_save.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path
