"""Generation engines implementing the rollout :class:`~agentgym.core.policy.Policy` protocol.

* ``hf`` — :class:`~agentgym.trainers.engines.hf.HFEngine`: transformers model, KV cache, batched.
* ``vllm`` — :mod:`agentgym.trainers.engines.vllm` (imported lazily; needs the ``vllm`` extra).
"""

from __future__ import annotations

from typing import Any

import torch

from agentgym.trainers.config import EngineConfig
from agentgym.trainers.engines.hf import HFEngine


def make_engine(
    cfg: EngineConfig,
    model: torch.nn.Module,
    tokenizer: Any,
    *,
    seed: int = 0,
    device: torch.device | None = None,
    model_path: str | None = None,
) -> Any:
    """Build the engine named by ``cfg.backend`` around ``model``.

    Args:
        cfg: engine settings.
        model: the training model (the hf engine samples from it directly).
        tokenizer: its tokenizer.
        seed: sampler seed.
        device: input device for the hf engine.
        model_path: a saved copy of the model (the vllm engine loads it).
    """
    common = dict(
        temperature=cfg.temperature, top_p=cfg.top_p, max_new_tokens=cfg.max_new_tokens,
        stop=list(cfg.stop), batch_size=cfg.batch_size, seed=seed,
    )
    if cfg.backend == "hf":
        return HFEngine(model, tokenizer, device=device, **common)
    if cfg.backend == "vllm":
        from agentgym.trainers.engines.vllm import VLLMEngine

        if model_path is None:
            raise ValueError("the vllm engine needs model_path (a saved model directory)")
        device_name = None if device is None else device.type
        return VLLMEngine(model_path, tokenizer, gpu_memory_utilization=cfg.gpu_memory_utilization,
                          device=device_name, **common)
    raise ValueError(f"unknown engine backend {cfg.backend!r}; use 'hf' or 'vllm'")


__all__ = ["HFEngine", "make_engine"]
