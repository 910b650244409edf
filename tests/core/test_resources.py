"""Shared process resources, the cache folder and the small env helpers in agentgym.core."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap

import gymnasium as gym
import pytest

from agentgym.core.env import echo_action, optional_method
from agentgym.core.paths import cache_dir
from agentgym.core.resources import SharedResources


def test_shared_resource_is_made_once_and_closed_by_the_last_holder():
    made, closed = [], []
    shared = SharedResources(close=closed.append)

    def factory():
        made.append(object())
        return made[-1]

    a = shared.acquire("k", factory)
    b = shared.acquire("k", factory)
    assert a is b and len(made) == 1 and shared.holders("k") == 2
    shared.release("k")
    assert closed == [] and shared.holders("k") == 1
    shared.release("k")
    assert closed == [a] and shared.holders("k") == 0
    shared.release("k")  # a double release is harmless
    assert closed == [a]
    c = shared.acquire("k", factory)
    assert c is not a and len(made) == 2
    shared.close_all()
    assert closed == [a, c] and shared.live() == []


def test_failed_factory_holds_nothing():
    shared = SharedResources(close=lambda _: None)

    def broken():
        raise OSError("no browser")

    with pytest.raises(OSError):
        shared.acquire("k", broken)
    assert shared.holders("k") == 0


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_cleanup_runs_on_signal_and_the_process_still_dies_of_it(tmp_path, signum):
    marker = tmp_path / "cleaned"
    script = textwrap.dedent(f"""
        import os, signal, sys, time
        from agentgym.core.resources import on_exit
        on_exit(lambda: open({str(marker)!r}, "w").write("yes"))
        print("ready", flush=True)
        time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    proc.send_signal(signum)
    code = proc.wait(timeout=30)
    assert marker.read_text() == "yes"
    if signum == signal.SIGTERM:
        assert code == -signal.SIGTERM
    else:
        assert code != 0  # KeyboardInterrupt from Python's own SIGINT handler


def test_cache_dir_follows_the_environment_variable(monkeypatch, tmp_path):
    monkeypatch.setenv("AGENTGYM_CACHE_DIR", str(tmp_path))
    assert cache_dir("swe", "tasks") == tmp_path / "swe" / "tasks"
    monkeypatch.delenv("AGENTGYM_CACHE_DIR")
    assert cache_dir().parts[-2:] == (".cache", "agentgym")


def test_echo_action_is_short_and_always_encodable():
    assert echo_action("up") == "'up'"
    long = echo_action("x" * 100)
    assert long.startswith("'" + "x" * 40 + "'") and long.endswith("(100 characters)")
    echoed = echo_action("\ud800" * 3)
    echoed.encode("utf-8")  # a lone surrogate must not make the message unencodable
    assert echo_action(None) == "'None'"


def test_optional_method_looks_through_wrappers():
    class WithExpert(gym.Env):
        observation_space = action_space = gym.spaces.Discrete(2)

        def expert_action(self):
            return "up"

    env = gym.wrappers.TimeLimit(WithExpert(), max_episode_steps=3)
    assert optional_method(env, "expert_action")() == "up"
    assert optional_method(env, "admissible_actions") is None
