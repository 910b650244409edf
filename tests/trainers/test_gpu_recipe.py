"""The GPU recipe of docs/trainer.md, dry-run on a CPU.

``agentgym train env=webshop algo=gigpo_paper hardware=gpu model=qwen2.5-1.5b-instruct
model.path=… model.lora.rank=0 env.history_window=2 env.max_new_tokens=512
env.kwargs.observation_mode=text`` must compose to the GiGPO paper's WebShop settings, and
everything it builds but the weights — tokenizer and chat template, the model class and its
gradient checkpointing, the frozen KL reference, the engine, the KL-regularised PPO update, the
evaluation — must run. A model of the Qwen2.5-1.5B-Instruct config shape (every key of its
``config.json``; layers and widths shrunk) stands in for the weights, which cannot be downloaded
here, and the run is moved to the CPU with a budget of one short iteration.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from agentgym.cli.train import compose, to_train_config
from agentgym.trainers.recipe import train

#: ``config.json`` of Qwen/Qwen2.5-1.5B-Instruct (its keys and values).
QWEN25_15B_CONFIG = {
    "architectures": ["Qwen2ForCausalLM"],
    "attention_dropout": 0.0,
    "bos_token_id": 151643,
    "eos_token_id": 151645,
    "hidden_act": "silu",
    "hidden_size": 1536,
    "initializer_range": 0.02,
    "intermediate_size": 8960,
    "max_position_embeddings": 32768,
    "max_window_layers": 21,
    "model_type": "qwen2",
    "num_attention_heads": 12,
    "num_hidden_layers": 28,
    "num_key_value_heads": 2,
    "rms_norm_eps": 1e-06,
    "rope_theta": 1000000.0,
    "sliding_window": 32768,
    "tie_word_embeddings": True,
    "torch_dtype": "bfloat16",
    "use_cache": True,
    "use_sliding_window": False,
    "vocab_size": 151936,
}
#: The shrunk sizes of the stand-in (same head ratio 6:1 query:key-value heads -> 2:1 here).
SHRUNK = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
          "num_attention_heads": 2, "num_key_value_heads": 1, "max_window_layers": 1}

GPU_COMMAND = [
    "env=webshop", "algo=gigpo_paper", "hardware=gpu", "model=qwen2.5-1.5b-instruct",
    "model.lora.rank=0", "env.history_window=2", "env.max_new_tokens=512",
    "env.kwargs.observation_mode=text",
]


@pytest.fixture(scope="module")
def stand_in(tmp_path_factory) -> Path:
    """A Qwen2.5-1.5B-Instruct-shaped model directory with random weights and a ChatML
    tokenizer (trained on a few shop pages)."""
    from transformers import AutoModelForCausalLM, Qwen2Config

    from agentgym.trainers.tiny import train_tokenizer

    out = tmp_path_factory.mktemp("qwen-stand-in")
    pages = ["Instruction: i need a blue shampoo under 20 dollars [SEP] Search",
             "<action>search[blue shampoo]</action> <action>click[buy now]</action>"] * 20
    tokenizer = train_tokenizer(pages, vocab_size=300)
    shape = {**QWEN25_15B_CONFIG, **SHRUNK, "vocab_size": len(tokenizer),
             "bos_token_id": tokenizer.convert_tokens_to_ids("<|im_start|>"),
             "eos_token_id": tokenizer.eos_token_id}
    values = {k: v for k, v in shape.items() if k not in ("architectures", "model_type")}
    values["dtype"] = values.pop("torch_dtype")
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(Qwen2Config(**values))
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    # the released file's keys, as a real checkpoint has them (not this version's re-export)
    (out / "config.json").write_text(json.dumps(shape, indent=2))
    return out


def test_the_command_composes_to_the_papers_settings():
    cfg = to_train_config(compose([*GPU_COMMAND, "model.path=/models/Qwen2.5-1.5B-Instruct"]))
    assert (cfg.algo.name, cfg.algo.params) == ("gigpo", {"gamma": 0.95, "omega": 1.0,
                                                          "norm": "mean"})
    assert cfg.algo.optim.lr == 1e-6 and cfg.algo.optim.ppo_epochs == 1
    assert (cfg.algo.loss.kl_coef, cfg.algo.loss.kl_type) == (0.01, "k3")
    assert (cfg.algo.loss.clip_low, cfg.algo.loss.clip_high) == (0.2, 0.2)
    assert cfg.algo.warmup.prompt_loss == 0.0
    assert (cfg.budget.group_size, cfg.budget.tasks_per_iteration) == (8, 16)
    assert (cfg.budget.iterations, cfg.budget.eval_every, cfg.budget.eval_episodes) == (150, 5,
                                                                                         128)
    assert cfg.budget.warmup_episodes == 0
    assert (cfg.env.max_turns, cfg.env.history_window, cfg.env.max_new_tokens) == (15, 2, 512)
    assert cfg.env.invalid_penalty == 0.1 and cfg.env.kwargs["observation_mode"] == "text"
    assert (cfg.hardware.device, cfg.model.dtype, cfg.model.lora.rank) == ("cuda", "auto", 0)
    assert cfg.model.gradient_checkpointing


def test_stand_in_has_the_config_shape_of_qwen25(stand_in):
    from transformers import AutoConfig

    saved = json.loads((stand_in / "config.json").read_text())
    assert saved.keys() == QWEN25_15B_CONFIG.keys()
    assert {k: v for k, v in saved.items() if k not in SHRUNK and not k.endswith(
        ("token_id", "vocab_size"))} == {k: v for k, v in QWEN25_15B_CONFIG.items()
                                         if k not in SHRUNK and not k.endswith(
                                             ("token_id", "vocab_size"))}
    loaded = AutoConfig.from_pretrained(stand_in)
    assert loaded.model_type == "qwen2" and loaded.tie_word_embeddings


def test_dry_run_builds_everything_but_the_weights(stand_in, tmp_path, cache_root):
    """One iteration of the recipe on the CPU: KL reference, gradient checkpointing, the
    paper's update (one PPO pass, KL 0.01) and both evaluations."""
    cfg = to_train_config(compose([
        *GPU_COMMAND, f"model.path={stand_in}",
        # moved to the CPU and shrunk to one short iteration
        "hardware.device=cpu", "hardware.env_workers=0", "hardware.micro_batch_size=4",
        "env.max_new_tokens=8", "env.max_turns=2", "budget.iterations=1",
        "budget.tasks_per_iteration=2", "budget.group_size=2", "budget.eval_episodes=2",
        "budget.eval_every=1", f"trainer.run_dir={tmp_path / 'run'}", "trainer.progress=false",
        "trainer.tensorboard=false",
    ]))
    result = train(cfg)
    assert result.iterations == 1
    assert (tmp_path / "run" / "warmstart" / "config.json").exists()  # the KL reference
    update = result.history[0]
    assert update["update/steps"] == 1  # one PPO pass over 4 episodes' turns: one mini-batch
    assert update["update/first_ratio_max_dev"] < 1e-4
    assert update["update/kl"] >= 0.0
    assert result.warmstart["episodes"] == 2 and result.final["episodes"] == 2
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["algo"]["loss"]["kl_coef"] == 0.01 and saved["env"]["history_window"] == 2
