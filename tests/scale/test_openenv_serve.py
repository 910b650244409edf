"""``agentgym serve`` and ``make("openenv+http://…")``: the OpenEnv protocol both ways.

Servers run for real on 127.0.0.1: the ``agentgym serve`` command in a subprocess, or the same
app in a background thread where a test needs to look inside (environment slots, close counts).
Clients are openenv-core's own ``GenericEnvClient`` and raw HTTP/WebSocket requests.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("openenv.core")

import scale_envs
from openenv.core import GenericEnvClient
from scale_helpers import eventually
from websockets.sync.client import connect as ws_connect

import agentgym
from agentgym.core.openenv_client import OpenEnvError, to_json
from agentgym.core.policies import ExpertPolicy, ScriptedPolicy
from agentgym.core.rollout import collect
from agentgym.serve import ServeSettings, start_in_thread

HERE = Path(__file__).resolve().parent
SOKOBAN = "agentgym/Sokoban-v0"


# -- helpers -------------------------------------------------------------------------------------
class CliServer:
    """``agentgym serve`` in a subprocess (cwd = this folder, so ``scale_envs:…`` imports)."""

    def __init__(self, *args: str) -> None:
        cmd = [sys.executable, "-m", "agentgym.cli.main", "serve", *args, "--port", "0"]
        self.proc = subprocess.Popen(cmd, cwd=HERE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if "serving" not in line:
            self.proc.kill()
            raise AssertionError(f"agentgym serve did not start: {line}{self.proc.stderr.read()}")
        self.url = line.split(" at ", 1)[1].split()[0]

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(60)
        finally:
            self.proc.stdout.close()
            self.proc.stderr.close()


@pytest.fixture
def cli_server(request):
    servers: list[CliServer] = []

    def start(*args: str) -> CliServer:
        server = CliServer(*args)
        servers.append(server)
        return server

    yield start
    for server in servers:
        if server.proc.poll() is None:
            server.stop()


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read())


def post(url: str, body: bytes, headers: dict | None = None) -> tuple[int, bytes]:
    headers = {"Content-Type": "application/json", **(headers or {})}
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def turns_of(episodes):
    return [[(t.observation, t.action, t.reward, t.terminated, t.truncated, t.action_valid,
              t.state_key, t.info) for t in e.turns] + [(e.success, e.outcome, e.task_id)]
            for e in episodes]


# -- both directions -------------------------------------------------------------------------
def test_openenv_client_plays_served_env_like_the_local_one(cli_server):
    """openenv-core's client on `agentgym serve agentgym/Sokoban-v0`: every observation,
    reward, info and end flag equals the in-process environment's, seed by seed."""
    server = cli_server(SOKOBAN)
    actions = ["up", "left", "down", "down", "right", "left", "jump", "up"]
    for seed in (0, 1, 7):
        local = agentgym.make(SOKOBAN)
        obs, info = local.reset(seed=seed)
        with GenericEnvClient(base_url=server.url).sync() as remote:
            result = remote.reset(seed=seed)
            assert result.observation["text"] == obs
            assert result.observation["info"] == to_json(info)
            assert result.done is False
            for action in actions:
                obs, reward, terminated, truncated, info = local.step(action)
                result = remote.step({"text": action})
                assert result.observation["text"] == obs
                assert result.reward == reward
                assert result.observation["terminated"] == terminated
                assert result.observation["truncated"] == truncated
                assert result.done == (terminated or truncated)
                assert result.observation["info"] == to_json(info)
                if terminated or truncated:
                    break
        local.close()
    assert eventually(lambda: get_json(server.url + "/sessions")["open_envs"] == 0, 30)
    assert server.stop() == 0


@pytest.mark.parametrize("env_id,tasks", [(SOKOBAN, [0, 1, 2]), ("agentgym/WebShop-v0", [0, 3])])
def test_make_openenv_url_collects_the_same_episodes(cli_server, env_id, tasks):
    """agentgym plays the server back through make("openenv+http://…"): the episodes of
    collect() with the expert equal those of the in-process environment."""
    server = cli_server(env_id, "--oracle")
    remote = collect("openenv+" + server.url, ExpertPolicy(), tasks, group_size=2, num_envs=3)
    local = collect(env_id, ExpertPolicy(), tasks, group_size=2, num_envs=3)
    assert turns_of(remote) == turns_of(local)
    assert all(e.success for e in local)
    assert remote[0].env_id.startswith("openenv/127.0.0.1:")
    assert eventually(lambda: get_json(server.url + "/sessions") ==
                      {"active_sessions": 0, "max_sessions": 8, "open_envs": 0}, 30)
    assert server.stop() == 0


def test_openenv_spec_reports_server_limit_and_needs_a_server(cli_server):
    server = cli_server(SOKOBAN, "--max-turns", "7")
    spec = agentgym.spec("openenv+" + server.url)
    assert spec.max_episode_steps == 7
    env = agentgym.make("openenv+" + server.url)
    with pytest.raises(AttributeError):  # no --oracle: the oracle is not exposed
        env.get_wrapper_attr("expert_action")
    env.close()
    with pytest.raises(OpenEnvError, match="no OpenEnv server answers"):
        agentgym.make("openenv+http://127.0.0.1:9")
    with pytest.raises(ValueError, match="not an OpenEnv address"):
        agentgym.make("openenv+ftp://127.0.0.1:9")


def test_turn_limit_truncates_remote_episodes_like_local_ones(cli_server):
    server = cli_server(SOKOBAN)
    script = ScriptedPolicy(["up"] * 10)
    remote = collect("openenv+" + server.url, script, [4], max_turns=3)
    local = collect(SOKOBAN, script, [4], max_turns=3)
    assert turns_of(remote) == turns_of(local)
    assert [t.truncated for t in remote[0].turns] == [False, False, True]


def test_rollout_cli_plays_an_openenv_url(cli_server, tmp_path):
    server = cli_server(SOKOBAN, "--oracle")
    out = tmp_path / "episodes.jsonl"
    result = subprocess.run(
        [sys.executable, "-m", "agentgym.cli.main", "rollout", "openenv+" + server.url,
         "--policy", "expert", "--episodes", "3", "--out", str(out)],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    episodes = agentgym.load_episodes(out)
    assert len(episodes) == 3 and all(e.success for e in episodes)
    assert agentgym.resolve_id("openenv+" + server.url) == "openenv+" + server.url


def _docker_ready() -> bool:
    try:
        return subprocess.run(["docker", "image", "inspect", "agentgym/sandbox:py311"],
                              capture_output=True, timeout=60).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.mark.skipif(not _docker_ready(), reason="docker or the sandbox image missing")
def test_served_swe_solves_and_its_containers_go_with_the_server(cli_server):
    from scale_helpers import containers_of

    server = cli_server("agentgym/SWE-v0", "--oracle", "--max-sessions", "2")
    episodes = collect("openenv+" + server.url, ExpertPolicy(), [0, 1], num_envs=2)
    assert all(e.success for e in episodes), [e.info.get("error") for e in episodes]
    assert containers_of({server.proc.pid})  # warm in the server's sandbox pool
    assert eventually(lambda: get_json(server.url + "/sessions")["open_envs"] == 0, 30)
    assert server.stop() == 0
    assert eventually(lambda: not containers_of({server.proc.pid}), 60)


def test_gui_observations_arrive_as_text_and_image(cli_server):
    server = cli_server("agentgym/WebShopBrowser-v0", "--max-sessions", "1")
    env = agentgym.make("openenv+" + server.url)
    assert env.observation_space["image"].shape == (600, 800, 3)
    obs, info = env.reset(seed=2)
    local = agentgym.make("agentgym/WebShopBrowser-v0")
    local_obs, local_info = local.reset(seed=2)
    local.close()
    assert obs["text"] == local_obs["text"]
    assert obs["image"].shape == (600, 800, 3) and obs["image"].dtype == np.uint8
    assert obs["image"].any()
    assert info["task_id"] == local_info["task_id"]
    env.close()
    assert server.stop() == 0


# -- sessions: isolation, limits, reaping, shutdown ------------------------------------------
def test_sessions_are_isolated_and_limited():
    with start_in_thread(ServeSettings(scale_envs.ENV_ID, max_sessions=2)) as server:
        a = GenericEnvClient(base_url=server.url).sync()
        b = GenericEnvClient(base_url=server.url).sync()
        a.connect()
        b.connect()
        assert a.reset(seed=1).observation["text"] == "seed 1 turn 0"
        assert b.reset(seed=2).observation["text"] == "seed 2 turn 0"
        assert a.step({"text": "ok"}).observation["text"] == "seed 1 turn 1"
        assert b.step({"text": "ok"}).observation["text"] == "seed 2 turn 1"
        assert server.state.slots.open == 2
        with ws_connect(server.url.replace("http", "ws") + "/ws") as third:
            refusal = json.loads(third.recv())  # sent as soon as the third session connects
        assert refusal["type"] == "error" and refusal["data"]["code"] == "CAPACITY_REACHED"
        env = agentgym.make("openenv+" + server.url)
        with pytest.raises(OpenEnvError, match="session limit"):
            env.reset(seed=3)
        env.close()
        a.close()
        assert eventually(lambda: server.state.slots.open == 1 and
                          server.state.active_sessions == 1, 30)
        d = GenericEnvClient(base_url=server.url).sync()
        with d:
            assert d.reset(seed=4).observation["text"] == "seed 4 turn 0"
        b.close()
        assert eventually(lambda: server.state.slots.open == 0, 30)


def test_idle_sessions_are_reaped(tmp_path, monkeypatch):
    log = tmp_path / "closed.log"
    monkeypatch.setenv(scale_envs.CLOSE_LOG, str(log))
    with start_in_thread(ServeSettings(scale_envs.ENV_ID, idle_timeout=1.0)) as server:
        client = GenericEnvClient(base_url=server.url).sync()
        client.connect()
        client.reset(seed=0)
        assert server.state.slots.open == 1
        # the reaper checks every max(timeout/4, 5 s): wait for it, then the session is gone
        assert eventually(lambda: server.state.active_sessions == 0, 60)
        assert server.state.slots.open == 0
        assert log.read_text().count("\n") >= 1
        with pytest.raises(Exception, match=r"closed|Server error"):
            client.step({"text": "ok"})
        client.close()


def test_stopping_the_server_closes_every_environment(tmp_path, monkeypatch):
    log = tmp_path / "closed.log"
    monkeypatch.setenv(scale_envs.CLOSE_LOG, str(log))
    server = start_in_thread(ServeSettings(scale_envs.ENV_ID))
    clients = [GenericEnvClient(base_url=server.url).sync() for _ in range(3)]
    for seed, client in enumerate(clients):
        client.connect()
        client.reset(seed=seed)
    assert server.state.slots.open == 3
    server.stop()
    assert server.state.slots.open == 0
    assert server.state.slots.made == server.state.slots.closed == 3
    assert log.read_text().count("\n") >= 3
    for client in clients:
        client.close()


def test_client_disconnecting_mid_step_leaks_nothing(tmp_path):
    barrier = tmp_path / "go"
    with start_in_thread(ServeSettings(scale_envs.ENV_ID)) as server:
        with ws_connect(server.url.replace("http", "ws") + "/ws") as ws:
            ws.send(json.dumps({"type": "reset", "data": {"seed": 1}}))
            assert json.loads(ws.recv())["type"] == "observation"
            ws.send(json.dumps({"type": "step", "data": {"text": f"wait:{barrier}"}}))
            assert eventually(lambda: server.state.slots.open == 1, 10)
        # the client is gone while the step runs
        barrier.touch()  # the step finishes and its answer has nowhere to go
        assert eventually(lambda: server.state.active_sessions == 0 and
                          server.state.slots.open == 0, 30)
        # the server still serves
        with GenericEnvClient(base_url=server.url).sync() as client:
            assert client.reset(seed=5).observation["text"] == "seed 5 turn 0"


# -- bad input over the wire ---------------------------------------------------------------------
def _malformed_http(rng: np.random.Generator, url: str, max_payload: int) -> tuple[int, bytes]:
    kind = int(rng.integers(10))
    junk = bytes(rng.integers(0, 256, int(rng.integers(1, 64)), dtype=np.uint8))
    if kind == 0:
        return post(url + "/reset", b"{not json" + junk)
    if kind == 1:
        return post(url + "/reset", b"[1, 2, 3]")  # JSON, but not an object
    if kind == 2:
        seed = [-1, 2**70, "seven", [3], {"a": 1}][int(rng.integers(5))]
        return post(url + "/reset", json.dumps({"seed": seed}).encode())
    if kind == 3:
        return post(url + "/step", json.dumps({"action": {"text": "up"}}).encode())
    if kind == 4:
        bad = [{}, {"action": {}}, {"action": {"text": 5}}, {"action": "up"},
               {"action": {"text": "up", "extra": 1}}][int(rng.integers(5))]
        return post(url + "/step", json.dumps(bad).encode())
    if kind == 5:
        return post(url + "/step", b"x" * (max_payload + 1))
    if kind == 6:
        return post(url + "/mcp", json.dumps({"jsonrpc": "2.0", "id": 1,
                                              "method": "openenv/session/close",
                                              "params": {"session_id": junk.hex()}}).encode())
    if kind == 7:
        return post(url + "/mcp", json.dumps({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                                              "params": {"session_id": junk.hex(),
                                                         "name": "x"}}).encode())
    if kind == 8:
        return post(url + "/mcp", junk)
    return post(url + "/" + junk.hex()[:12], junk)


def _malformed_ws(rng: np.random.Generator, url: str, max_payload: int) -> list[str]:
    """One WebSocket session fed malformed messages; returns the answers' types/codes."""
    answers = []
    with ws_connect(url.replace("http", "ws") + "/ws", max_size=None) as ws:
        for _ in range(int(rng.integers(1, 6))):
            kind = int(rng.integers(7))
            if kind == 0:
                ws.send("{" + "x" * int(rng.integers(0, 50)))
            elif kind == 1:
                ws.send(json.dumps({"type": "teleport", "data": {}}))
            elif kind == 2:
                ws.send(json.dumps({"type": "step", "data": {"text": "up"}}))
            elif kind == 3:
                ws.send(json.dumps({"type": "step", "data": {"txt": 1}}))
            elif kind == 4:
                ws.send(json.dumps({"type": "reset", "data": {"seed": "abc"}}))
            elif kind == 5:  # JSON but not an object: an error, and openenv-core ends the session
                ws.send(json.dumps(["reset"]))
                answer = json.loads(ws.recv())
                answers.append(f"{answer['type']}:{answer['data'].get('code', '')}")
                break
            else:
                ws.send(json.dumps({"type": "reset", "data": {"seed": 1},
                                    "pad": "x" * (max_payload + 1)}))
                answers.append("oversize")
                break  # the server closes the connection (1009)
            answer = json.loads(ws.recv())
            answers.append(f"{answer['type']}:{answer['data'].get('code', '')}")
    return answers


def test_a_thousand_malformed_requests_crash_nothing_and_leak_nothing(cli_server):
    """1,000 malformed HTTP requests and WebSocket messages: each gets a protocol error, the
    server never answers 5xx, stays up, and has no session or environment left open."""
    max_payload = 4096
    server = cli_server(SOKOBAN, "--max-payload", str(max_payload), "--max-sessions", "4")
    rng = np.random.default_rng(1234)
    statuses: dict[int, int] = {}
    ws_answers: dict[str, int] = {}
    sent = 0
    while sent < 1000:
        if rng.random() < 0.7:
            status, _ = _malformed_http(rng, server.url, max_payload)
            statuses[status] = statuses.get(status, 0) + 1
            sent += 1
        else:
            for answer in _malformed_ws(rng, server.url, max_payload):
                ws_answers[answer] = ws_answers.get(answer, 0) + 1
                sent += 1
    assert server.proc.poll() is None, "the server died"
    assert not [s for s in statuses if s >= 500], statuses
    assert {400, 404, 409, 413, 422} <= set(statuses), statuses
    assert all(a.startswith("error:") or a == "oversize" for a in ws_answers), ws_answers
    assert get_json(server.url + "/health")["status"] == "healthy"
    assert eventually(lambda: get_json(server.url + "/sessions") ==
                      {"active_sessions": 0, "max_sessions": 4, "open_envs": 0}, 30)
    with GenericEnvClient(base_url=server.url).sync() as client:  # still plays
        result = client.reset(seed=0)
        assert result.observation["text"] == agentgym.make(SOKOBAN).reset(seed=0)[0]
    assert server.stop() == 0


def test_oversize_and_chunked_bodies_are_refused():
    with start_in_thread(ServeSettings(scale_envs.ENV_ID, max_payload_bytes=2048)) as server:
        status, body = post(server.url + "/reset", b"{" + b" " * 4096 + b"}")
        assert status == 413 and b"2048" in body

        def chunks():  # 3000 bytes, no Content-Length; small enough to be sent in full
            for _ in range(3):  # before the answer (a bigger one may see the socket close)
                yield b" " * 1000

        request = urllib.request.Request(server.url + "/reset", data=chunks(), method="POST",
                                         headers={"Content-Type": "application/json",
                                                  "Transfer-Encoding": "chunked"})
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(request, timeout=30)
        assert info.value.code == 413
        status, body = post(server.url + "/reset", b"{}")
        assert status == 200 and json.loads(body)["observation"]["text"] == "seed 0 turn 0"
        assert server.state.slots.open == 0  # a stateless reset closes its environment


# -- any OpenEnv server --------------------------------------------------------------------------
def test_make_plays_a_foreign_openenv_server():
    """A server written against openenv-core alone (not agentgym): the action text goes into
    its single string field, the reward and done come from the server."""
    import uvicorn
    from openenv.core.env_server import create_fastapi_app
    from openenv.core.env_server.interfaces import Environment
    from openenv.core.env_server.types import Action, Observation, State

    class Shout(Action):
        message: str

    class Echo(Observation):
        echoed: str = ""

    class EchoEnv(Environment):
        SUPPORTS_CONCURRENT_SESSIONS = True

        def __init__(self):
            super().__init__()
            self.steps = 0

        def reset(self, seed=None, episode_id=None, **kwargs):
            self.steps = 0
            return Echo(echoed=f"hello {seed}")

        def step(self, action, timeout_s=None, **kwargs):
            self.steps += 1
            return Echo(echoed=action.message.upper(), reward=len(action.message),
                        done=self.steps >= 2)

        @property
        def state(self):
            return State(step_count=self.steps)

    from agentgym.serve.app import bind

    app = create_fastapi_app(EchoEnv, Shout, Echo, max_concurrent_envs=2)
    sock = bind("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    assert eventually(lambda: server.started, 30)
    try:
        url = f"openenv+http://127.0.0.1:{sock.getsockname()[1]}"
        env = agentgym.make(url, max_episode_steps=5)
        obs, info = env.reset(seed=3)
        assert obs == "hello 3" and info["task_id"] == "3"
        assert env.step("hi") == ("HI", 2.0, False, False, {
            "state_key": "HI", "action_valid": True, "reward_parts": {"reward": 2.0},
            "success": False})
        obs, reward, terminated, truncated, info = env.step("abc")
        assert (obs, reward, terminated, truncated) == ("ABC", 3.0, True, False)
        env.close()
        episodes = collect(url, ScriptedPolicy(["a", "bb"]), [1, 2], max_turns=5)
        assert [[t.reward for t in e.turns] for e in episodes] == [[1.0, 2.0], [1.0, 2.0]]
        assert all(e.turns[-1].terminated for e in episodes)
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()


def test_tools_of_a_served_tool_env_reach_the_client():
    with start_in_thread(ServeSettings(scale_envs.TOOLS_ID)) as server:
        env = agentgym.make("openenv+" + server.url)
        with pytest.raises(AttributeError):
            env.get_wrapper_attr("tools")  # nothing listed before the first reset
        env.reset(seed=0)
        local = agentgym.make(scale_envs.TOOLS_ID)
        local.reset(seed=0)
        assert env.get_wrapper_attr("tools") == local.get_wrapper_attr("tools")
        env.close()


def test_remote_failures_end_only_their_episode():
    """A step that raises on the server is an error answer: collect truncates that episode and
    records the error; the other episodes finish."""
    with start_in_thread(ServeSettings(scale_envs.ENV_ID, oracle=True)) as server:
        def script(request):
            return "crash" if request.episode_id.endswith("#0") and request.turn == 0 else "done"

        episodes = collect("openenv+" + server.url, ScriptedPolicy(script), [0, 1], group_size=2)
        errors = [e.info.get("error") for e in episodes]
        assert [bool(e) for e in errors] == [True, False, True, False]
        assert "crashed on purpose" in errors[0]["message"]
        assert [e.success for e in episodes] == [False, True, False, True]
        assert eventually(lambda: server.state.slots.open == 0, 30)


@settings(max_examples=60, deadline=None)
@given(shape=st.tuples(st.integers(1, 40), st.integers(1, 40), st.sampled_from([1, 3, 4])),
       seed=st.integers(0, 2**32 - 1), text=st.text(max_size=200))
def test_observations_travel_exactly(shape, seed, text):
    """encode → JSON → decode is the identity on text and GUI observations."""
    from agentgym.core.openenv_client import decode_observation, encode_observation

    image = np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)
    wire = json.loads(json.dumps(encode_observation({"text": text, "image": image})))
    back = decode_observation(wire)
    assert back["text"] == text and back["image"].dtype == np.uint8
    np.testing.assert_array_equal(back["image"], image)
    assert decode_observation(json.loads(json.dumps(encode_observation(text)))) == text


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**63, 2**63) | st.text(max_size=20)
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=20)


@settings(max_examples=200, deadline=None)
@given(value=_json_values)
def test_to_json_is_the_identity_on_json_values(value):
    assert to_json(value) == value
    assert json.loads(json.dumps(to_json(value))) == value


def test_to_json_keeps_what_json_can_carry():
    value = {"a": np.int64(3), "b": np.float32(0.5), "c": (1, "x"), "d": float("nan"),
             "e": object(), "f": {"g": np.arange(3)}, "h": None, 4: True}
    assert to_json(value) == {"a": 3, "b": 0.5, "c": [1, "x"], "f": {"g": [0, 1, 2]},
                              "h": None, "4": True}


def test_serve_cli_rejects_bad_input_in_one_line():
    for args, message in [(["nosuchenv"], "no environment registered"),
                          ([SOKOBAN, "--env-kwargs", "[1]"], "JSON object"),
                          ([SOKOBAN, "--env-kwargs", '{"zzz": 1}'], "cannot make")]:
        result = subprocess.run([sys.executable, "-m", "agentgym.cli.main", "serve", *args,
                                 "--port", "0"], capture_output=True, text=True, timeout=120,
                                env={**os.environ, "AGENTGYM_DEBUG": ""})
        assert result.returncode == 2, result.stderr
        assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_http_step_without_session_is_a_clear_409():
    with start_in_thread(ServeSettings(scale_envs.ENV_ID)) as server:
        status, body = post(server.url + "/step", json.dumps({"action": {"text": "ok"}}).encode())
        assert status == 409 and b"/ws" in body
