"""The embedded ``model=tiny-vl``: a small Qwen2-VL-architecture vision-language model.

Built like ``model=tiny`` (:mod:`agentgym.trainers.tiny`; nothing is downloaded):

1. **Tokenizer.** The byte-level BPE trained on the environment's text, with the Qwen2-VL image
   tokens ``<|vision_start|>``, ``<|vision_end|>``, ``<|image_pad|>`` as special tokens and a
   ChatML template whose messages may hold content lists (``{"type": "image"}`` becomes
   ``<|vision_start|><|image_pad|><|vision_end|>``, text parts their text) — the layout of the
   Qwen2-VL templates.
2. **Image processor.** transformers' ``Qwen2VLImageProcessorPil`` (the Pillow backend: the
   default backend needs torchvision) with ``model.vision``'s patch size, merge size and pixel
   bounds.
3. **Weights.** ``Qwen2VLConfig``: the language side shaped by ``model.tiny`` (head size ≥ 32,
   multimodal RoPE sections summing to half of it), a vision transformer shaped by
   ``model.vision``; random weights at ``model.tiny.seed``
   (``Qwen2VLForConditionalGeneration``).

Saved under ``$AGENTGYM_CACHE_DIR/models/tiny_vl-<env>-<hash>`` and loaded with
``AutoModelForImageTextToText`` / ``AutoTokenizer`` / ``AutoImageProcessor``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from agentgym.core.paths import cache_dir
from agentgym.core.registration import resolve_id
from agentgym.trainers.config import EnvConfig, TinyModelConfig, TinyVisionConfig
from agentgym.trainers.progress import RunProgress
from agentgym.trainers.tiny import (
    TINY_VERSION,
    build_cached,
    environment_corpus,
    train_tokenizer,
)

#: Bump when the recipe below changes.
TINY_VL_VERSION = 1
VISION_TOKENS = ["<|vision_start|>", "<|vision_end|>", "<|image_pad|>"]
CHAT_TEMPLATE_VL = (
    "{% if tools %}{{ '<|im_start|>system\n# Tools\n' }}"
    "{% for tool in tools %}{{ tool | tojson }}{{ '\n' }}{% endfor %}"
    "{{ '<|im_end|>\n' }}{% endif %}"
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' }}"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'image' %}{{ '<|vision_start|><|image_pad|><|vision_end|>' }}"
    "{% else %}{{ part['text'] }}{% endif %}"
    "{% endfor %}{% endif %}"
    "{{ '<|im_end|>\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def tiny_vl_model_dir(env: EnvConfig, tiny: TinyModelConfig, vision: TinyVisionConfig) -> Path:
    """Where the tiny-vl model for ``env`` with these shapes is cached."""
    env_id = resolve_id(env.id)
    key = json.dumps(
        {"version": [TINY_VERSION, TINY_VL_VERSION], "env": env_id, "env_kwargs": env.kwargs,
         "action_format": env.action_format, "system_prompt": env.system_prompt,
         "tiny": tiny.__dict__, "vision": vision.__dict__},
        sort_keys=True, default=str,
    )
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    name = env_id.split("/")[-1].lower().replace(".", "_")
    return cache_dir() / "models" / f"tiny_vl-{name}-{digest}"


def mrope_sections(head_dim: int) -> list[int]:
    """Split of the rotary frequencies (``head_dim / 2``) over (temporal, height, width), in
    Qwen2-VL's proportions 16:24:24; e.g. ``32 -> [4, 6, 6]``."""
    half = head_dim // 2
    temporal = half // 4
    height = (half - temporal) // 2
    return [temporal, height, half - temporal - height]


def image_processor(vision: TinyVisionConfig) -> Any:
    """The Pillow-backed Qwen2-VL image processor with ``vision``'s patching."""
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import (
        Qwen2VLImageProcessorPil,
    )

    return Qwen2VLImageProcessorPil(
        patch_size=vision.patch_size, temporal_patch_size=2, merge_size=vision.merge_size,
        min_pixels=vision.min_pixels, max_pixels=vision.max_pixels,
    )


def build_tiny_vl_model(
    env: EnvConfig, tiny: TinyModelConfig, vision: TinyVisionConfig, out_dir: str | Path,
    progress: Any = None,
) -> Path:
    """Build tokenizer, image processor and random-weight model; save them to ``out_dir``."""
    import torch
    from transformers import Qwen2VLConfig, Qwen2VLForConditionalGeneration

    if tiny.hidden_size % tiny.num_heads:
        raise ValueError("tiny.hidden_size must be a multiple of tiny.num_heads")
    head_dim = tiny.hidden_size // tiny.num_heads
    if head_dim < 32 or head_dim % 2:
        raise ValueError(f"tiny head size {head_dim}: tiny-vl needs an even head size >= 32")
    phases = progress if progress is not None else RunProgress(enabled=False, say=lambda _: None)
    with phases.phase("tiny-vl model: corpus episodes", total=2 * tiny.corpus_episodes,
                      key="tiny_corpus") as phase:
        corpus = environment_corpus(env, tiny.corpus_episodes, on_episode=phase.on_episode)
    with phases.phase("tiny-vl model: tokenizer", key="tiny_tokenizer"):
        tokenizer = train_tokenizer(corpus, tiny.vocab_size, extra_special=VISION_TOKENS,
                                    chat_template=CHAT_TEMPLATE_VL)
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in VISION_TOKENS}
    special = {"bos_token_id": tokenizer.convert_tokens_to_ids("<|im_start|>"),
               "eos_token_id": tokenizer.eos_token_id, "pad_token_id": tokenizer.pad_token_id}
    config = Qwen2VLConfig(
        text_config={
            "vocab_size": len(tokenizer), "hidden_size": tiny.hidden_size,
            "intermediate_size": tiny.intermediate_size, "num_hidden_layers": tiny.num_layers,
            "num_attention_heads": tiny.num_heads, "num_key_value_heads": tiny.num_kv_heads,
            "max_position_embeddings": tiny.max_positions, "tie_word_embeddings": True,
            "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0,
                                "mrope_section": mrope_sections(head_dim)},
            **special,
        },
        vision_config={
            "depth": vision.depth, "embed_dim": vision.embed_dim,
            "hidden_size": tiny.hidden_size, "num_heads": vision.num_heads,
            "mlp_ratio": vision.mlp_ratio, "patch_size": vision.patch_size,
            "spatial_merge_size": vision.merge_size, "temporal_patch_size": 2,
        },
        image_token_id=ids["<|image_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=True,
        **special,
    )
    state = torch.random.get_rng_state()
    try:
        torch.manual_seed(tiny.seed)
        model = Qwen2VLForConditionalGeneration(config)
    finally:
        torch.random.set_rng_state(state)
    out = Path(out_dir)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    image_processor(vision).save_pretrained(out)
    generation = {"eos_token_id": tokenizer.eos_token_id, "pad_token_id": tokenizer.pad_token_id}
    (out / "agentgym_tiny.json").write_text(json.dumps({"env": env.id, "vision": True,
                                                        **generation}))
    return out


def ensure_tiny_vl_model(
    env: EnvConfig, tiny: TinyModelConfig, vision: TinyVisionConfig, progress: Any = None
) -> Path:
    """The cached tiny-vl model directory for ``env``, built on first use (atomically)."""
    return build_cached(tiny_vl_model_dir(env, tiny, vision),
                        lambda folder: build_tiny_vl_model(env, tiny, vision, folder, progress))
