"""Every registered environment passes the conformance checker.

Parametrized over the registry, so a newly registered environment (web, SWE, a plugin's) is
checked automatically, without a skip list (an entry point registered many times — MiniWoB++'s
task ids — on an evenly spaced sample of its ids). Multi-agent ids (PettingZoo environments) go
to their own checks: PettingZoo's ``api_test`` and ``seed_test``, the agentgym info contract,
garbage actions and 1,000 fuzzed actions.
"""

from __future__ import annotations

import warnings

import pytest
from gymnasium.error import ResetNeeded
from gymnasium.utils.env_checker import check_env as gymnasium_check_env

import agentgym
from agentgym.core.checker import CHECKS

#: a family registered many times from one entry point with different kwargs (MiniWoB++'s 131
#: task ids) is checked on this many of its ids, evenly spaced: the checks exercise the one
#: implementation, and a full check costs seconds of Chromium per id. The family's own tests
#: reset and step every task (tests/gui/test_miniwob.py).
SAMPLE_PER_ENTRY_POINT = 4
MANY = 8


def _sampled(ids: list[str]) -> list[str]:
    """``ids`` with each entry point registered more than :data:`MANY` times cut to an evenly
    spaced sample of :data:`SAMPLE_PER_ENTRY_POINT` (sorted, so the sample is fixed)."""
    by_entry: dict[str, list[str]] = {}
    for env_id in ids:
        by_entry.setdefault(str(agentgym.spec(env_id).entry_point), []).append(env_id)
    kept: set[str] = set()
    for group in by_entry.values():
        if len(group) <= MANY:
            kept.update(group)
        else:
            step = (len(group) - 1) / (SAMPLE_PER_ENTRY_POINT - 1)
            kept.update(group[round(i * step)] for i in range(SAMPLE_PER_ENTRY_POINT))
    return [env_id for env_id in ids if env_id in kept]


ALL_IDS = sorted(agentgym.registry)
MULTIAGENT_IDS = [i for i in ALL_IDS if agentgym.spec(i).family == "multiagent"]
SINGLE_AGENT_IDS = _sampled([i for i in ALL_IDS if i not in MULTIAGENT_IDS])


@pytest.mark.parametrize("env_id", SINGLE_AGENT_IDS)
def test_registered_env_conforms(env_id):
    report = agentgym.check_env(env_id, raise_on_error=False)
    assert report.problems == []
    assert set(report.passed) == set(CHECKS)


@pytest.mark.parametrize("env_id", SINGLE_AGENT_IDS)
def test_registered_env_answers_1000_garbage_actions_without_an_exception(env_id):
    report = agentgym.check_env(env_id, checks=["random garbage actions"],
                                garbage_actions=1000, raise_on_error=False)
    assert report.problems == []


@pytest.mark.parametrize("env_id", SINGLE_AGENT_IDS)
def test_step_before_reset_raises_reset_needed(env_id):
    env = agentgym.make(env_id)
    try:
        with pytest.raises(ResetNeeded, match=r"call reset\(\) before step\(\)"):
            env.step("")
        with pytest.raises(ResetNeeded):
            env.unwrapped.step("")
    finally:
        env.close()


@pytest.mark.parametrize("env_id", [i for i in ALL_IDS if agentgym.spec(i).family == "text"])
def test_text_env_renders_its_observation_in_ansi_mode(env_id):
    ansi, quiet = agentgym.make(env_id, render_mode="ansi"), agentgym.make(env_id)
    try:
        ansi.render()  # before reset: allowed (RequireReset does not enforce render order)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "wrapped environment", "no render fps"
            gymnasium_check_env(ansi)  # the whole stack, with its render check (spec.make)
        assert ansi.reset(seed=1)[0] == ansi.render()
        quiet.reset(seed=1)
        assert quiet.render() is None
    finally:
        ansi.close()
        quiet.close()


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_registered_env_has_description_and_family(env_id):
    env_spec = agentgym.spec(env_id)
    assert env_spec.description, f"{env_id}: give register(..., description=...) one line"
    assert env_spec.family in {"text", "tool", "web", "swe", "gui", "multiagent"}


@pytest.mark.parametrize("env_id", MULTIAGENT_IDS)
def test_registered_multiagent_env_conforms(env_id):
    from agentgym.core.multiagent_checker import check_multiagent_env

    report = check_multiagent_env(env_id, n_fuzz=1000)
    assert report.ok
    assert report.passed == ["pettingzoo api_test", "pettingzoo seed_test",
                             "determinism and info keys", "garbage actions", "garbage fuzz",
                             "expert plays"]
