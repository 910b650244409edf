"""Images in prompts for Qwen2-VL-architecture policies (Qwen2-VL, Qwen2.5-VL, ``model=tiny-vl``).

One place decides how an observation's screenshot becomes model input, used by the ``hf``
engine when it samples and by the trainer when it recomputes log-probs, so both see the same
pixels and the same ids:

* **Prompt.** The current observation's image goes in front of the text of the last user
  message (``[{"type": "image"}, {"type": "text", ...}]``, the content layout of the Qwen2-VL
  chat templates); earlier turns stay text. The template writes one
  ``<|vision_start|><|image_pad|><|vision_end|>``; the single ``<|image_pad|>`` is repeated
  ``t·h·w / merge²`` times for the image's patch grid ``(t, h, w)`` — what transformers'
  ``Qwen2VLProcessor`` does (it is not used itself: in transformers 5 it also builds a video
  processor, which needs torchvision).
* **Pixels.** The image processor (``Qwen2VLImageProcessor*``: resize to multiples of
  ``patch·merge``, normalize, cut into patches) turns each uint8 ``(H, W, 3)`` array into
  ``pixel_values`` ``(t·h·w, C·T·P·P)`` and ``image_grid_thw`` ``(1, 3)``; a batch concatenates
  them in row order. It is deterministic, so the raw images stored on a turn reproduce the
  sampled inputs exactly.
* **Generated tokens.** The policy may not write image tokens (``<|vision_start|>``,
  ``<|image_pad|>`` …: one in a response would take an image's place in the teacher-forced
  pass); their logits are set to ``SUPPRESSED_LOGIT`` (-1e9: probability 0, yet finite) both
  when sampling and when the trainer recomputes log-probs, so the two distributions agree.
* **Positions.** Multimodal RoPE (Wang et al. 2024, "Qwen2-VL", §2.1): image tokens get
  (temporal, height, width) positions, text continues after the image. The ids are computed with
  the model's own ``get_rope_index`` on the left-padded batch, shape ``(3, B, L)``, and passed
  explicitly; a generated token's position is the previous one + 1 in all three axes, which is
  what ``get_rope_index`` gives text after the prompt, so the engine's incremental decoding and a
  teacher-forced pass over prompt + response agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from agentgym.trainers.logprobs import SUPPRESSED_LOGIT

#: ``config.model_type`` of the architectures this module serves.
VISION_MODEL_TYPES = frozenset({"qwen2_vl", "qwen2_5_vl"})
IMAGE_TOKEN = "<|image_pad|>"
#: Tokens a response may not contain (the vision markup of the Qwen2-VL tokenizers).
VISION_MARKUP = ("<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>",
                 "<|vision_pad|>")


def observation_image(observation: Any) -> np.ndarray | None:
    """The uint8 ``(H, W, 3)`` image of an observation (``{"image": …}``), else None."""
    if not isinstance(observation, dict):
        return None
    image = observation.get("image")
    if image is None:
        return None
    array = np.asarray(image)
    if array.ndim != 3 or array.shape[-1] != 3 or array.size == 0:
        return None
    return np.ascontiguousarray(array, dtype=np.uint8)


def _rope_owner(model: torch.nn.Module) -> Any:
    """The submodule with ``get_rope_index`` (the Qwen2-VL base model, also under peft)."""
    for module in model.modules():
        if hasattr(module, "get_rope_index") and hasattr(module, "visual"):
            return module
    raise TypeError(f"{type(model).__name__} has no get_rope_index: not a Qwen2-VL model")


class VisionCodec:
    """Prompt encoding and model inputs for a Qwen2-VL-architecture policy.

    Args:
        tokenizer: the policy's tokenizer (its chat template takes content lists with
            ``{"type": "image"}`` parts).
        image_processor: a ``Qwen2VLImageProcessor`` / ``Qwen2VLImageProcessorPil`` (has
            ``merge_size``).
    """

    def __init__(self, tokenizer: Any, image_processor: Any) -> None:
        self.tokenizer = tokenizer
        self.image_processor = image_processor
        self.merge = int(image_processor.merge_size)
        self.image_token_id = int(tokenizer.convert_tokens_to_ids(IMAGE_TOKEN))
        if self.image_token_id == tokenizer.unk_token_id or self.image_token_id is None:
            raise ValueError(f"the tokenizer has no {IMAGE_TOKEN} token")
        vocab = tokenizer.get_vocab()
        #: ids of :data:`VISION_MARKUP` in this tokenizer, ``(k,)``.
        self.suppressed_ids = torch.tensor(sorted(vocab[t] for t in VISION_MARKUP if t in vocab),
                                           dtype=torch.long)

    def suppress(self, logits: torch.Tensor) -> torch.Tensor:
        """``logits`` ``(..., V)`` with the vision markup tokens set to
        ``SUPPRESSED_LOGIT`` (out of place)."""
        ids = self.suppressed_ids.to(logits.device)
        ids = ids[ids < logits.shape[-1]]
        return logits.index_fill(-1, ids, SUPPRESSED_LOGIT)

    # -- pixels ----------------------------------------------------------------------------------
    def pixels(self, images: Sequence[np.ndarray]) -> dict[str, torch.Tensor]:
        """``pixel_values`` ``(Σ t·h·w, C·T·P·P)`` and ``image_grid_thw`` ``(n, 3)`` of ``images``
        (uint8 ``(H, W, 3)`` each), in order."""
        out = self.image_processor(images=[np.asarray(i, dtype=np.uint8) for i in images],
                                   return_tensors="pt")
        return {"pixel_values": out["pixel_values"].float(),
                "image_grid_thw": out["image_grid_thw"].long()}

    def image_tokens(self, image: np.ndarray) -> int:
        """Placeholder tokens the model reads ``image`` as: ``t·h·w / merge²``."""
        grid = self.pixels([image])["image_grid_thw"][0]
        return int(grid.prod()) // (self.merge**2)

    # -- prompts ---------------------------------------------------------------------------------
    def encode_prompt(
        self,
        messages: Sequence[dict[str, Any]],
        tools: Sequence[dict[str, Any]] | None,
        image: np.ndarray,
    ) -> list[int]:
        """Token ids of the chat template applied to ``messages`` with ``image`` in front of the
        last user message, placeholders expanded, plus the assistant header."""
        chat = [dict(m) for m in messages]
        last = max(i for i, m in enumerate(chat) if m["role"] == "user")
        chat[last]["content"] = [{"type": "image"},
                                 {"type": "text", "text": str(chat[last]["content"])}]
        extra: dict[str, Any] = {"tools": [dict(t) for t in tools]} if tools else {}
        text = self.tokenizer.apply_chat_template(chat, add_generation_prompt=True,
                                                  tokenize=False, **extra)
        if text.count(IMAGE_TOKEN) != 1:
            raise ValueError(f"the chat template wrote {text.count(IMAGE_TOKEN)} image "
                             "placeholders for one image")
        text = text.replace(IMAGE_TOKEN, IMAGE_TOKEN * self.image_tokens(image))
        return [int(i) for i in self.tokenizer.encode(text, add_special_tokens=False)]

    # -- model inputs ----------------------------------------------------------------------------
    def model_inputs(
        self,
        model: torch.nn.Module,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        images: Sequence[Sequence[np.ndarray] | None],
    ) -> dict[str, torch.Tensor]:
        """``position_ids`` ``(3, B, L)`` and, when any row has images, ``pixel_values`` and
        ``image_grid_thw`` for a left-padded batch (``input_ids``/``attention_mask`` ``(B, L)``;
        ``images[b]`` the images of row ``b`` in placeholder order, or None)."""
        flat = [image for row in images for image in (row or [])]
        placeholders = int((input_ids == self.image_token_id).sum())
        if not flat and placeholders:
            raise ValueError(f"the batch has {placeholders} image placeholders but no images")
        out: dict[str, torch.Tensor] = {}
        grid = None
        if flat:
            out = self.pixels(flat)
            grid = out["image_grid_thw"]
        device = input_ids.device
        owner = _rope_owner(model)
        types = (input_ids == self.image_token_id).int()
        positions, _ = owner.get_rope_index(input_ids, types, grid.to(device) if grid is not None
                                            else None, attention_mask=attention_mask)
        out = {k: v.to(device) for k, v in out.items()}
        out["position_ids"] = positions
        return out
