"""The hf engine: sampled token ids and log-probs equal a teacher-forced recomputation."""

from __future__ import annotations

import pytest
import torch

from agentgym.core.policy import Request
from agentgym.trainers.engines import SamplingSettings
from agentgym.trainers.engines.hf import HFEngine
from agentgym.trainers.logprobs import pack, sequence_logprobs

GRID = "# # # #\n# P X #\n# _ O #\n# # # #"


def _engine(model, tokenizer, **sampling) -> HFEngine:
    return HFEngine(model, tokenizer, SamplingSettings(**sampling))


def _messages(i: int) -> list[dict[str, str]]:
    # Prompts of different lengths, so the batch really is left-padded.
    return [{"role": "user", "content": "Task: push the box.\n\n" + GRID + "\n_" * i}]


@pytest.mark.parametrize("temperature", [1.0, 0.7, 0.0])
def test_logprobs_match_teacher_forcing(tiny_model, temperature):
    model, tokenizer = tiny_model
    engine = _engine(model, tokenizer, temperature=temperature, max_new_tokens=6, seed=3)
    generations = engine([Request(messages=_messages(i), observation=GRID) for i in range(5)])
    prompts = [g.prompt_ids for g in generations]
    responses = [g.token_ids for g in generations]
    # the prompt ids are the chat template of the messages, nothing re-tokenized
    assert prompts[0] == engine.encode_prompt(_messages(0))
    assert len({len(p) for p in prompts}) > 1
    with torch.no_grad():
        logp, mask = sequence_logprobs(model, prompts, responses, tokenizer.pad_token_id,
                                       temperature=temperature)
    for i, g in enumerate(generations):
        assert len(g.logprobs) == len(g.token_ids) == int(mask[i].sum())
        assert logp[i, : len(g.token_ids)].tolist() == pytest.approx(g.logprobs, abs=1e-4)
        # the text is what the tokens decode to
        assert g.text == tokenizer.decode(g.token_ids, skip_special_tokens=True)


def test_sampling_is_seeded_and_greedy_is_deterministic(tiny_model):
    model, tokenizer = tiny_model
    prompts = [_engine(model, tokenizer).encode_prompt(_messages(i)) for i in range(4)]
    a = _engine(model, tokenizer, max_new_tokens=5, seed=11).generate(prompts)
    b = _engine(model, tokenizer, max_new_tokens=5, seed=11).generate(prompts)
    assert [g.token_ids for g in a] == [g.token_ids for g in b]
    greedy = _engine(model, tokenizer, temperature=0.0, max_new_tokens=5)
    one_by_one = [greedy.generate([p])[0].token_ids for p in prompts]
    assert [g.token_ids for g in greedy.generate(prompts)] == one_by_one


def test_stop_string_ends_generation(tiny_model):
    model, tokenizer = tiny_model
    engine = _engine(model, tokenizer, temperature=0.0, max_new_tokens=4, stop=("</action>",))
    stop_id = tokenizer.convert_tokens_to_ids("</action>")
    prompt = engine.encode_prompt(_messages(0))
    # Force the stop token: make it the argmax of every step.
    with torch.no_grad():
        bias = torch.zeros(len(tokenizer))
        bias[stop_id] = 1e4
        head = model.get_output_embeddings()
        old = getattr(head, "bias", None)
        head.bias = torch.nn.Parameter(bias)
        try:
            generation = engine.generate([prompt])[0]
        finally:
            head.bias = old
    assert generation.token_ids == [stop_id]
    assert generation.text == "</action>"
    assert generation.info["finish_reason"] == "stop"


def test_encode_response_appends_eos_unless_stopped(tiny_model):
    model, tokenizer = tiny_model
    engine = _engine(model, tokenizer, stop=("</action>",))
    ids = engine.encode_response("<action>up</action>")
    assert tokenizer.decode(ids) == "<action>up</action>"
    assert engine.encode_response("up")[-1] == tokenizer.eos_token_id


def test_pack_layout():
    batch = pack([[1, 2, 3], [4]], [[5], [6, 7]], pad_id=0)
    assert batch.input_ids.tolist() == [[1, 2, 3, 5, 0], [0, 0, 4, 6, 7]]
    assert batch.position_ids.tolist() == [[0, 1, 2, 3, 3], [0, 0, 0, 1, 2]]
    assert batch.response_mask.tolist() == [[1, 0], [1, 1]]
    assert batch.prompt_len == 3


def test_tool_schemas_reach_the_chat_template(tiny_model):
    """An environment's tools are rendered by the chat template (apply_chat_template(tools=)),
    so the prompt ids the engine samples from contain them."""
    model, tokenizer = tiny_model
    engine = _engine(model, tokenizer)
    tool = {"name": "search", "description": "find articles",
            "parameters": {"type": "object", "properties": {"query": {"type": "string"}},
                           "required": ["query"]}}
    plain = engine.encode_prompt(_messages(0))
    with_tools = engine.encode_prompt(_messages(0), [tool])
    text = tokenizer.decode(with_tools)
    assert text.startswith("<|im_start|>system\n# Tools\n") and '"name": "search"' in text
    assert text.endswith(tokenizer.decode(plain))


def test_rollout_requests_carry_the_environments_tools():
    from agentgym.core.policies import ExpertPolicy
    from agentgym.core.rollout import collect

    seen = []

    def spy(requests):
        seen.extend(r.tools for r in requests)
        return ExpertPolicy()(requests)

    collect("agentgym/SearchQA-v0", spy, [0], max_turns=2)
    def names(tools):
        return {t.get("name") or t["function"]["name"] for t in tools}

    assert seen and all(tools and names(tools) >= {"search", "open", "answer"} for tools in seen)
    collect("agentgym/Sokoban-v0", spy, [0], max_turns=1)
    assert seen[-1] is None
