"""Tests of the built-in policies, the policy registry and the OpenAI-compatible client."""

from __future__ import annotations

import importlib.util
import socket
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

import agentgym
from agentgym.core.policies import (
    ExpertPolicy,
    NoisyExpertPolicy,
    OpenAIChatPolicy,
    RandomPolicy,
    ScriptedPolicy,
    make_policy,
    policy_names,
)
from agentgym.core.policy import Generation, Policy, Request
from agentgym.core.registration import registry
from agentgym.core.rollout import collect


def _load_stub():
    """Import the sibling ``openai_stub.py`` by path (works whatever pytest's import mode)."""
    path = Path(__file__).with_name("openai_stub.py")
    spec = importlib.util.spec_from_file_location("agentgym_tests_openai_stub", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


stub_module = _load_stub()
openai_stub = stub_module.openai_stub  # the pytest fixture
ENV_ID = "test/PolicyLine-v0"


class LineEnv(agentgym.TextEnv):
    """Move right along a line from 0 to ``3``; ``admissible`` lists the legal moves."""

    def __init__(self, admissible: bool = True) -> None:
        super().__init__()
        self.has_admissible = admissible
        self.pos = 0

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.pos = 0
        return "at 0", self.reset_info(task_id=str(seed), instruction="go right", state_key="0")

    def admissible_actions(self) -> list[str]:
        if not self.has_admissible:
            return []
        return ["right", "left"] if self.pos > 0 else ["right", "wait"]

    def expert_action(self) -> str:
        return "right"

    def step(self, action: str):
        valid = action in ("right", "left", "wait")
        self.pos += {"right": 1, "left": -1}.get(action, 0) if valid else 0
        done = self.pos == 3
        info = self.step_info(state_key=str(self.pos), action_valid=valid,
                              reward_parts={"outcome": float(done)}, success=done)
        return f"at {self.pos}", float(done), done, False, info


class NoOracleEnv(agentgym.TextEnv):
    """An environment with neither admissible actions nor an expert."""

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return "", self.reset_info(task_id="0", instruction="", state_key="")

    def step(self, action):
        return "", 0.0, False, False, self.step_info(state_key="", action_valid=True,
                                                     reward_parts={})


@pytest.fixture
def line_env() -> Iterator[str]:
    agentgym.register(id=ENV_ID, entry_point=LineEnv, max_episode_steps=10)
    try:
        yield ENV_ID
    finally:
        registry.pop(ENV_ID, None)


def _request(env=None, *, turn: int = 0, episode_id: str = "e", fmt: str = "plain",
             content: str = "hi") -> Request:
    return Request(messages=[{"role": "user", "content": content}], observation=content, env=env,
                   action_format=fmt, episode_id=episode_id, turn=turn)


# --- simple policies ----------------------------------------------------------------------------
def test_random_policy_is_uniform_over_admissible_actions() -> None:
    env = LineEnv()
    env.reset(seed=0)
    policy = RandomPolicy(seed=7)
    requests = [_request(env, turn=t, episode_id=f"ep{t % 7}") for t in range(400)]
    counts = Counter(g.text for g in policy(requests))
    assert set(counts) == {"right", "wait"}
    assert 150 < counts["right"] < 250  # 400 draws of a fair coin: 6 standard deviations


def test_random_policy_depends_only_on_seed_episode_and_turn() -> None:
    env = LineEnv()
    env.reset(seed=0)
    requests = [_request(env, turn=t, episode_id=f"ep{t}") for t in range(30)]
    first = [g.text for g in RandomPolicy(seed=1)(requests)]
    reversed_batch = [g.text for g in RandomPolicy(seed=1)(requests[::-1])][::-1]
    singles = [RandomPolicy(seed=1)([r])[0].text for r in requests]
    assert first == reversed_batch == singles
    assert first != [g.text for g in RandomPolicy(seed=2)(requests)]


def test_random_policy_samples_the_action_space_without_admissible_actions() -> None:
    env = LineEnv(admissible=False)
    env.reset(seed=0)
    texts = [RandomPolicy(seed=3)([_request(env, turn=t)])[0].text for t in range(5)]
    assert texts == [RandomPolicy(seed=3)([_request(env, turn=t)])[0].text for t in range(5)]
    assert all(isinstance(t, str) for t in texts) and len(set(texts)) > 1


def test_random_policy_renders_the_action_format() -> None:
    env = LineEnv()
    env.reset(seed=0)
    text = RandomPolicy(seed=0)([_request(env, fmt="xml")])[0].text
    assert text in ("<action>right</action>", "<action>wait</action>")
    json_text = RandomPolicy(seed=0)([_request(env, fmt="json")])[0].text
    assert json_text in ('{"name": "right", "arguments": {}}', '{"name": "wait", "arguments": {}}')


def test_expert_policy_calls_the_oracle_through_wrappers(line_env: str) -> None:
    env = agentgym.make(line_env)  # wrapped in TurnLimit
    env.reset(seed=0)
    assert ExpertPolicy()([_request(env), _request(env, fmt="xml")]) == [
        Generation("right"), Generation("<action>right</action>")
    ]


def test_expert_policy_without_an_oracle_says_so() -> None:
    with pytest.raises(TypeError, match="NoOracleEnv has no expert_action"):
        ExpertPolicy()([_request(NoOracleEnv())])
    with pytest.raises(ValueError, match=r"request\.env is None"):
        ExpertPolicy()([_request(None)])


def test_noisy_expert_replaces_that_fraction_of_turns_by_another_admissible_action() -> None:
    """DART noise: at position 0 the expert says ``right``; a noisy turn plays the only other
    admissible action, ``wait``, and is marked; the rest are the expert's, unmarked."""
    env = LineEnv()
    env.reset(seed=0)
    requests = [_request(env, turn=t, episode_id=f"ep{t % 13}") for t in range(1000)]
    out = NoisyExpertPolicy(0.2, seed=5)(requests)
    noisy = [g for g in out if g.info.get("noise")]
    assert {g.text for g in noisy} == {"wait"}
    assert all(g == Generation("right") for g in out if not g.info.get("noise"))
    assert 150 < len(noisy) < 250  # 1,000 turns at 0.2: 4 standard deviations
    # reproducible from (seed, episode, turn), whatever the batch
    again = [NoisyExpertPolicy(0.2, seed=5)([r])[0] for r in requests[:50]]
    assert again == out[:50]
    assert NoisyExpertPolicy(0.0, seed=5)(requests) == ExpertPolicy()(requests)


def test_noisy_expert_skips_templates_and_envs_without_admissible_actions() -> None:
    class TemplateEnv(LineEnv):
        def admissible_actions(self) -> list[str]:
            return ["right", "search[<your query>]"]

    env = TemplateEnv()
    env.reset(seed=0)
    requests = [_request(env, turn=t) for t in range(50)]
    assert all(g == Generation("right") for g in NoisyExpertPolicy(0.9, seed=0)(requests))
    bare = LineEnv(admissible=False)
    bare.reset(seed=0)
    requests = [_request(bare, turn=t) for t in range(50)]
    assert all(g == Generation("right") for g in NoisyExpertPolicy(0.9, seed=0)(requests))
    with pytest.raises(ValueError, match="noise"):
        NoisyExpertPolicy(1.0)


def test_scripted_policy_replays_a_list_then_reports_exhaustion() -> None:
    policy = ScriptedPolicy(["a", "b"])
    out = policy([_request(turn=0, fmt="xml"), _request(turn=1), _request(turn=2)])
    assert [g.text for g in out] == ["<action>a</action>", "b", ""]
    assert "script exhausted" in out[2].info["error"]
    fn_policy = ScriptedPolicy(lambda r: f"say {r.observation}")
    assert fn_policy([_request(content="x")])[0].text == "say x"
    with pytest.raises(TypeError, match="single str"):
        ScriptedPolicy("abc")


def test_make_policy_by_name() -> None:
    assert isinstance(make_policy("random", seed=1), RandomPolicy)
    assert isinstance(make_policy("expert"), ExpertPolicy)
    client = make_policy("openai", base_url="http://127.0.0.1:1/v1", model="m")
    assert isinstance(client, OpenAIChatPolicy) and client.url.endswith("/v1/chat/completions")
    assert isinstance(make_policy("expert"), Policy)
    with pytest.raises(ValueError, match="unknown policy 'gpt'; choose one of: expert, openai"):
        make_policy("gpt")
    with pytest.raises(ValueError, match="bad arguments for policy 'random'"):
        make_policy("random", temperature=1.0)
    assert policy_names() == ["expert", "openai", "random", "scripted"]


# --- OpenAI-compatible client against the stub ------------------------------------------------
def test_openai_policy_sends_messages_and_parses_content_and_logprobs(openai_stub) -> None:
    policy = OpenAIChatPolicy(openai_stub.base_url, "tiny", temperature=0.5, max_tokens=32,
                              api_key="k")
    messages = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "go left"}]
    request = Request(messages=messages, observation="go left")
    (generation,) = policy([request])
    sent = openai_stub.requests[0]
    assert sent["messages"] == messages and sent["model"] == "tiny"
    assert sent["temperature"] == 0.5 and sent["max_tokens"] == 32 and sent["logprobs"] is True
    assert generation.text == "<action>left</action>"
    # 8 stub tokens: < action > left < / action >
    assert generation.logprobs == pytest.approx([-0.01 * (i + 1) for i in range(8)])
    assert generation.token_ids is None  # plain OpenAI servers do not return ids
    assert generation.info["finish_reason"] == "stop" and generation.info["attempts"] == 1


def test_openai_policy_reads_token_ids(openai_stub) -> None:
    text = "<action>left</action>"
    expected = [stub_module.token_id(t) for t in stub_module.tokenize(text)]
    as_tokens = OpenAIChatPolicy(openai_stub.base_url, "m", token_ids=True)
    assert as_tokens([_request(content="left")])[0].token_ids == expected
    as_field = OpenAIChatPolicy(openai_stub.base_url, "m", extra_body={"return_token_ids": True})
    generation = as_field([_request(content="left")])[0]
    assert generation.token_ids == expected and len(generation.logprobs) == len(expected)


def test_openai_policy_keeps_batch_order(openai_stub) -> None:
    policy = OpenAIChatPolicy(openai_stub.base_url, "m", concurrency=4)
    requests = [_request(content=f"word{i}") for i in range(12)]
    assert [g.text for g in policy(requests)] == [f"<action>word{i}</action>" for i in range(12)]
    assert len(openai_stub.requests) == 12


def test_openai_policy_retries_transient_errors(openai_stub) -> None:
    openai_stub.fail_next = [503]
    policy = OpenAIChatPolicy(openai_stub.base_url, "m", backoff=0.01)
    (generation,) = policy([_request(content="up")])
    assert generation.text == "<action>up</action>" and generation.info["attempts"] == 2
    openai_stub.fail_next = [429, 502]
    (generation,) = policy([_request(content="up")])
    assert generation.text == "<action>up</action>" and generation.info["attempts"] == 3
    assert len(openai_stub.requests) == 5


def test_openai_policy_gives_a_clear_error_after_retries(openai_stub) -> None:
    openai_stub.always_fail = 503
    policy = OpenAIChatPolicy(openai_stub.base_url, "m", max_retries=2, backoff=0.01)
    (generation,) = policy([_request()])
    assert generation.text == "" and generation.info["attempts"] == 3
    assert "HTTP 503" in generation.info["error"]
    assert "injected failure 503" in generation.info["error"]
    assert len(openai_stub.requests) == 3
    openai_stub.always_fail = 400  # a client error is not retried
    (generation,) = policy([_request()])
    assert "HTTP 400" in generation.info["error"] and len(openai_stub.requests) == 4


def test_openai_policy_unreachable_server_is_an_error_not_an_exception() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    policy = OpenAIChatPolicy(f"http://127.0.0.1:{port}/v1", "m", max_retries=1, backoff=0.01,
                              timeout=2)
    (generation,) = policy([_request()])
    assert generation.text == "" and "cannot reach" in generation.info["error"]
    with pytest.raises(ValueError, match="http"):
        OpenAIChatPolicy("127.0.0.1:8000", "m")


def test_collect_with_the_openai_policy(openai_stub, line_env: str) -> None:
    openai_stub.reply = lambda messages: "I will move. <action>right</action>"
    policy = OpenAIChatPolicy(openai_stub.base_url, "m", token_ids=True)
    episodes = collect(line_env, policy, tasks=[0, 1], group_size=2, action_format="xml",
                       system_prompt="You walk.")
    text = "I will move. <action>right</action>"
    ids = [stub_module.token_id(t) for t in stub_module.tokenize(text)]
    assert all(e.success and len(e.turns) == 3 for e in episodes)
    for turn in (t for e in episodes for t in e.turns):
        assert turn.action == "right" and turn.response_text == text
        assert turn.response_ids == ids
        assert turn.response_logprobs == stub_module.token_logprobs(text)
    first = openai_stub.requests[0]["messages"]
    assert first[0] == {"role": "system", "content": "You walk."}
    assert first[1] == {"role": "user", "content": "Task: go right\n\nat 0"}


def test_collect_survives_a_failing_endpoint(openai_stub, line_env: str) -> None:
    openai_stub.always_fail = 500
    policy = OpenAIChatPolicy(openai_stub.base_url, "m", max_retries=1, backoff=0.01)
    episodes = collect(line_env, policy, tasks=[0, 1], action_format="xml")
    assert len(episodes) == 2
    for episode in episodes:
        assert episode.turns == [] and not episode.success
        assert episode.info["error"]["stage"] == "policy"
        assert "HTTP 500" in episode.info["error"]["message"]
