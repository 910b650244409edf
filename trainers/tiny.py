"""The embedded ``model=tiny``: a small Qwen2-architecture causal LM built for one environment.

No weights can be downloaded, so the tiny model is created locally:

1. **Corpus.** Text of expert and random episodes of the environment (instruction, observations,
   actions rendered in the action format), each formatted with the chat template below.
2. **Tokenizer.** A byte-level BPE (``tokenizers``) trained on that corpus, with the ChatML
   special tokens ``<|im_start|>``, ``<|im_end|>`` (end of a turn, the EOS) and
   ``<|endoftext|>`` (padding), wrapped in a ``PreTrainedTokenizerFast`` whose ``chat_template``
   makes ``apply_chat_template`` work as with Qwen2 models. Byte-level BPE encodes any text,
   so a model's odd outputs never become unknown tokens. Words the environment names with a
   ``tokenizer_words()`` method (WebShop: every product id and option value of its catalog)
   become whole-word tokens, so the model reads and writes ``b0abc12345`` as one token instead
   of nine (Qwen2's pre-tokenizer splits every digit). With ``tokenizer_words_everywhere``
   (TextWorld) the words the merges already knew are registered too, keeping their ids. With
   ``tokenizer_spaces_apart`` (SearchQA) no merge joins a word to the space or punctuation
   before it, so a word is the same tokens after a space, a quote or a bracket: a name read in
   prose and written inside a JSON string is one sequence to copy, not two spellings of its
   first token.
3. **Weights.** ``Qwen2Config`` (head size ≥ 32, the vLLM-CPU minimum) with random weights at a
   fixed seed.

The result is saved with ``save_pretrained`` under ``$AGENTGYM_CACHE_DIR/models/tiny-<env>-<hash>``
(default ``~/.cache/agentgym``) and loaded like any local model with ``AutoModelForCausalLM`` /
``AutoTokenizer``. The hash covers the environment, prompt settings and model shape, so a changed
setting builds a new model; building is atomic (a temporary directory renamed into place).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentgym.core.paths import cache_dir
from agentgym.core.policies import ExpertPolicy, RandomPolicy
from agentgym.core.registration import make, resolve_id
from agentgym.core.rollout import collect
from agentgym.core.trajectory import Episode
from agentgym.trainers.config import EnvConfig, TinyModelConfig
from agentgym.trainers.progress import RunProgress

#: Bump when the recipe below changes, so old cached models are not reused.
#: 4: the environment's own words (``tokenizer_words()``: WebShop's product ids and option
#: values) are single tokens. 5: the corpus's episode ids are fixed (the random episodes, and so
#: the tokenizer, were different in every build); an environment's ``tokenizer_words_everywhere``.
#: 6: an environment's ``tokenizer_spaces_apart``.
TINY_VERSION = 6

CHAT_TEMPLATE = (
    "{% if tools %}{{ '<|im_start|>system\n# Tools\n' }}"
    "{% for tool in tools %}{{ tool | tojson }}{{ '\n' }}{% endfor %}"
    "{{ '<|im_end|>\n' }}{% endif %}"
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
#: Frequent markup kept as single (non-special) tokens.
MARKUP_TOKENS = ["<action>", "</action>", "<tool_call>", "</tool_call>"]
#: Qwen2's pre-tokenizer split: every tiny tokenizer encodes with it (``AutoTokenizer``, and so
#: vLLM, rebuilds a Qwen2 tokenizer from the vocabulary and merges of a ``qwen2`` model and
#: ignores the split saved in ``tokenizer.json``).
PRETOKENIZE_REGEX = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
#: The same split, except that a letter run never takes the character before it (Qwen2 splits
#: `` Bond`` and ``"Bond`` as two different words). Merges learned on this split never join a
#: letter to the space or punctuation before it (only contractions: ``'s``, ``'re`` …), so Qwen2's
#: split then encodes `` Bond`` as ``Ġ`` + ``Bond``, the tokens of ``"Bond`` after the quote.
SPACES_APART_REGEX = PRETOKENIZE_REGEX.replace(r"[^\r\n\p{L}\p{N}]?\p{L}+", r"\p{L}+")


def tiny_model_dir(env: EnvConfig, tiny: TinyModelConfig) -> Path:
    """Where the tiny model for ``env`` with shape ``tiny`` is cached."""
    env_id = resolve_id(env.id)
    key = json.dumps(
        {
            "version": TINY_VERSION,
            "env": env_id,
            "env_kwargs": env.kwargs,
            "action_format": env.action_format,
            "system_prompt": env.system_prompt,
            "tiny": tiny.__dict__,
        },
        sort_keys=True,
        default=str,
    )
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    name = env_id.split("/")[-1].lower().replace(".", "_")
    return cache_dir() / "models" / f"tiny-{name}-{digest}"


def _chat_text(messages: list[dict[str, str]], tools: list[Any] | None = None) -> str:
    """The text of :data:`CHAT_TEMPLATE` applied to ``messages`` and ``tools``."""
    head = ""
    if tools:
        lines = "".join(json.dumps(tool) + "\n" for tool in tools)
        head = f"<|im_start|>system\n# Tools\n{lines}<|im_end|>\n"
    return head + "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n"
                          for m in messages)


def _episode_texts(episodes: list[Episode], env: EnvConfig) -> Iterator[str]:
    for episode in episodes:
        instruction = str(episode.info.get("instruction", ""))
        messages: list[dict[str, str]] = []
        if env.system_prompt:
            messages.append({"role": "system", "content": env.system_prompt})
        for i, turn in enumerate(episode.turns):
            content = turn.observation
            if i == 0 and instruction:
                content = f"Task: {instruction}\n\n{content}"
            messages.append({"role": "user", "content": content})
            messages.append({"role": "assistant", "content": turn.response_text or turn.action})
        tools = episode.info.get("tools")
        yield _chat_text(messages, tools if isinstance(tools, list) else None)


def environment_corpus(
    env: EnvConfig,
    n_episodes: int,
    seed: int = 0,
    on_episode: Callable[[Episode], None] | None = None,
) -> list[str]:
    """Chat-formatted text of ``n_episodes`` expert and ``n_episodes`` random episodes.

    Environments without an expert contribute random episodes only. ``on_episode`` is called
    after every finished episode (progress).
    """
    common: dict[str, Any] = {
        "env_kwargs": env.kwargs,
        "action_format": env.action_format,
        "max_turns": env.max_turns,
        "num_workers": 0,
        "on_episode": on_episode,
        "max_info_chars": 1 << 20,  # keep the tool schemas of reset info: they are prompt text
        # RandomPolicy seeds each turn from the episode id: a fixed run id makes the corpus, and
        # so the tokenizer, the same in every build (the default run id is random).
        "run_id": f"tiny-corpus-{seed}",
    }
    tasks = list(range(seed + 3_000_000, seed + 3_000_000 + n_episodes))
    texts: list[str] = []
    with contextlib.suppress(TypeError):  # no expert_action(): random episodes only
        texts += _episode_texts(collect(env.id, ExpertPolicy(), tasks, **common), env)
    texts += _episode_texts(collect(env.id, RandomPolicy(seed), tasks, **common), env)
    # Invalid-action replies and action markup also appear in prompts of later turns.
    texts.append("<action>up</action> <action>down</action> <action></action> Task: ")
    return texts


@dataclass(frozen=True)
class TokenizerHints:
    """What an environment asks of its tiny model's tokenizer (see :func:`train_tokenizer`).

    Attributes:
        words: words to keep whole (its ``tokenizer_words()``, e.g. WebShop's product ids).
        everywhere: its ``tokenizer_words_everywhere`` (default False).
        spaces_apart: its ``tokenizer_spaces_apart`` (default False).
    """

    words: tuple[str, ...] = ()
    everywhere: bool = False
    spaces_apart: bool = False


def environment_hints(env: EnvConfig) -> TokenizerHints:
    """The :class:`TokenizerHints` of ``env``'s environment class (none: the defaults)."""
    instance = make(resolve_id(env.id), **env.kwargs)
    try:
        base = instance.unwrapped
        words = getattr(base, "tokenizer_words", None)
        return TokenizerHints(
            words=tuple(sorted({str(w) for w in words()})) if callable(words) else (),
            everywhere=bool(getattr(base, "tokenizer_words_everywhere", False)),
            spaces_apart=bool(getattr(base, "tokenizer_spaces_apart", False)))
    finally:
        instance.close()


def boilerplate_lines(texts: list[str], min_share: float = 0.9, min_chars: int = 40) -> list[str]:
    """Long lines that occur in at least ``min_share`` of ``texts`` (e.g. a fixed instruction).

    They become single tokens, so a tiny model's prompts stay short: a fixed task description
    costs one position instead of a hundred.
    """
    counts: dict[str, int] = {}
    for text in texts:
        for line in set(text.split("\n")):
            if len(line) >= min_chars and "<|" not in line:
                counts[line] = counts.get(line, 0) + 1
    threshold = max(2, int(min_share * len(texts)))
    return sorted(line for line, c in counts.items() if c >= threshold)


def train_tokenizer(
    texts: list[str], vocab_size: int, words: Sequence[str] | None = None,
    extra_special: Sequence[str] = (), chat_template: str = CHAT_TEMPLATE,
    words_everywhere: bool = False, spaces_apart: bool = False,
) -> Any:
    """A byte-level BPE ``PreTrainedTokenizerFast`` with ChatML special tokens and template.

    Besides the BPE merges, :func:`boilerplate_lines` of the corpus and the action markup
    (``<action>``, ``</action>``) are added as single, non-special tokens; ``extra_special``
    (e.g. the image tokens of a vision-language model) as special tokens after them; and
    ``words`` as whole-word tokens (matched only between non-word characters, so ``red`` stays
    inside ``bred``): the words the merges did not make tokens get new ids, last; with
    ``words_everywhere`` the words the merges know are registered too and keep their ids, so
    each is one id wherever it stands. With ``spaces_apart`` the merges are learned on
    :data:`SPACES_APART_REGEX`'s split (no merge joins a word to the space or punctuation
    before it); every tokenizer encodes with Qwen2's split (:data:`PRETOKENIZE_REGEX`), the
    one ``AutoTokenizer`` loads.
    """
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    def split(regex: str) -> Any:
        return pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(regex), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ])

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = split(SPACES_APART_REGEX if spaces_apart else PRETOKENIZE_REGEX)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    # Special tokens must not be split by the pre-tokenizer while training the merges.
    plain = [t.replace("<|im_start|>", " ").replace("<|im_end|>", " ") for t in texts]
    tokenizer.train_from_iterator(plain, trainer=trainer)
    tokenizer.pre_tokenizer = split(PRETOKENIZE_REGEX)  # what AutoTokenizer will use
    extra = [*MARKUP_TOKENS, *boilerplate_lines(texts)]
    tokenizer.add_tokens([AddedToken(t, normalized=False, special=False) for t in extra])
    tokenizer.add_special_tokens([AddedToken(t, normalized=False, special=True)
                                  for t in extra_special])
    # With ``words_everywhere`` a word the merges already made a token is registered too, so it
    # is one id wherever it stands (`` egg``, ``egg`` and ``[egg`` are three BPE tokens) and keeps
    # the merges' id; the other words get new ids after everything else. It is the
    # environment's choice: on for TextWorld (5 of its words change; its default run's warm
    # start was 64% with it, 0.8% without, though over 3 seeds the difference is within the
    # seed variance of behaviour cloning), off for WebShop (its warm start fell to 2.3% in one
    # run with it): benchmarks/RESULTS.md, 2026-12-04.
    added = set(extra) | set(extra_special)  # markup and boilerplate keep their own flags
    known = added if words_everywhere else added | set(tokenizer.get_vocab())
    whole = [w for w in sorted(set(words or ())) if w and w not in known]
    tokenizer.add_tokens([AddedToken(w, single_word=True, normalized=False, special=False)
                          for w in whole])
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token=None,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token=None,
        additional_special_tokens=["<|im_start|>", *extra_special],
        clean_up_tokenization_spaces=False,
    )
    fast.chat_template = chat_template
    fast.padding_side = "left"
    return fast


def word_tokens_start(tokenizer: Any) -> int | None:
    """The first id of the whole-word tokens :func:`train_tokenizer` added for the environment's
    words beyond the BPE vocabulary (they come last, after the markup and special tokens), or
    ``None`` when the tokenizer has none (any other model). Words the merges already had keep
    their ids below it.

    Behaviour cloning's prompt loss predicts only the ids below it
    (:attr:`~agentgym.trainers.update.UpdateContext.prompt_vocab`).
    """
    added = getattr(tokenizer, "added_tokens_decoder", {})
    whole = {int(i) for i, token in added.items()
             if getattr(token, "single_word", False) and not getattr(token, "special", False)}
    last_other = max((int(i) for i in added if int(i) not in whole), default=-1)
    new = [i for i in whole if i > last_other]
    return min(new) if new else None


def build_tiny_model(
    env: EnvConfig, tiny: TinyModelConfig, out_dir: str | Path, progress: Any = None
) -> Path:
    """Build the tokenizer and random-weight model for ``env`` and save them to ``out_dir``.

    ``progress``: a :class:`~agentgym.trainers.progress.RunProgress` showing the phases.
    """
    import torch
    from transformers import AutoModelForCausalLM, Qwen2Config

    if tiny.hidden_size % tiny.num_heads:
        raise ValueError("tiny.hidden_size must be a multiple of tiny.num_heads")
    head_dim = tiny.hidden_size // tiny.num_heads
    if head_dim < 32:
        raise ValueError(f"tiny head size {head_dim} < 32 (vLLM's CPU attention needs >= 32)")
    phases = progress if progress is not None else RunProgress(enabled=False, say=lambda _: None)
    with phases.phase("tiny model: corpus episodes", total=2 * tiny.corpus_episodes,
                      key="tiny_corpus") as phase:
        corpus = environment_corpus(env, tiny.corpus_episodes, on_episode=phase.on_episode)
    with phases.phase("tiny model: tokenizer", key="tiny_tokenizer"):
        hints = environment_hints(env)
        tokenizer = train_tokenizer(corpus, tiny.vocab_size, hints.words,
                                    words_everywhere=hints.everywhere,
                                    spaces_apart=hints.spaces_apart)
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=tiny.hidden_size,
        intermediate_size=tiny.intermediate_size,
        num_hidden_layers=tiny.num_layers,
        num_attention_heads=tiny.num_heads,
        num_key_value_heads=tiny.num_kv_heads,
        head_dim=head_dim,
        max_position_embeddings=tiny.max_positions,
        tie_word_embeddings=True,
        rope_theta=10000.0,
        bos_token_id=tokenizer.convert_tokens_to_ids("<|im_start|>"),
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        torch_dtype="float32",
    )
    state = torch.random.get_rng_state()
    try:
        torch.manual_seed(tiny.seed)
        model = AutoModelForCausalLM.from_config(config)
    finally:
        torch.random.set_rng_state(state)
    out = Path(out_dir)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    generation = {"eos_token_id": tokenizer.eos_token_id, "pad_token_id": tokenizer.pad_token_id}
    (out / "agentgym_tiny.json").write_text(json.dumps({"env": env.id, **generation}))
    return out


def build_cached(target: Path, build: Callable[[Path], None]) -> Path:
    """``target``, built by ``build(folder)`` on first use: into a temporary sibling folder that
    is renamed into place, so a crash never leaves a half-built model and two processes that
    race both end with the winner's (a model is complete once ``agentgym_tiny.json`` exists)."""
    if (target / "agentgym_tiny.json").exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=target.name + ".", dir=target.parent))
    try:
        build(tmp)
        try:
            tmp.rename(target)
        except OSError:  # another process won the race
            if not (target / "agentgym_tiny.json").exists():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def ensure_tiny_model(env: EnvConfig, tiny: TinyModelConfig, progress: Any = None) -> Path:
    """The cached tiny model directory for ``env``, built on first use (phases shown on
    ``progress``, a :class:`~agentgym.trainers.progress.RunProgress`, when given)."""
    return build_cached(tiny_model_dir(env, tiny),
                        lambda folder: build_tiny_model(env, tiny, folder, progress))
