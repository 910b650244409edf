"""Load the policy model and tokenizer: the embedded tiny model, a local checkpoint, LoRA.

Every model — the tiny ones included — is loaded with ``AutoModelForCausalLM.from_pretrained``
(``AutoModelForImageTextToText`` for the Qwen2-VL architectures) and
``AutoTokenizer.from_pretrained`` from a local directory, so a real model is a change of path::

    model, tokenizer = load_policy(ModelConfig(name="qwen2.5-1.5b", path="/models/Qwen2.5-1.5B"),
                                   EnvConfig(), device=torch.device("cuda"))
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import torch

from agentgym.trainers.config import ConfigError, EnvConfig, ModelConfig
from agentgym.trainers.tiny import ensure_tiny_model
from agentgym.trainers.tiny_vl import ensure_tiny_vl_model
from agentgym.trainers.vision import VISION_MODEL_TYPES, VisionCodec


def resolve_device(name: str) -> torch.device:
    """``auto`` → ``cuda`` when available, else ``cpu``."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            "hardware.device=cuda but no CUDA device is available; use hardware=cpu"
        )
    return torch.device(name)


def resolve_dtype(name: str, device: torch.device) -> torch.dtype:
    """``auto`` → bfloat16 on GPU, float32 on CPU."""
    if name == "auto":
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    return {"float32": torch.float32, "bfloat16": torch.bfloat16}[name]


def model_path(cfg: ModelConfig, env: EnvConfig, progress: Any = None) -> Path:
    """The local directory the model loads from (building the tiny model if needed, with its
    phases shown on ``progress``)."""
    if cfg.path:
        path = Path(cfg.path).expanduser()
        if not (path / "config.json").exists():
            raise FileNotFoundError(
                f"model.path={cfg.path!r} has no config.json; point it at a local Hugging Face "
                "model directory (no downloads are made)"
            )
        return path
    if cfg.name == "tiny-vl":
        return ensure_tiny_vl_model(env, cfg.tiny, cfg.vision, progress)
    if cfg.name != "tiny":
        raise ValueError(f"model {cfg.name!r} needs model.path (a local directory)")
    return ensure_tiny_model(env, cfg.tiny, progress)


def is_vision_model(path: str | Path) -> bool:
    """Whether the model directory holds a Qwen2-VL-architecture model (``config.json``'s
    ``model_type``)."""
    import json

    config = json.loads((Path(path) / "config.json").read_text())
    return config.get("model_type") in VISION_MODEL_TYPES


def load_vision(cfg: ModelConfig, env: EnvConfig, tokenizer: Any) -> VisionCodec | None:
    """The :class:`VisionCodec` of a vision-language model (its image processor from the model
    directory, ``AutoImageProcessor``), None for a text model."""
    source = model_path(cfg, env)
    if not is_vision_model(source):
        return None
    from transformers import AutoImageProcessor

    return VisionCodec(tokenizer, AutoImageProcessor.from_pretrained(str(source)))


def load_tokenizer(path: str | Path) -> Any:
    """``AutoTokenizer`` from a local directory, left-padding, with a pad token."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(path))
    tokenizer.padding_side = "left"
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_policy(
    cfg: ModelConfig,
    env: EnvConfig,
    device: torch.device,
    *,
    path: str | Path | None = None,
    progress: Any = None,
) -> tuple[torch.nn.Module, Any]:
    """Load ``(model, tokenizer)``; adds LoRA adapters when ``cfg.lora.rank > 0``.

    Args:
        cfg: model settings.
        env: the environment (the tiny model is built for it).
        device: where the model lives.
        path: load from this directory instead of ``cfg`` (e.g. a warm-started checkpoint).
        progress: shows the tiny model's build phases (a ``RunProgress``).
    """
    from transformers import AutoModelForCausalLM, AutoModelForImageTextToText

    source = Path(path) if path is not None else model_path(cfg, env, progress)
    dtype = resolve_dtype(cfg.dtype, device)
    auto = AutoModelForImageTextToText if is_vision_model(source) else AutoModelForCausalLM
    model = auto.from_pretrained(
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


def save_pretrained(
    model: torch.nn.Module, tokenizer: Any, path: str | Path, *, image_processor: Any = None
) -> Path:
    """Save a loadable model directory (LoRA adapters are merged into a plain model; a
    vision-language model's ``image_processor`` is saved with it)."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    to_save = model
    if hasattr(model, "merge_and_unload"):
        to_save = copy.deepcopy(model).merge_and_unload()
    to_save.save_pretrained(path)
    tokenizer.save_pretrained(path)
    if image_processor is not None:
        image_processor.save_pretrained(path)
    return path
