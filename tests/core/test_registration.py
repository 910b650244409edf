"""Registry: register/make/spec, lazy entry points, close-match errors, plugins."""

from __future__ import annotations

import sys
import textwrap

import pytest

import agentgym
from agentgym.core import registration
from agentgym.core.env import TextEnv
from agentgym.core.wrappers import TurnLimit


class EchoEnv(TextEnv):
    """Echoes the action; never terminates on its own."""

    def __init__(self, prefix: str = "echo", **kwargs):
        super().__init__(**kwargs)
        self.prefix = prefix

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return "start", self.reset_info(task_id=str(seed), instruction="echo", state_key="s")

    def step(self, action):
        info = self.step_info(state_key="s", action_valid=True, reward_parts={"r": 1.0})
        return f"{self.prefix}:{action}", 1.0, False, False, info


@pytest.fixture
def clean_registry():
    saved = dict(registration.registry)
    yield registration.registry
    registration.registry.clear()
    registration.registry.update(saved)


def test_builtin_text_envs_are_registered():
    for env_id in ("agentgym/Sokoban-v0", "agentgym/FrozenLake-v0", "agentgym/Taxi-v0",
                   "agentgym/TextWorld-v0"):
        assert env_id in agentgym.registry
        assert agentgym.spec(env_id).family == "text"


def test_make_applies_kwargs_and_turn_limit(clean_registry):
    agentgym.register("test/Echo-v0", entry_point=EchoEnv, max_episode_steps=3,
                      kwargs={"prefix": "a"})
    env = agentgym.make("test/Echo-v0", prefix="b")
    assert isinstance(env, TurnLimit)
    assert env.spec.id == "test/Echo-v0"
    env.reset(seed=1)
    flags = [env.step("x")[2:4] for _ in range(3)]
    assert flags == [(False, False), (False, False), (False, True)]
    assert env.step("y")[0] == "b:y"


def test_make_override_turn_limit(clean_registry):
    agentgym.register("test/Echo-v0", entry_point=EchoEnv, max_episode_steps=3)
    env = agentgym.make("test/Echo-v0", max_episode_steps=1)
    env.reset(seed=0)
    _, _, terminated, truncated, info = env.step("x")
    assert (terminated, truncated, info["truncated_reason"]) == (False, True, "turn_limit")


def test_string_entry_point_is_imported_lazily(clean_registry, tmp_path, monkeypatch):
    module = tmp_path / "lazy_env_mod.py"
    module.write_text(textwrap.dedent("""
        from agentgym.core.env import TextEnv
        class LazyEnv(TextEnv):
            def reset(self, *, seed=None, options=None):
                return "x", self.reset_info(task_id="t", instruction="i", state_key="k")
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    agentgym.register("test/Lazy-v0", entry_point="lazy_env_mod:LazyEnv")
    assert "lazy_env_mod" not in sys.modules
    env = agentgym.make("test/Lazy-v0")
    assert "lazy_env_mod" in sys.modules
    assert env.reset()[0] == "x"


def test_short_names_resolve_case_insensitively():
    assert agentgym.resolve_id("sokoban") == "agentgym/Sokoban-v0"
    assert agentgym.resolve_id("TAXI") == "agentgym/Taxi-v0"
    assert agentgym.resolve_id("FrozenLake-v0") == "agentgym/FrozenLake-v0"


def test_unknown_id_lists_close_matches():
    with pytest.raises(agentgym.UnknownEnvError) as err:
        agentgym.make("agentgym/Sokobn-v0")
    message = str(err.value)
    assert "agentgym/Sokoban-v0" in message and "agentgym envs" in message


def test_unknown_id_is_a_keyerror_too():
    with pytest.raises(KeyError):
        agentgym.spec("nothing/Here-v0")


def test_ambiguous_short_name(clean_registry):
    agentgym.register("a/Same-v0", entry_point=EchoEnv)
    agentgym.register("b/Same-v0", entry_point=EchoEnv)
    with pytest.raises(agentgym.UnknownEnvError, match="ambiguous"):
        agentgym.resolve_id("same")


def test_invalid_ids_are_rejected():
    with pytest.raises(ValueError, match="invalid environment id"):
        agentgym.register("bad id with spaces", entry_point=EchoEnv)


def test_module_prefix_imports_then_resolves(clean_registry, tmp_path, monkeypatch):
    (tmp_path / "my_plugin_mod.py").write_text(textwrap.dedent("""
        import agentgym
        from agentgym.core.env import TextEnv
        class E(TextEnv):
            pass
        agentgym.register("mine/Thing-v0", entry_point=E)
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    assert agentgym.resolve_id("my_plugin_mod:mine/Thing-v0") == "mine/Thing-v0"
    with pytest.raises(agentgym.UnknownEnvError, match="cannot import module"):
        agentgym.resolve_id("no_such_module_xyz:mine/Thing-v0")


def test_entry_point_plugins_register(clean_registry, monkeypatch):
    calls = []

    class FakeEntryPoint:
        name, value = "fake", "fake:register"

        def load(self):
            def register_all():
                calls.append(1)
                agentgym.register("plugin/Fake-v0", entry_point=EchoEnv)
            return register_all

    class Broken(FakeEntryPoint):
        name, value = "broken", "broken:oops"

        def load(self):
            raise ImportError("boom")

    def fake_entry_points(group):
        assert group == registration.ENTRY_POINT_GROUP
        return [FakeEntryPoint(), Broken()]

    monkeypatch.setattr(registration.importlib.metadata, "entry_points", fake_entry_points)
    monkeypatch.setattr(registration, "_plugins_loaded", False)
    with pytest.warns(UserWarning, match="broken"):
        assert agentgym.resolve_id("plugin/Fake-v0") == "plugin/Fake-v0"
    agentgym.resolve_id("plugin/Fake-v0")
    assert calls == [1]  # loaded once
