"""Every registered environment passes the conformance checker.

Parametrized over the registry, so a newly registered environment is checked automatically.
"""

from __future__ import annotations

import pytest

import agentgym

ALL_IDS = sorted(agentgym.registry)


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_registered_env_conforms(env_id):
    report = agentgym.check_env(env_id)
    assert report.ok
    assert {"gymnasium API", "determinism and info keys", "garbage actions"} <= set(report.passed)


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_registered_env_has_description_and_family(env_id):
    env_spec = agentgym.spec(env_id)
    assert env_spec.description, f"{env_id}: give register(..., description=...) one line"
    assert env_spec.family in {"text", "tool", "web", "swe", "gui", "multiagent"}
