"""Shared fixtures: a tiny model built once per session in a temporary cache."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch


@pytest.fixture(scope="session")
def cache_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("agentgym-cache")
    old = os.environ.get("AGENTGYM_CACHE_DIR")
    os.environ["AGENTGYM_CACHE_DIR"] = str(root)
    yield root
    if old is None:
        os.environ.pop("AGENTGYM_CACHE_DIR", None)
    else:
        os.environ["AGENTGYM_CACHE_DIR"] = old


@pytest.fixture(scope="session")
def tiny_cfgs(cache_root):
    """``(EnvConfig, TinyModelConfig)`` of the test model (a small corpus: fast to build)."""
    from agentgym.trainers.config import EnvConfig, TinyModelConfig

    return EnvConfig(max_turns=6), TinyModelConfig(corpus_episodes=8)


@pytest.fixture(scope="session")
def tiny_path(tiny_cfgs) -> Path:
    from agentgym.trainers.tiny import ensure_tiny_model

    return ensure_tiny_model(*tiny_cfgs)


@pytest.fixture(scope="session")
def tiny_model(tiny_path):
    """``(model, tokenizer)`` loaded from the cached tiny model (float32, CPU)."""

    from agentgym.trainers.config import EnvConfig, ModelConfig
    from agentgym.trainers.model import load_policy

    torch.set_num_threads(2)
    return load_policy(ModelConfig(), EnvConfig(), torch.device("cpu"), path=tiny_path)
