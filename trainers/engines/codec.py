"""Text <-> token ids for the generation engines: one set of rules for ``hf`` and ``vllm``.

* a prompt is the tokenizer's chat template applied to the messages plus the assistant header;
* a response's ``text`` is its token ids decoded in one piece (special tokens dropped) and cut
  right after the first stop string, so ``text`` is a function of ``token_ids`` alone;
* a demonstration's ids (for behaviour cloning) end with EOS unless a stop string ends the text,
  exactly as generation would have ended.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class ChatCodec:
    """Mixed into an engine; needs ``self.tokenizer`` and ``self.stop`` (set by ``_init_codec``)."""

    tokenizer: Any
    stop: list[str]
    eos_ids: set[int]

    def _init_codec(self, tokenizer: Any, stop: Sequence[str]) -> None:
        self.tokenizer = tokenizer
        self.stop = [s for s in stop if s]
        eos = tokenizer.eos_token_id
        self.eos_ids = {int(e) for e in (eos if isinstance(eos, list) else [eos]) if e is not None}

    def encode_prompt(self, messages: Sequence[dict[str, str]]) -> list[int]:
        """Token ids of the chat template applied to ``messages`` plus the assistant header."""
        ids = self.tokenizer.apply_chat_template(
            [dict(m) for m in messages], add_generation_prompt=True, tokenize=True,
            return_dict=False,
        )
        return [int(i) for i in ids]

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
