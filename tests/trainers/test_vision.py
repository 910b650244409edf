"""Vision-language policies: the screenshot reaches a Qwen2-VL-architecture model (``tiny-vl``)
in the hf engine and, with the same pixels and ids, in the trainer's log-prob recomputation."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from agentgym.core.policy import Request
from agentgym.trainers.engines import EngineBuild, SamplingSettings, make_engine
from agentgym.trainers.samples import TurnSample
from agentgym.trainers.update import UpdateContext, compute_logprobs
from agentgym.trainers.vision import IMAGE_TOKEN, observation_image

TEXT = "Task: click the button.\nElements:\n[1] button \"OK\" @(10,20,30,12)"


@pytest.fixture(scope="module")
def tiny_vl(tiny_cfgs):
    """``(model, tokenizer, vision codec)`` of a tiny-vl model built for the test env."""
    from agentgym.trainers.config import ModelConfig, TinyVisionConfig
    from agentgym.trainers.model import load_policy, load_vision

    env, tiny = tiny_cfgs
    tiny = dataclasses.replace(tiny, corpus_episodes=2)  # its own corpus: kept short
    cfg = ModelConfig(name="tiny-vl", tiny=tiny, vision=TinyVisionConfig())
    torch.set_num_threads(2)
    model, tokenizer = load_policy(cfg, env, torch.device("cpu"))
    return model, tokenizer, load_vision(cfg, env, tokenizer)


def _image(seed: int, height: int, width: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def _requests() -> list[Request]:
    # screenshots of different sizes (different placeholder counts: a left-padded batch) and
    # one text-only observation in the same batch
    shapes = [(210, 160), (120, 100), (210, 160), None]
    out = []
    for i, shape in enumerate(shapes):
        text = TEXT + "\n_" * i
        observation = text if shape is None else {"text": text, "image": _image(i, *shape)}
        out.append(Request(messages=[{"role": "user", "content": text}], observation=observation))
    return out


def _engine(model, tokenizer, vision, temperature: float):
    sampling = SamplingSettings(temperature=temperature, max_new_tokens=6, seed=5)
    return make_engine("hf", EngineBuild(tokenizer=tokenizer, sampling=sampling, model=model,
                                         vision=vision))


def test_tiny_vl_is_a_qwen2_vl_model_with_its_image_processor(tiny_vl):
    model, tokenizer, vision = tiny_vl
    assert type(model).__name__ == "Qwen2VLForConditionalGeneration"
    assert vision is not None and vision.merge == 2
    # a 210x160 screenshot is resized to 224x168 (multiples of 28): 16x12 patches, 48 tokens
    assert vision.image_tokens(_image(0, 210, 160)) == 48
    prompt = vision.encode_prompt([{"role": "user", "content": TEXT}], None, _image(0, 210, 160))
    assert prompt.count(vision.image_token_id) == 48
    text = tokenizer.decode(prompt)
    assert text.startswith("<|im_start|>user\n<|vision_start|>" + IMAGE_TOKEN)
    assert text.endswith(TEXT + "<|im_end|>\n<|im_start|>assistant\n")


@pytest.mark.parametrize("temperature", [1.0, 0.7])
def test_sampled_logprobs_equal_teacher_forcing_on_the_same_images(tiny_vl, temperature):
    model, tokenizer, vision = tiny_vl
    engine = _engine(model, tokenizer, vision, temperature)
    requests = _requests()
    generations = engine.as_policy()(requests)
    for request, generation in zip(requests, generations, strict=True):
        image = observation_image(request.observation)
        if image is None:
            assert generation.images is None
            assert generation.prompt_ids == engine.encode_prompt(request.messages)
        else:
            assert generation.images is not None and generation.images[0] is not None
            assert np.array_equal(generation.images[0], image)
            assert vision.image_token_id in generation.prompt_ids
    samples = [TurnSample(g.prompt_ids, g.token_ids, g.logprobs, 1.0, images=g.images)
               for g in generations]
    ctx = UpdateContext(device=torch.device("cpu"), pad_id=int(tokenizer.pad_token_id),
                        temperature=temperature, vision=vision)
    recomputed = compute_logprobs(model, samples, [list(range(len(samples)))], ctx)
    for generation, logp in zip(generations, recomputed, strict=True):
        assert logp.tolist() == pytest.approx(generation.logprobs, abs=1e-4)
    # one sample at a time (no padding) gives the same numbers
    alone = compute_logprobs(model, samples, [[i] for i in range(len(samples))], ctx)
    for a, b in zip(alone, recomputed, strict=True):
        assert a.tolist() == pytest.approx(b.tolist(), abs=1e-4)


def test_the_pixels_reach_the_model(tiny_vl):
    model, tokenizer, vision = tiny_vl
    engine = _engine(model, tokenizer, vision, 1.0)
    request = _requests()[0]
    generation = engine.as_policy()([request])[0]
    ctx = UpdateContext(device=torch.device("cpu"), pad_id=int(tokenizer.pad_token_id),
                        vision=vision)
    same = TurnSample(generation.prompt_ids, generation.token_ids, None, 1.0,
                      images=generation.images)
    other = TurnSample(generation.prompt_ids, generation.token_ids, None, 1.0,
                       images=[255 - generation.images[0]])
    a, b = compute_logprobs(model, [same, other], [[0], [1]], ctx)
    assert a.tolist() == pytest.approx(generation.logprobs, abs=1e-4)
    assert (a - b).abs().max() > 1e-3  # other pixels, other log-probs: the image is read


def test_image_markup_is_never_sampled(tiny_vl):
    model, tokenizer, vision = tiny_vl
    engine = _engine(model, tokenizer, vision, 1.0)
    # sampling from a flattened distribution (a high temperature) over many tokens
    generations = engine.as_policy(temperature=50.0)(_requests())
    suppressed = set(vision.suppressed_ids.tolist())
    assert {"<|vision_start|>", "<|vision_end|>", "<|image_pad|>"} <= {
        tokenizer.convert_ids_to_tokens(i) for i in suppressed}
    assert all(not suppressed & set(g.token_ids) for g in generations)
    logits = vision.suppress(torch.zeros(2, len(tokenizer)))
    assert torch.softmax(logits, -1)[:, sorted(suppressed)].sum() == 0.0
    assert torch.isfinite(logits).all()


def test_model_presets_compose():
    from omegaconf import OmegaConf

    from agentgym.cli.train import compose
    from agentgym.trainers.config import ConfigError, TrainConfig, from_dict, validate

    data = OmegaConf.to_container(compose(["env=miniwob", "model=tiny-vl"]), resolve=True)
    cfg = validate(from_dict(TrainConfig, data))
    assert cfg.model.name == "tiny-vl" and cfg.model.path is None  # built locally
    assert cfg.env.kwargs["screenshot"] is True and cfg.budget.iterations == 4
    data = OmegaConf.to_container(
        compose(["env=miniwob", "model=qwen2.5-vl-3b", "model.path=/models/Qwen2.5-VL-3B"]),
        resolve=True)
    cfg = validate(from_dict(TrainConfig, data))
    assert cfg.model.name == "qwen2.5-vl-3b" and cfg.model.path == "/models/Qwen2.5-VL-3B"
    assert cfg.model.lora.rank == 16
    data["model"]["path"] = None
    with pytest.raises(ConfigError, match=r"model\.path is required"):
        validate(from_dict(TrainConfig, data))
