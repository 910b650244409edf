"""Small pieces of the recipe: pass@k, invalid penalty, turn samples, seeds, tiny tokenizer."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from agentgym.core.trajectory import Episode, StepBatch, Turn
from agentgym.trainers.config import ConfigError, TrainConfig
from agentgym.trainers.evaluation import episode_metrics, pass_at_k
from agentgym.trainers.recipe import (
    TrainingError,
    check_seed_ranges,
    per_turn_advantages,
    train_seeds,
)
from agentgym.trainers.samples import turn_samples


def _episode(group: str, valid: list[bool], success: bool, ids: bool = True) -> Episode:
    turns = [
        Turn(observation="o", action="a", reward=-0.1, action_valid=v,
             prompt_ids=[1, 2] if ids else None, response_ids=[3] if ids else None,
             response_logprobs=[-0.5] if ids else None)
        for v in valid
    ]
    return Episode("e", "t", group, f"{group}-{len(valid)}", 0, turns, success,
                   outcome=-0.1 * len(valid))


def test_pass_at_k_hand_computed():
    assert pass_at_k(4, 0, 2) == 0.0
    assert pass_at_k(4, 1, 2) == pytest.approx(1 - math.comb(3, 2) / math.comb(4, 2))  # 0.5
    assert pass_at_k(4, 3, 2) == 1.0
    assert pass_at_k(5, 2, 1) == pytest.approx(0.4)
    with pytest.raises(ValueError):
        pass_at_k(2, 1, 3)


def test_episode_metrics_pass_at_k():
    episodes = [_episode("g1", [True], s) for s in (True, False)] + [
        _episode("g2", [True], False) for _ in range(2)
    ]
    metrics = episode_metrics(episodes, k=2)
    assert metrics["success_rate"] == 0.25
    assert metrics["pass@2"] == pytest.approx(0.5)  # g1: 1.0, g2: 0.0
    assert metrics["success_ci_low"] < 0.25 < metrics["success_ci_high"]


def test_invalid_penalty_reaches_the_rewards_through_the_env_wrapper():
    """env.invalid_penalty is applied by core's InvalidActionPenalty wrapper during rollout."""
    from agentgym.core.policies import ScriptedPolicy
    from agentgym.trainers.config import EnvConfig
    from agentgym.trainers.evaluation import run_episodes

    def play(penalty: float) -> list[Episode]:
        env = EnvConfig(max_turns=3, invalid_penalty=penalty)
        return run_episodes(env, ScriptedPolicy(lambda request: "<action>jump</action>"), [0])

    (plain,), (penalized,) = play(0.0), play(0.5)
    assert len(penalized.turns) == 3 and not any(t.action_valid for t in penalized.turns)
    for a, b in zip(plain.turns, penalized.turns, strict=True):
        assert b.reward == pytest.approx(a.reward - 0.5)
        assert b.reward_parts["invalid"] == -0.5 and "invalid" not in a.reward_parts
    assert penalized.outcome == pytest.approx(plain.outcome - 1.5)


def test_advantages_must_be_one_finite_number_per_turn():
    batch = StepBatch.from_episodes([_episode("g", [True, True], False)])
    assert per_turn_advantages([0.5, -0.5], batch, "x").tolist() == [0.5, -0.5]
    with pytest.raises(TrainingError, match=r"shape \(3, 2\)"):
        per_turn_advantages(np.zeros((3, 2)), batch, "x")
    with pytest.raises(TrainingError, match="non-finite"):
        per_turn_advantages([0.0, float("nan")], batch, "x")


def test_turn_samples_align_with_batch_rows():
    episodes = [_episode("g", [True, True], False), _episode("h", [True], False, ids=False),
                _episode("g", [True], True)]
    samples = turn_samples(episodes, np.array([1.0, 2.0, 3.0, 4.0]))
    # the turn without token ids (row 2) is skipped; the others keep their own advantage
    assert [s.advantage for s in samples] == [1.0, 2.0, 4.0]
    with pytest.raises(ValueError):
        turn_samples(episodes, np.zeros(3))


def test_turn_samples_leave_out_noisy_demonstration_turns():
    episode = _episode("g", [True, True, True], True)
    episode.turns[1].info["policy"] = {"noise": True}  # NoisyExpertPolicy's random turn
    episode.turns[1].response_ids = [9]
    kept = turn_samples([episode], skip_noise=True)
    assert [s.response_ids for s in kept] == [[3], [3]]
    assert len(turn_samples([episode])) == 3  # RL batches keep every turn


def test_seed_ranges_are_disjoint():
    cfg = TrainConfig()
    assert train_seeds(cfg, 1) == list(range(8, 16))
    check_seed_ranges(cfg)
    cfg.trainer.eval_seed = 5
    with pytest.raises(ConfigError, match="overlap"):
        check_seed_ranges(cfg)


def test_tiny_tokenizer_round_trip_and_chat_template(tiny_path):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_path))
    text = "# # #\n# P X O #\n<action>left</action> ünïcode ☃"
    assert tokenizer.decode(tokenizer.encode(text)) == text
    messages = [{"role": "user", "content": "hi"}]
    ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True,
                                        return_dict=False)
    assert tokenizer.decode(ids) == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    assert tokenizer.eos_token == "<|im_end|>"
    assert len(tokenizer.encode("<action>")) == 1
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(str(tiny_path))
    assert config.model_type == "qwen2"
    assert config.hidden_size // config.num_attention_heads >= 32


def test_next_token_logprobs_agree_with_response_logprobs(tiny_model):
    from agentgym.trainers.logprobs import next_token_logprobs, pack, sequence_logprobs

    model, tokenizer = tiny_model
    prompts = [[5, 6, 7, 8, 9], [10, 11, 12]]
    responses = [[13, 14], [15, 16, 17]]
    with torch.no_grad():
        response_lp, mask = sequence_logprobs(model, prompts, responses, tokenizer.pad_token_id)
        every = next_token_logprobs(model, pack(prompts, responses, tokenizer.pad_token_id))
    p_len = max(map(len, prompts))
    assert every.shape == (2, p_len + 3 - 1)
    assert torch.allclose(every[:, p_len - 1 :] * mask, response_lp * mask, atol=1e-5)


def _prompt_nll(model, packed, prompt_len: int) -> float:
    """Mean next-token loss of a packed sample's prompt tokens."""
    from agentgym.trainers.logprobs import next_token_logprobs

    with torch.no_grad():
        return -float(next_token_logprobs(model, packed)[0, : prompt_len - 1].mean())


def _clone_for(weight: float, tiny_path, steps: int = 15) -> tuple[float, float, list[float]]:
    """(prompt loss before, prompt loss after, response losses) of BC with ``prompt_weight``."""
    from agentgym.trainers.config import EnvConfig, ModelConfig
    from agentgym.trainers.logprobs import pack
    from agentgym.trainers.model import load_policy
    from agentgym.trainers.samples import TurnSample
    from agentgym.trainers.update import UpdateContext, sft_step

    torch.manual_seed(0)
    model, tokenizer = load_policy(ModelConfig(), EnvConfig(), torch.device("cpu"), path=tiny_path)
    prompt = tokenizer.encode("# # # #\n# P X #\n# _ O #", add_special_tokens=False)
    response = tokenizer.encode("<action>up</action>", add_special_tokens=False)
    samples = [TurnSample(prompt, response, None, 1.0)] * 4
    ctx = UpdateContext(device=torch.device("cpu"), pad_id=int(tokenizer.pad_token_id))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    packed = pack([prompt], [response], ctx.pad_id)
    before = _prompt_nll(model, packed, len(prompt))
    losses = [sft_step(model, optimizer, samples, ctx, prompt_weight=weight) for _ in range(steps)]
    return before, _prompt_nll(model, packed, len(prompt)), losses


def test_sft_prompt_loss_teaches_the_prompt_text(tiny_path):
    """With prompt_weight > 0 behaviour cloning also fits the prompts; without, it does not."""
    plain_before, plain_after, plain_losses = _clone_for(0.0, tiny_path)
    full_before, full_after, full_losses = _clone_for(1.0, tiny_path)
    # the response is learned either way (sft_step reports the response loss)
    assert plain_losses[-1] < 0.5 * plain_losses[0]
    assert full_losses[-1] < 0.5 * full_losses[0]
    # the prompt is learned with the weight, and far better than without it
    assert full_after < 0.5 * full_before
    assert full_after < 0.5 * plain_after
    assert plain_before == pytest.approx(full_before)


@pytest.mark.parametrize(("name", "flag"), [("gigpo", "return_parts"), ("mc_grpo", "return_mask"),
                                            ("salt", "return_counts"), ("arena", "return_calls")])
def test_estimators_take_no_return_flags(name, flag):
    """An estimator returns advantages and nothing else: a flag that changed the return type
    is an unknown parameter (its extras have their own helpers in agentgym.credit)."""
    from agentgym import credit
    from agentgym.trainers.recipe import bind_method

    required = {"judge": None} if name == "arena" else {}
    with pytest.raises(ConfigError, match=flag):
        bind_method(credit.get, name, {**required, flag: True}, "algo")


def test_length_bucketed_batches_cover_every_sample_once_per_epoch():
    from agentgym.trainers.recipe import length_bucketed_batches

    lengths = [int(x) for x in np.random.default_rng(0).integers(5, 500, size=1000)]
    generator = torch.Generator().manual_seed(0)
    batches = length_bucketed_batches(lengths, 16, generator, pool_batches=8)
    flat = [i for batch in batches for i in batch]
    assert sorted(flat) == list(range(1000)) and len(batches) == -(-1000 // 16)
    # within a pool the batches are sorted runs: padding is far below random batching
    padded = sum(16 * max(lengths[i] for i in b) - sum(lengths[i] for i in b) for b in batches)
    order = torch.randperm(1000, generator=torch.Generator().manual_seed(1)).tolist()
    random = [order[i : i + 16] for i in range(0, 1000, 16)]
    padded_random = sum(16 * max(lengths[i] for i in b) - sum(lengths[i] for i in b)
                        for b in random)
    assert padded < padded_random / 4
    again = length_bucketed_batches(lengths, 16, torch.Generator().manual_seed(0), pool_batches=8)
    assert again == batches  # seeded


def test_later_turns_learn_only_their_new_observation():
    from agentgym.trainers.samples import last_occurrence

    marker = [1, 7]  # "<|im_start|>user"
    assert last_occurrence([1, 7, 5, 2, 1, 7, 9, 9], marker) == 4
    assert last_occurrence([5, 5], marker) == 0 and last_occurrence([1, 7], []) == 0
    turns = [Turn(observation="o", action="a", reward=0.0, prompt_ids=p, response_ids=[3],
                  response_logprobs=None)
             for p in ([1, 7, 5, 5], [1, 7, 5, 5, 2, 3, 1, 7, 6])]
    episode = Episode("e", "t", "g", "ep", 0, turns, True)
    first, second = turn_samples([episode], new_message_marker=marker)
    assert first.prompt_loss_from == 0 and second.prompt_loss_from == 6


def test_prompt_loss_mask_starts_at_prompt_loss_from():
    """Column j of the next-token log-probs predicts token j + 1; rows are left-padded."""
    from agentgym.trainers.samples import TurnSample
    from agentgym.trainers.update import prompt_loss_mask

    samples = [TurnSample([5, 6, 7, 8, 9, 10], [14], None, 1.0, 3),
               TurnSample([11, 12, 13], [15, 16], None, 1.0, 0)]
    mask = prompt_loss_mask(samples, prompt_len=6, device=torch.device("cpu"))
    # row 0: targets 3, 4, 5 -> columns 2, 3, 4; row 1 (3 pads): its tokens 1, 2 -> columns 3, 4
    assert mask.tolist() == [[0, 0, 1, 1, 1], [0, 0, 0, 1, 1]]
    plain = [TurnSample(x.prompt_ids, x.response_ids, None, 1.0) for x in samples]
    # prompt_loss_from=0: every real prompt token after the first (the old mask)
    assert prompt_loss_mask(plain, 6, torch.device("cpu")).tolist() == [
        [1, 1, 1, 1, 1], [0, 0, 0, 1, 1]]


def test_counted_logprobs_equal_the_next_token_logprobs_slice(tiny_model):
    """The output layer run only on the counted positions gives the same log-probs."""
    from agentgym.trainers.logprobs import next_token_logprobs, pack
    from agentgym.trainers.update import counted_logprobs

    model, tokenizer = tiny_model
    packed = pack([[5, 6, 7, 8, 9, 10, 11], [12, 13, 14]], [[15, 16], [17, 18, 19]],
                  tokenizer.pad_token_id)
    with torch.no_grad():
        every = next_token_logprobs(model, packed)
        for first in (1, 2, 4, 7):  # 7 = prompt length: the responses only
            counted = counted_logprobs(model, packed, first)
            assert counted.shape == (2, 7 + 3 - first)
            assert torch.allclose(counted, every[:, first - 1 :], atol=1e-5)


@pytest.mark.parametrize(("micro_batch_size", "micro_batch_tokens"), [(8, None), (2, 16)])
@pytest.mark.parametrize("prompt_vocab", [None, 20])
def test_sft_step_gradients_equal_the_full_next_token_loss(tiny_path, prompt_vocab,
                                                           micro_batch_size, micro_batch_tokens):
    """sft_step (logits only where counted; with prompt_vocab, a prompt softmax over the ids
    below it and no loss on prompt tokens at or above it) has the gradient of the loss written
    out in full from every position's logits and the prompt_loss_from mask — also when the
    batch is cut into length-sorted micro-batches under a token budget (here [1], [2], [0]:
    6, 9 and 10 padded tokens alone, 18 and 22 for the sorted neighbours together)."""
    from agentgym.trainers.config import EnvConfig, ModelConfig
    from agentgym.trainers.logprobs import pack
    from agentgym.trainers.model import load_policy
    from agentgym.trainers.samples import TurnSample
    from agentgym.trainers.update import (
        UpdateContext,
        micro_batches_of,
        prompt_loss_mask,
        sft_step,
    )

    torch.manual_seed(0)
    model, tokenizer = load_policy(ModelConfig(), EnvConfig(), torch.device("cpu"), path=tiny_path)
    samples = [TurnSample([5, 6, 7, 8, 9, 10, 11, 12], [14, 15], None, 1.0, 5),
               TurnSample([11, 12, 13, 20, 21], [16], None, 1.0, 3),
               TurnSample([30, 31, 32, 33, 34, 35], [17, 18, 19], None, 1.0, 4)]
    ctx = UpdateContext(device=torch.device("cpu"), pad_id=int(tokenizer.pad_token_id),
                        prompt_vocab=prompt_vocab, micro_batch_size=micro_batch_size,
                        micro_batch_tokens=micro_batch_tokens)
    assert len(micro_batches_of(range(3), samples, micro_batch_size, micro_batch_tokens)) == (
        1 if micro_batch_tokens is None else 3)
    params = [p for p in model.parameters() if p.requires_grad]

    class Capture(torch.optim.Optimizer):  # keeps the gradients sft_step computed, moves nothing
        def __init__(self):
            super().__init__(params, {})
            self.grads = None

        def step(self, closure=None):
            self.grads = [p.grad.clone() for p in params]

    capture = Capture()
    sft_step(model, capture, samples, ctx, max_grad_norm=0.0, prompt_weight=0.5)

    packed = pack([s.prompt_ids for s in samples], [s.response_ids for s in samples], ctx.pad_id)
    p_len = packed.prompt_len
    logits = model(input_ids=packed.input_ids, attention_mask=packed.attention_mask,
                   position_ids=packed.position_ids).logits[:, :-1].float()
    targets = packed.input_ids[:, 1:]
    every = torch.log_softmax(logits, -1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    n_resp = float(sum(len(s.response_ids) for s in samples))
    mask = prompt_loss_mask(samples, p_len, torch.device("cpu"))
    prompt_targets = targets[:, : p_len - 1]
    if prompt_vocab is None:
        prompt_lp = every[:, : p_len - 1]
        expected_count = 7.0  # 3 + 2 + 2 counted prompt tokens
    else:
        cut = torch.log_softmax(logits[:, : p_len - 1, :prompt_vocab], -1)
        inside = prompt_targets < prompt_vocab
        prompt_lp = cut.gather(-1, prompt_targets.clamp(max=prompt_vocab - 1).unsqueeze(-1))
        prompt_lp = prompt_lp.squeeze(-1) * inside
        mask = mask * inside
        expected_count = 3.0  # 10, 11, 12 of the first sample; 20, 21, 33..35 are >= 20
    n_prompt = float(mask.sum())
    assert n_prompt == expected_count
    loss = (-(every[:, p_len - 1 :] * packed.response_mask).sum() / n_resp
            - 0.5 * (prompt_lp * mask).sum() / n_prompt)
    reference = torch.autograd.grad(loss, params)
    for got, want in zip(capture.grads, reference, strict=True):
        assert torch.allclose(got, want, atol=1e-6, rtol=1e-4)


def test_tiny_tokenizer_keeps_the_environments_words_whole():
    from agentgym.trainers.tiny import train_tokenizer

    pages = ["1. b0abc12345 | red shoes | $12.00", "color: red, navy blue (chosen: none)",
             "<action>click[b0abc12345]</action> bred breads"] * 10
    words = ["b0abc12345", "b0zz999999", "navy blue"]
    tokenizer = train_tokenizer(pages, vocab_size=300, words=words)
    vocab = tokenizer.get_vocab()
    for word in ("b0abc12345", "b0zz999999", "navy blue"):  # one token each, seen or not
        assert tokenizer.encode(word, add_special_tokens=False) == [vocab[word]]
    ids = tokenizer.encode("<action>click[b0zz999999]</action>", add_special_tokens=False)
    assert vocab["b0zz999999"] in ids
    # whole words only: not inside a longer word
    assert vocab["navy blue"] not in tokenizer.encode("navy bluest", add_special_tokens=False)
    assert vocab["b0abc12345"] not in tokenizer.encode("b0abc123456", add_special_tokens=False)
    text = "buy b0abc12345 in navy blue, not b0abc123456 nor navy bluest"
    assert tokenizer.decode(tokenizer.encode(text, add_special_tokens=False)) == text


def test_words_everywhere_makes_a_word_the_merges_know_one_id_wherever_it_stands():
    """`` red``, ``red`` and ``[red`` are three BPE tokens; registered everywhere, a known word
    is one id at the start of a line, after a space and inside brackets, and keeps the id the
    merges gave it (the new words still come last, after :func:`word_tokens_start`)."""
    from agentgym.trainers.tiny import train_tokenizer, word_tokens_start

    pages = ["color: red, navy blue\nred\n<action>click[red]</action> bred"] * 20
    plain = train_tokenizer(pages, vocab_size=300, words=["red", "navy blue"])
    vocab = plain.get_vocab()
    assert "red" in vocab and "\u0120red" in vocab  # Ġred: " red", a token of its own
    assert vocab["red"] not in plain.encode("color: red", add_special_tokens=False)
    tokenizer = train_tokenizer(pages, vocab_size=300, words=["red", "navy blue"],
                                words_everywhere=True)
    red = tokenizer.get_vocab()["red"]
    assert red == vocab["red"] and red < word_tokens_start(tokenizer)
    assert word_tokens_start(tokenizer) == tokenizer.get_vocab()["navy blue"]
    assert word_tokens_start(tokenizer) == word_tokens_start(plain)
    for text in ("color: red", "\nred\n", "click[red]"):
        assert red in tokenizer.encode(text, add_special_tokens=False), text
    text = "color: red, bred\nred\n<action>click[red]</action>"
    assert tokenizer.decode(tokenizer.encode(text, add_special_tokens=False)) == text


def test_spaces_apart_makes_a_name_the_same_tokens_in_prose_and_in_a_json_string(tmp_path):
    """Qwen2's split joins a word to the character before it (`` Bond`` and ``"Bond`` are
    different tokens); with ``spaces_apart`` no merge does, so a name copied from a question
    into a tool call's JSON is the same token sequence — also in the tokenizer ``AutoTokenizer``
    loads back (a Qwen2 tokenizer rebuilt from the merges), which encodes as the one trained."""
    from transformers import Qwen2Config

    from agentgym.trainers.model import load_tokenizer
    from agentgym.trainers.tiny import train_tokenizer

    pages = ['Question: Where was Bond Cixul born? They\'re here.\n{"query": "Bond Cixul"}'] * 20
    # ``'rose``: one word to Qwen2's split, where the contraction merge ``'r`` applies
    texts = [pages[0], ' ünïcode ☃  two  spaces\t"tab"', "'rose, it's 3'rose (Bond) [Cixul]"]

    def name_tokens(tokenizer, text: str) -> list[str]:
        """The tokens that overlap the name ``Bond Cixul`` in ``text``."""
        start = text.index("Bond Cixul")
        encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        return [tokenizer.convert_ids_to_tokens(i)
                for i, (a, b) in zip(encoded["input_ids"], encoded["offset_mapping"], strict=True)
                if a < start + len("Bond Cixul") and b > start]

    for apart in (False, True):
        trained = train_tokenizer(pages, vocab_size=400, spaces_apart=apart)
        folder = tmp_path / f"apart-{apart}"
        trained.save_pretrained(folder)
        Qwen2Config(vocab_size=len(trained), hidden_size=64, intermediate_size=64,
                    num_hidden_layers=1, num_attention_heads=2).save_pretrained(folder)
        loaded = load_tokenizer(folder)
        for tokenizer in (trained, loaded):
            in_prose = name_tokens(tokenizer, "Where was Bond Cixul born?")
            in_json = name_tokens(tokenizer, '"query": "Bond Cixul"')
            assert (in_prose == in_json) == apart, (in_prose, in_json)
        for text in texts:
            ids = trained.encode(text, add_special_tokens=False)
            assert loaded.encode(text, add_special_tokens=False) == ids
            assert trained.decode(ids) == text


def test_tiny_corpus_is_the_same_in_every_build():
    """The random episodes of the tiny model's corpus are seeded by their episode ids: with a
    random run id every build trained another tokenizer (a flaky critic test found it)."""
    from agentgym.trainers.config import EnvConfig
    from agentgym.trainers.tiny import environment_corpus

    env = EnvConfig(id="agentgym/Sokoban-v0", max_turns=6)
    first = environment_corpus(env, n_episodes=3, seed=0)
    assert first == environment_corpus(env, n_episodes=3, seed=0)
    assert first != environment_corpus(env, n_episodes=3, seed=1)


def test_environment_hints_of_the_tokenizer():
    from agentgym.trainers.config import EnvConfig
    from agentgym.trainers.tiny import TokenizerHints, environment_hints

    textworld = environment_hints(EnvConfig(id="agentgym/TextWorld-v0", kwargs={"split": "easy"}))
    assert {"egg", "white tuna", "take", "from", "fridge", "cookbook"} <= set(textworld.words)
    assert textworld.everywhere  # TextWorld registers the words its BPE merges knew, too
    assert not textworld.spaces_apart
    search = environment_hints(EnvConfig(id="agentgym/SearchQA-v0",
                                         kwargs={"n_articles": 300, "n_questions": 50}))
    assert search == TokenizerHints(spaces_apart=True)
    assert environment_hints(EnvConfig(id="agentgym/Sokoban-v0")) == TokenizerHints()
