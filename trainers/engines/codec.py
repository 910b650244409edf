"""Text <-> token ids for the generation engines: one set of rules for ``hf`` and ``vllm``.

* a prompt is the tokenizer's chat template applied to the messages plus the assistant header;
* a response's ``text`` is its token ids decoded in one piece (special tokens dropped) and cut
  right after the first stop string, so ``text`` is a function of ``token_ids`` alone;
* a request whose observation carries an image, for an engine with a
  :class:`~agentgym.trainers.vision.VisionCodec` (vision-language models), is encoded with the image
  in front of its last user message, and the image travels with the generation
  (``Generation.images``) so the trainer feeds the same pixels back;
* a demonstration's ids (for behaviour cloning) end with EOS unless a stop string ends the text,
  exactly as generation would have ended.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from agentgym.core.policy import Request
from agentgym.trainers.vision import VisionCodec, observation_image


class ChatCodec:
    """Mixed into an engine; needs ``self.tokenizer`` and ``self.stop`` (set by ``_init_codec``)."""

    tokenizer: Any
    stop: list[str]
    eos_ids: set[int]
    vision: VisionCodec | None = None

    def _init_codec(
        self, tokenizer: Any, stop: Sequence[str], vision: VisionCodec | None = None
    ) -> None:
        self.tokenizer = tokenizer
        self.vision = vision
        self.stop = [s for s in stop if s]
        eos = tokenizer.eos_token_id
        self.eos_ids = {int(e) for e in (eos if isinstance(eos, list) else [eos]) if e is not None}

    def encode_prompt(
        self, messages: Sequence[dict[str, str]], tools: Sequence[dict[str, Any]] | None = None
    ) -> list[int]:
        """Token ids of the chat template applied to ``messages`` (and the environment's
        ``tools``, as instruction-tuned models were trained to see them) plus the assistant
        header."""
        extra: dict[str, Any] = {"tools": [dict(t) for t in tools]} if tools else {}
        ids = self.tokenizer.apply_chat_template(
            [dict(m) for m in messages], add_generation_prompt=True, tokenize=True,
            return_dict=False, **extra,
        )
        return [int(i) for i in ids]

    def encode_request(self, request: Request) -> tuple[list[int], list[np.ndarray] | None]:
        """Prompt ids of ``request`` and the images they show (None: a text prompt).

        Text-only engines, and observations without an image, give :meth:`encode_prompt`.
        """
        image = observation_image(request.observation) if self.vision is not None else None
        if image is None or self.vision is None:
            return self.encode_prompt(request.messages, request.tools), None
        return self.vision.encode_prompt(request.messages, request.tools, image), [image]

    def encode_response(self, text: str) -> list[int]:
        """Token ids the engine would produce for ``text`` (for demonstrations).

        EOS is appended unless ``text`` ends with a stop string (generation stops there).
        """
        ids = [int(i) for i in self.tokenizer.encode(text, add_special_tokens=False)]
        if not any(text.endswith(s) for s in self.stop) and self.eos_ids:
            ids.append(min(self.eos_ids))
        return ids

    def decode_response(self, tokens: Sequence[int]) -> str:
        """The text of generated ``tokens``: decoded in one piece, cut after a stop string."""
        text = self.tokenizer.decode(list(tokens), skip_special_tokens=True)
        cut = [text.find(s) + len(s) for s in self.stop if s in text]
        return text[: min(cut)] if cut else text
