"""Shared helpers of the environment tests."""

from __future__ import annotations

from collections.abc import Callable

import gymnasium as gym
import pytest


def _play_expert(env: gym.Env, limit: int) -> tuple[bool, int]:
    """Step ``env`` with its expert until the episode ends or ``limit`` turns: (success, turns)."""
    for turn in range(1, limit + 1):
        _, _, terminated, truncated, info = env.step(env.unwrapped.expert_action())
        if terminated or truncated:
            return bool(info["success"]), turn
    return False, limit


def _same_seed_resets(make_env: Callable[[], gym.Env], n_seeds: int) -> list[dict]:
    """Reset two fresh environments with seeds ``0..n_seeds-1``; assert each pair gave the
    same observation and task, and return the reset infos."""
    env_a, env_b = make_env(), make_env()
    infos = []
    for seed in range(n_seeds):
        obs_a, info_a = env_a.reset(seed=seed)
        obs_b, info_b = env_b.reset(seed=seed)
        assert (obs_a, info_a["task_id"]) == (obs_b, info_b["task_id"]), seed
        infos.append(info_a)
    return infos


@pytest.fixture
def same_seed_resets() -> Callable[[Callable[[], gym.Env], int], list[dict]]:
    """:func:`_same_seed_resets`: the same seed gives the same task in two environments."""
    return _same_seed_resets


@pytest.fixture
def play_expert() -> Callable[[gym.Env, int], tuple[bool, int]]:
    """:func:`_play_expert`: play an environment with its expert."""
    return _play_expert
