"""``collect(..., backend=RayEnvPool(...))`` on a real two-node Ray cluster (see conftest.py).

The environments are real: WebShop in Chromium, SWE in docker, and a test env whose steps hang
or crash on demand. Kills are real (SIGKILL of an actor's process); afterwards no actor process,
container or browser of the run may be left.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections import Counter

import pytest

ray = pytest.importorskip("ray")

import scale_envs  # noqa: E402
from scale_helpers import alive, containers_of, descendants, eventually  # noqa: E402

from agentgym.core.policies import ExpertPolicy, ScriptedPolicy  # noqa: E402
from agentgym.core.policy import Generation  # noqa: E402
from agentgym.core.ray_pool import RayEnvPool, RemoteEnv  # noqa: E402
from agentgym.core.rollout import RolloutStats, collect  # noqa: E402

SOKOBAN = "agentgym/Sokoban-v0"
SWE = "agentgym/SWE-v0"
WEBSHOP_BROWSER = "agentgym/WebShopBrowser-v0"


def docker_ready() -> bool:
    try:
        return subprocess.run(["docker", "image", "inspect", "agentgym/sandbox:py311"],
                              capture_output=True, timeout=60).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


needs_docker = pytest.mark.skipif(not docker_ready(), reason="docker or the sandbox image missing")


class Recorder:
    """Wraps a policy; remembers every remote env it saw (pid, node) and its process tree."""

    def __init__(self, policy, on_request=None):
        self.policy = policy
        self.on_request = on_request
        self.envs: dict[int, RemoteEnv] = {}
        self.trees: dict[int, set[int]] = {}
        self.names: dict[int, str] = {}
        self.lock = threading.Lock()

    def __call__(self, requests):
        generations = self.policy(requests)
        for request in requests:
            env = request.env
            assert isinstance(env, RemoteEnv), type(env)
            tree = descendants(env.pid)
            names = {pid: _name(pid) for pid in tree}
            with self.lock:
                self.envs[env.pid] = env
                self.trees.setdefault(env.pid, set()).update(tree)
                self.names.update(names)
            if self.on_request is not None:  # after the policy: e.g. kill before the step
                self.on_request(request)
        return generations

    @property
    def pids(self) -> set[int]:
        return set(self.envs)

    @property
    def nodes(self) -> Counter:
        return Counter(env.node_id for env in self.envs.values())

    @property
    def tree_pids(self) -> set[int]:
        return set().union(*self.trees.values()) if self.trees else set()


def assert_nothing_left(recorder: Recorder) -> None:
    """No actor process, no process it started (Chromium …) and no container it owned."""
    assert eventually(lambda: not alive(recorder.pids), 60), alive(recorder.pids)
    assert eventually(lambda: not alive(recorder.tree_pids), 60), alive(recorder.tree_pids)
    assert eventually(lambda: not containers_of(recorder.pids), 60), containers_of(recorder.pids)


def turns_of(episodes):
    return [[(t.observation, t.action, t.reward, t.terminated, t.truncated, t.state_key, t.info)
             for t in e.turns] + [(e.success, e.outcome, e.task_id, e.group_id.split("@")[0])]
            for e in episodes]


# -- the same episodes, spread over two nodes ---------------------------------------------------
def test_remote_episodes_equal_local_ones(ray_cluster):
    recorder = Recorder(ExpertPolicy())
    with RayEnvPool(num_cpus=0.25) as pool:
        remote = collect(SOKOBAN, recorder, range(4), group_size=2, num_envs=4, backend=pool,
                         run_id="r")
        assert pool.size == 4  # idle between calls, kept for the next one
        again = collect(SOKOBAN, ExpertPolicy(), range(4), group_size=2, num_envs=4,
                        backend=pool, run_id="r")
        assert pool.started == 4  # the same actors served the second call
    local = collect(SOKOBAN, ExpertPolicy(), range(4), group_size=2, num_envs=4, run_id="r")
    assert turns_of(remote) == turns_of(local) == turns_of(again)
    assert set(recorder.nodes) == {ray_cluster.head_node, ray_cluster.worker_node}
    assert_nothing_left(recorder)


@needs_docker
def test_webshop_browser_and_swe_spread_over_both_nodes(ray_cluster):
    """Chromium and docker sandboxes live in actors on both nodes and go away with them."""
    stats = RolloutStats()
    browser = Recorder(ExpertPolicy())
    with RayEnvPool(num_cpus=1.0) as pool:
        shop = collect(WEBSHOP_BROWSER, browser, [0, 1, 2, 3], num_envs=2, backend=pool,
                       stats=stats)
    assert [e.success for e in shop] == [True] * 4, [e.info.get("error") for e in shop]
    assert set(browser.nodes) == {ray_cluster.head_node, ray_cluster.worker_node}
    chromium = {pid for pid in browser.tree_pids if "chrom" in browser.names[pid]}
    assert chromium, "no Chromium ran under the actors"
    assert_nothing_left(browser)

    swe = Recorder(ExpertPolicy())
    with RayEnvPool(num_cpus=1.0) as pool:
        fixed = collect(SWE, swe, [0, 1, 2], num_envs=2, backend=pool)
        assert containers_of(swe.pids), "no container ran for the actors"
    assert [e.success for e in fixed] == [True] * 3, [e.info.get("error") for e in fixed]
    assert set(swe.nodes) == {ray_cluster.head_node, ray_cluster.worker_node}
    assert_nothing_left(swe)


def _name(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm", encoding="utf-8") as fh:
            return fh.read().strip()
    except OSError:
        return ""


# -- failures end one episode --------------------------------------------------------------------
def _kill_first_turn_of(episode_suffix: str, turn: int = 1):
    killed: list[int] = []

    def on_request(request):
        if request.episode_id.endswith(episode_suffix) and request.turn == turn and not killed:
            killed.append(request.env.pid)
            os.kill(request.env.pid, signal.SIGKILL)

    return killed, on_request


@needs_docker
def test_killed_swe_actor_ends_only_its_episode(ray_cluster):
    """SIGKILL an SWE actor in the middle of an episode: that episode is truncated with the
    error, the others are solved, a fresh actor takes the slot, and the dead actor's container
    does not outlive it."""
    killed, on_request = _kill_first_turn_of(":1@k#0")
    recorder = Recorder(ExpertPolicy(), on_request)
    with RayEnvPool(num_cpus=1.0) as pool:
        # four tasks on two slots: the victim's slot always has a next episode to play
        episodes = collect(SWE, recorder, [0, 1, 2, 3], num_envs=2, backend=pool, run_id="k")
        started = pool.started
    assert len(killed) == 1
    by_seed = {e.seed: e for e in episodes}
    victim = by_seed[1]
    assert victim.info["error"]["type"] == "EnvActorError"
    assert "died" in victim.info["error"]["message"]
    assert victim.turns[-1].truncated and not victim.success
    assert by_seed[0].success and by_seed[2].success and by_seed[3].success
    assert started == 3  # two slots + one replacement
    assert_nothing_left(recorder)


@needs_docker
def test_killed_browser_actor_leaves_no_chromium(ray_cluster):
    killed, on_request = _kill_first_turn_of(":0@b#0")
    recorder = Recorder(ExpertPolicy(), on_request)
    with RayEnvPool(num_cpus=1.0) as pool:
        episodes = collect(WEBSHOP_BROWSER, recorder, [0, 1, 2], num_envs=2, backend=pool,
                           run_id="b")
    assert len(killed) == 1
    assert [bool(e.info.get("error")) for e in episodes] == [True, False, False]
    assert [e.success for e in episodes] == [False, True, True]
    assert any("chrom" in recorder.names[pid] for pid in recorder.trees[killed[0]])
    assert_nothing_left(recorder)


def test_hung_step_times_out_and_the_actor_is_replaced(ray_cluster):
    def script(request):
        if request.episode_id.endswith(":1@h#0") and request.turn == 1:
            return "sleep:3600"
        return "ok" if request.turn == 0 else "done"

    recorder = Recorder(ScriptedPolicy(script))
    with RayEnvPool(num_cpus=0.25, step_timeout=5.0) as pool:
        episodes = collect(scale_envs.ENV_ID, recorder, [0, 1, 2], group_size=2, num_envs=3,
                           backend=pool, run_id="h")
        assert pool.killed == 1
    hung = [e for e in episodes if e.info.get("error")]
    assert [e.episode_id.split("@")[0] + "@" for e in hung] == [f"{scale_envs.ENV_ID}:1@"]
    assert "did not answer within 5 s" in hung[0].info["error"]["message"]
    assert hung[0].turns[-1].truncated
    assert sum(e.success for e in episodes) == 5
    assert_nothing_left(recorder)


def test_env_exception_in_an_actor_is_an_episode_error(ray_cluster):
    script = ScriptedPolicy(lambda r: "crash" if r.episode_id.endswith("#1") else "done")
    with RayEnvPool(num_cpus=0.25) as pool:
        episodes = collect(scale_envs.ENV_ID, script, [0, 1], group_size=2, num_envs=2,
                           backend=pool)
        assert pool.size <= 2
    assert [e.success for e in episodes] == [True, False, True, False]
    assert "crashed on purpose" in episodes[1].info["error"]["message"]


def test_policy_errors_and_oracles_go_through_the_actor(ray_cluster):
    seen = []

    def policy(requests):
        out = []
        for request in requests:
            env = request.env
            seen.append(env.get_wrapper_attr("admissible_actions")())
            out.append(Generation(text="", info={"error": "no answer"}) if request.turn == 1
                       else Generation(text=env.get_wrapper_attr("expert_action")()
                                       if request.turn > 1 else "ok"))
        return out

    with RayEnvPool(num_cpus=0.25) as pool:
        episodes = collect(scale_envs.ENV_ID, policy, [3], backend=pool)
        assert pool.size == 1 and pool.killed == 0  # a policy error keeps the actor
    assert seen == [["ok", "done"], ["ok", "done"]]
    assert episodes[0].info["error"]["type"] == "PolicyError"


def test_idle_actors_are_checked_before_reuse_and_evicted_for_other_envs(ray_cluster):
    first = Recorder(ExpertPolicy())
    with RayEnvPool(num_cpus=0.25) as pool:
        collect(SOKOBAN, first, [0, 1], num_envs=2, backend=pool)
        assert pool.size == 2
        dead = min(first.pids)
        os.kill(dead, signal.SIGKILL)  # dies while idle in the pool
        assert eventually(lambda: not alive({dead}), 30)
        again = collect(SOKOBAN, ExpertPolicy(), [2, 3], num_envs=2, backend=pool)
        assert all(e.success for e in again) and pool.started == 3
        other = collect(scale_envs.ENV_ID, ExpertPolicy(), [0], backend=pool)
        assert other[0].success
        assert pool.size == 1  # the idle Sokoban actors made room for the new environment
        assert eventually(lambda: not alive(first.pids), 60)


def test_tools_and_missing_attributes_are_answered_locally(ray_cluster):
    """``tools`` comes back with every step (it changes per turn); an attribute the env lacks
    is an AttributeError that leaves the actor in service."""
    seen = []

    def policy(requests):
        for request in requests:
            env = request.env
            seen.append(len(env.get_wrapper_attr("tools")))
            with pytest.raises(AttributeError):
                env.get_wrapper_attr("no_such_attribute")
        return [Generation(text="ok" if r.turn < 2 else "done") for r in requests]

    with RayEnvPool(num_cpus=0.25) as pool:
        episodes = collect(scale_envs.TOOLS_ID, policy, [0], backend=pool)
        assert pool.killed == 0
        plain = collect(scale_envs.ENV_ID, ScriptedPolicy(["done"]), [0], backend=pool)
    assert seen == [1, 2, 3] and episodes[0].success and plain[0].success


# -- bad configuration fails loudly --------------------------------------------------------------
def test_bad_env_kwargs_raise_and_leave_no_actor(ray_cluster):
    pool = RayEnvPool(num_cpus=0.25)
    with pytest.raises(TypeError, match="no_such_kwarg"):
        collect(SOKOBAN, ExpertPolicy(), [0], env_kwargs={"no_such_kwarg": 1}, backend=pool)
    assert pool.size == 0
    pool.close()


def test_a_rollout_that_cannot_fit_is_refused(ray_cluster):
    with RayEnvPool(num_cpus=3.0) as pool, pytest.raises(ValueError, match="room for 1"):
        collect(SOKOBAN, ExpertPolicy(), range(4), num_envs=4, backend=pool)


def test_resources_pin_actors_to_a_node(ray_cluster):
    recorder = Recorder(ExpertPolicy())
    with RayEnvPool(num_cpus=0.25, resources={"worker_node": 1}) as pool:
        collect(SOKOBAN, recorder, range(3), num_envs=3, backend=pool)
    assert set(recorder.nodes) == {ray_cluster.worker_node}
    assert_nothing_left(recorder)


def test_backend_ray_string_uses_a_temporary_pool(ray_cluster):
    recorder = Recorder(ExpertPolicy())
    episodes = collect(SOKOBAN, recorder, range(2), num_envs=1, backend="ray")
    assert all(e.success for e in episodes)
    assert_nothing_left(recorder)  # the temporary pool closed its actor
    with pytest.raises(ValueError, match="unknown rollout backend"):
        collect(SOKOBAN, recorder, range(2), backend="dask")


def test_closed_pool_refuses_work(ray_cluster):
    pool = RayEnvPool(num_cpus=0.25)
    pool.close()
    with pytest.raises(RuntimeError, match="closed"):
        collect(SOKOBAN, ExpertPolicy(), [0], backend=pool)


def test_local_ray_is_started_on_demand(tmp_path):
    """No cluster: backend="ray" starts a local Ray in the process (here a subprocess, kept to
    loopback) and the run works."""
    code = (
        "from agentgym.core.rollout import collect\n"
        "from agentgym.core.policies import ExpertPolicy\n"
        "import ray\n"
        "eps = collect('agentgym/Sokoban-v0', ExpertPolicy(), [0, 1], num_envs=2,\n"
        "              backend='ray')\n"
        "print('ok', sum(e.success for e in eps), len(ray.nodes()))\n"
    )
    env = {**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_ADDRESS": "",
           "RAY_AUTH_MODE": "disabled"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=600, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "ok 2 1" in result.stdout
