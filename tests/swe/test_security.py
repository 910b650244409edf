"""Security of the sandbox, each against a real container, each showing the host is untouched."""

from __future__ import annotations

import http.server
import os
import socket
import subprocess
import threading
import uuid

import pytest

from agentgym.sandboxes.docker import DockerSandbox, SandboxLimits

LIMITS = SandboxLimits(memory="256m", cpus=1.0, pids=64, workdir_size="32m", tmp_size="16m")


@pytest.fixture(scope="module")
def sandbox(image):
    box = DockerSandbox(image, limits=LIMITS)
    yield box
    box.close()


def test_fork_bomb_hits_pids_limit(sandbox):
    result = sandbox.exec("bomb() { bomb | bomb & }; bomb; sleep 3; ps -e --no-headers | wc -l",
                          timeout=8)
    assert result.timed_out or "Resource temporarily unavailable" in result.output
    sandbox.reset()
    assert int(sandbox.exec("ps -e --no-headers | wc -l").output.split()[-1]) < 10
    assert subprocess.run(["true"], timeout=10).returncode == 0  # the host still forks


def test_memory_hog_is_oom_killed(sandbox):
    result = sandbox.exec("python3 -c 'x = bytearray(1024 ** 3); print(len(x))'", timeout=30)
    assert result.exit_code == 137 and not result.timed_out  # SIGKILL by the OOM killer
    assert "1073741824" not in result.output
    assert sandbox.exec("echo alive").output.strip() == "alive"


def test_cpu_spin_is_killed_at_timeout(sandbox):
    result = sandbox.exec("python3 -c 'while True: pass'", timeout=2)
    assert result.timed_out and 2.0 <= result.duration < 8.0
    assert "while True" not in sandbox.exec("ps -eo args").output


def test_filling_the_disk_hits_tmpfs_limit(sandbox):
    result = sandbox.exec("dd if=/dev/zero of=/work/big bs=1M count=200 2>&1; du -m /work/big",
                          timeout=30)
    assert "No space left on device" in result.output
    assert int(result.output.split()[-2]) <= 32
    # nothing reached the host's disk: the container's writable layer stayed empty (the host's
    # own disk usage is no measure while other tests run beside this one)
    [listed] = sandbox.client.api.containers(all=True, size=True,
                                             filters={"id": sandbox.container_id})
    assert (listed.get("SizeRw") or 0) < 100 * 2**20
    sandbox.reset()


def test_host_files_are_not_visible(sandbox, tmp_path):
    marker = tmp_path / f"marker-{uuid.uuid4().hex}"
    marker.write_text("host secret")
    assert marker.read_text() == "host secret"  # control: visible on the host
    result = sandbox.exec(f"cat {marker} 2>/dev/null; test -e {marker} && echo VISIBLE; "
                          f"find / -name {marker.name} 2>/dev/null | wc -l")
    assert "host secret" not in result.output and "VISIBLE" not in result.output
    assert result.output.split()[-1] == "0"


def test_root_is_read_only(sandbox):
    for path in ("/x", "/etc/passwd", "/usr/bin/evil", "/home/x", "/root/x"):
        result = sandbox.exec(f"echo pwned >> {path}")
        assert result.exit_code != 0, path
    assert "Read-only file system" in sandbox.exec("touch /etc/evil").output
    assert sandbox.exec("touch /work/ok && echo ok").output.strip() == "ok"


def _serve(host: str) -> tuple[http.server.HTTPServer, int]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"reached")

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer((host, 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_address[1]


def _gateway(client) -> str:
    import ipaddress

    config = client.networks.get("bridge").attrs["IPAM"]["Config"][0]
    return config.get("Gateway") or str(next(ipaddress.ip_network(config["Subnet"]).hosts()))


def test_network_is_off(sandbox, client):
    gateway = _gateway(client)
    servers = [_serve("127.0.0.1"), _serve(gateway)]
    try:
        import urllib.request

        for (_server, port), host in zip(servers, ("127.0.0.1", gateway), strict=True):
            # control: the host reaches its own servers
            assert urllib.request.urlopen(f"http://{host}:{port}", timeout=5).read() == b"reached"
            code = (f"import urllib.request; print(urllib.request.urlopen("
                    f"'http://{host}:{port}', timeout=3).read())")
            result = sandbox.exec(["python3", "-c", code], timeout=15)
            assert result.exit_code != 0 and "reached" not in result.output
        interfaces = sandbox.exec("cat /proc/net/dev").output
        assert "eth0" not in interfaces and "lo:" in interfaces
    finally:
        for server, _ in servers:
            server.shutdown()


def test_docker_socket_is_not_reachable(sandbox):
    result = sandbox.exec("ls -la /var/run/docker.sock /run/docker.sock 2>&1; "
                          "python3 -c \"import socket; s=socket.socket(socket.AF_UNIX); "
                          "s.connect('/var/run/docker.sock')\"")
    assert result.exit_code != 0
    assert "No such file" in result.output
    assert os.path.exists("/var/run/docker.sock") or socket  # the host's socket is untouched


def test_no_privileges(sandbox):
    status = sandbox.exec("grep -E '^(CapEff|NoNewPrivs)' /proc/self/status").output
    assert "CapEff:\t0000000000000000" in status and "NoNewPrivs:\t1" in status


# ==============================================================================================
# Reward integrity: nothing the agent writes may change how this or a later episode is graded.
# Each attack runs through the agent's own tools (bash) on a real container; "fake" attacks must
# leave an empty submission at 0.0, "poison" attacks must leave the next episode in the *same*
# container scoring exactly what a fresh one does (empty 0.0, gold 1.0), and pressure after a
# correct fix must not cost the fix its 1.0.
# ==============================================================================================
import base64  # noqa: E402
import json  # noqa: E402

from agentgym.envs.swe.env import SWEEnv  # noqa: E402
from agentgym.envs.swe.tasks import SWETask, load_tasks  # noqa: E402
from agentgym.sandboxes.docker import SandboxPool  # noqa: E402

#: A pytest plugin that reports every test as passed.
HOOK = (
    "import pytest\n"
    "@pytest.hookimpl(hookwrapper=True)\n"
    "def pytest_runtest_makereport(item, call):\n"
    "    outcome = yield\n"
    "    report = outcome.get_result()\n"
    "    report.outcome = 'passed'\n"
    "    report.longrepr = None\n"
)


def call(name: str, **arguments) -> str:
    return json.dumps({"name": name, "arguments": arguments})


def write(path: str, text: str) -> str:
    """A shell command writing ``text`` to ``path`` (any bytes, no quoting issues)."""
    data = base64.b64encode(text.encode()).decode()
    return f"mkdir -p \"$(dirname '{path}')\" && echo {data} | base64 -d > '{path}'"


def fake_tests(task: SWETask) -> dict[str, str]:
    """Test files with every F2P/P2P test of ``task`` reduced to ``pass``."""
    files: dict[str, list[str]] = {}
    for test_id in [*task.FAIL_TO_PASS, *task.PASS_TO_PASS]:
        path, _, name = test_id.partition("::")
        files.setdefault(path, []).append(name.split("[")[0])
    return {path: "".join(f"def {n}():\n    pass\n" for n in sorted(set(names)))
            for path, names in files.items()}


@pytest.fixture(scope="module")
def two_tasks() -> tuple[SWETask, SWETask]:
    tasks = load_tasks(None)
    first = tasks[0]
    other = next(t for t in tasks if t.repo != first.repo)
    return first, other


@pytest.fixture
def solo(image):
    """An SWE env whose pool holds exactly one container, so the next episode reuses it."""
    pool = SandboxPool(image, size=1, standby=0)
    env = SWEEnv(split=None, pool=pool)
    yield env, pool
    env.close()
    pool.close()


def run(env: SWEEnv, command: str) -> str:
    obs, _, _, _, info = env.step(call("bash", command=command))
    assert info["action_valid"], obs
    return obs


def submit(env: SWEEnv) -> tuple[float, str]:
    obs, reward, terminated, _, info = env.step(call("submit"))
    assert terminated and info["action_valid"], obs
    return reward, obs


def score(env: SWEEnv, task: SWETask, *, gold: bool) -> float:
    env.reset(options={"task_id": task.instance_id})
    if gold:
        assert env.step(call("apply_patch", patch=task.patch))[4]["action_valid"]
    return submit(env)[0]


def naive_run_passes(env: SWEEnv) -> bool:
    """Whether the agent's own, unprotected ``python3 -m pytest`` run now reports no failure
    (the control: the attack does fool a naive grader)."""
    out = env.step(call("run_tests"))[0]
    return " passed" in out and " failed" not in out and " error" not in out


# -- fake this episode ---------------------------------------------------------------------------
def _fake_attacks(task: SWETask) -> dict[str, tuple[str, bool]]:
    """``{name: (bash command, fools the agent's naive run)}``."""
    fakes = fake_tests(task)
    source = sorted(task.files)[0]  # the file with the bug
    folder, _, filename = source.rpartition("/")
    pyc = f"{folder + '/' if folder else ''}__pycache__/{filename[:-3]}.cpython-311.pyc"
    user_site = "/tmp/.local/lib/python3.11/site-packages"
    return {
        "pytest.ini addopts plugin (issue 11 #2)": (
            write("pytest.ini", "[pytest]\naddopts = -p zz_hack\n") + " && "
            + write("zz_hack.py", HOOK), True),
        "conftest.py at the root": (write("conftest.py", HOOK), True),
        "conftest.py in tests/": (write("tests/conftest.py", HOOK), True),
        "test files rewritten": (" && ".join(write(p, t) for p, t in fakes.items()), True),
        "test files deleted": (f"rm -f {' '.join(fakes)}", False),
        "test files replaced by symlinks": (" && ".join(
            write(f"/tmp/fake{i}.py", t) + f" && ln -sf /tmp/fake{i}.py {p}"
            for i, (p, t) in enumerate(fakes.items())), True),
        "setup.cfg [tool:pytest]": (
            write("setup.cfg", "[tool:pytest]\naddopts = -p zz_hack\n") + " && "
            + write("zz_hack.py", HOOK), True),
        "tox.ini [pytest]": (
            write("tox.ini", "[pytest]\naddopts = -p zz_hack\n") + " && "
            + write("zz_hack.py", HOOK), True),
        "pyproject.toml [tool.pytest.ini_options]": (
            write("pyproject.toml", "[tool.pytest.ini_options]\naddopts = '-p zz_hack'\n")
            + " && " + write("zz_hack.py", HOOK), True),
        "pytest.py shadowing pytest": (
            write("pytest.py", "import sys\nprint('1000 passed')\nsys.exit(0)\n"), True),
        "pluggy.py and _pytest/ shadowing pytest's own imports": (
            write("pluggy.py", "raise SystemExit(0)\n") + " && "
            + write("_pytest/__init__.py", "raise SystemExit(0)\n"), False),
        "user site usercustomize with PYTEST_PLUGINS": (
            write(f"{user_site}/usercustomize.py",
                  "import os\nos.environ.setdefault('PYTEST_PLUGINS', 'h')\n") + " && "
            + write(f"{user_site}/h.py", HOOK), True),
        "a .pth file in the user site": (
            write(f"{user_site}/zz.pth",
                  "import os; os.environ.setdefault('PYTEST_PLUGINS', 'h')\n") + " && "
            + write(f"{user_site}/h.py", HOOK), True),
        "sitecustomize.py and usercustomize.py in the repository": (
            write("sitecustomize.py", "import os\nos.environ['PYTEST_ADDOPTS'] = '-p zz_hack'\n")
            + " && " + write("usercustomize.py", "import os\n") + " && "
            + write("zz_hack.py", HOOK), False),
        "the fix hidden in an unchecked-hash .pyc": (
            f"cp {source} /tmp/fixed.py && cd /tmp && "
            + write("/tmp/fix.patch", task.patch.replace(f"a/{source}", "a/fixed.py")
                    .replace(f"b/{source}", "b/fixed.py"))
            + f" && patch -s -p1 < /tmp/fix.patch && cd /work && mkdir -p $(dirname {pyc}) && "
            "python3 -c \"import py_compile as p; p.compile('/tmp/fixed.py', cfile="
            f"'{pyc}', invalidation_mode=p.PycInvalidationMode.UNCHECKED_HASH)\"", True),
        "fake PASSED lines printed by the library at exit": (
            f"cat >> {source} <<'EOF'\nimport atexit as _a\n_a.register(lambda: print("
            + repr("\n".join(f"PASSED {t}" for t in task.FAIL_TO_PASS)) + "))\nEOF", False),
        "a daemon that keeps writing a conftest.py": (
            write("/tmp/c.py", HOOK) + " && (setsid sh -c 'while :; do cp /tmp/c.py "
            "/work/conftest.py 2>/dev/null; sleep 0.05; done' >/dev/null 2>&1 &) && sleep 0.3",
            True),
        "git config fsmonitor and hooks": (
            write("/tmp/evil.sh", "#!/bin/sh\ncp /tmp/c.py /work/conftest.py\n") + " && "
            "chmod +x /tmp/evil.sh && " + write("/tmp/c.py", HOOK) + " && "
            "git config core.fsmonitor /tmp/evil.sh && git config --global core.fsmonitor "
            "/tmp/evil.sh && cp /tmp/evil.sh .git/hooks/pre-commit", False),
        "environment in shell start-up files": (
            write("/tmp/.bashrc", "export PYTEST_ADDOPTS='-p zz_hack'\n") + " && "
            + write("/tmp/.profile", "export PYTEST_ADDOPTS='-p zz_hack'\n") + " && "
            + write("zz_hack.py", HOOK), False),
    }


def test_fake_attacks_are_real_and_all_score_zero(image, two_tasks):
    """Every attack on the grading of this episode: an empty fix plus the attack scores 0.0,
    while (where it applies) the agent's own naive pytest run is fooled into all-passed."""
    task = two_tasks[0]
    env = SWEEnv(split=None)
    results = {}
    try:
        for name, (command, fools) in _fake_attacks(task).items():
            env.reset(options={"task_id": task.instance_id})
            run(env, command)
            fooled = naive_run_passes(env)
            reward, obs = submit(env)
            results[name] = (reward, fooled == fools or not fools, obs[-300:])
    finally:
        env.close()
    assert {n: r[:2] for n, r in results.items()} == {n: (0.0, True) for n in results}, results


def test_gold_fix_still_scores_one_after_tampering_with_git_and_tests(image, two_tasks):
    """Grading reads the work tree, not the agent's git: a committed fix, a .gitignore hiding
    it, a deleted .git, unreadable or symlinked tests all leave the gold fix at 1.0."""
    task = two_tasks[0]
    tampering = {
        "fix committed to HEAD": "git add -A && git commit -qm fix",
        "fix hidden by .gitignore": "echo '*.py' >> .gitignore",
        ".git deleted": "rm -rf .git",
        "tests unreadable": "chmod 000 tests/* && chmod 000 tests",
        "tests symlinked away": "mv tests /tmp/t && ln -s /tmp/t tests",
    }
    env = SWEEnv(split=None)
    try:
        rewards = {}
        for name, command in tampering.items():
            env.reset(options={"task_id": task.instance_id})
            assert env.step(call("apply_patch", patch=task.patch))[4]["action_valid"]
            run(env, command)
            rewards[name] = submit(env)[0]
    finally:
        env.close()
    assert rewards == dict.fromkeys(tampering, 1.0)


# -- poison the next episode ---------------------------------------------------------------------
REPRO_1 = (  # issue 11, reproduction 1
    "mkdir -p /tmp/.local/lib/python3.11/site-packages && cd $_ && "
    "printf 'import os\\nos.environ.setdefault(\"PYTEST_PLUGINS\",\"h\")\\n' > usercustomize.py && "
    + write("h.py", HOOK) + " && chmod 555 ."
)

POISONS = {
    "user site usercustomize, read-only dir (issue 11 #1)": REPRO_1,
    "everything writable": (
        REPRO_1 + " && cd /work && " + write("/dev/shm/h.py", HOOK) + " && "
        "python3 -c \"import os; os.close(os.open('/dev/mqueue/q', os.O_CREAT|os.O_RDONLY))\" && "
        "python3 -c 'import ctypes; l = ctypes.CDLL(None); l.shmget(0, 65536, 0o1666)' && "
        + write("/tmp/.gitconfig", "[core]\n\tfsmonitor = /tmp/x.sh\n") + " && "
        + write("/tmp/.bashrc", "export PYTEST_ADDOPTS='-p h'\n") + " && "
        "mkdir -p /tmp/d && cd /tmp/d && for i in $(seq 300); do mkdir d && cd d || break; done;"
        " chmod 0 /tmp/d && cd /work && "
        "(setsid sh -c 'while :; do cp /dev/shm/h.py /work/conftest.py 2>/dev/null; "
        "sleep 0.05; done' >/dev/null 2>&1 &) && chmod 0 /work"),
    "disk and inodes full": (
        "dd if=/dev/zero of=/tmp/big bs=1M count=64 2>/dev/null; "
        "dd if=/dev/zero of=/dev/shm/big bs=1M count=32 2>/dev/null; "
        "cd /tmp && for i in $(seq 9000); do : > f$i || break; done; "
        "cd /work && dd if=/dev/zero of=big bs=1M count=80 2>/dev/null; true"),
    "fork bomb left running": "setsid bash -c 'b() { b | b & }; b' >/dev/null 2>&1 & sleep 2",
}


@pytest.mark.parametrize("attack", list(POISONS))
def test_poison_does_not_reach_the_next_episode(solo, two_tasks, attack):
    env, pool = solo
    first, other = two_tasks
    env.reset(options={"task_id": first.instance_id})
    attacked = env._sandbox.container_id
    env.step(call("bash", command=POISONS[attack], timeout=20))
    env.close()
    assert pool.wait_idle()
    assert pool.stats.wipe_failures == 0
    scores = {}
    for task in (other, first):
        scores[task.repo, "empty"] = score(env, task, gold=False)
        assert env._sandbox.container_id == attacked  # the same (recycled) container
        env.close()
        assert pool.wait_idle()
        scores[task.repo, "gold"] = score(env, task, gold=True)
        env.close()
        assert pool.wait_idle()
    assert scores == {(first.repo, "empty"): 0.0, (first.repo, "gold"): 1.0,
                      (other.repo, "empty"): 0.0, (other.repo, "gold"): 1.0}


# -- a correct fix survives pressure -------------------------------------------------------------
PRESSURE = {
    "fork bomb left running": "setsid bash -c 'b() { b | b & }; b' >/dev/null 2>&1 & sleep 2",
    "/tmp and /dev/shm full": ("dd if=/dev/zero of=/tmp/big bs=1M count=64 2>/dev/null; "
                               "dd if=/dev/zero of=/dev/shm/big bs=1M count=32 2>/dev/null; "
                               "cd /tmp && for i in $(seq 9000); do : > f$i || break; done; true"),
    "work dir inodes full": ("mkdir junk && cd junk && for i in $(seq 20000); do : > f$i || "
                             "break; done; ls | wc -l"),
    "runaway log fills the work dir": "yes 'log line' > run.log 2>/dev/null; ls -la run.log",
    "a process still writing in the work dir": (
        "(setsid sh -c 'while :; do date > /work/busy.txt; done' >/dev/null 2>&1 &); sleep 0.5"),
}


@pytest.mark.parametrize("pressure", list(PRESSURE))
def test_a_correct_fix_survives_pressure(image, two_tasks, pressure):
    task = two_tasks[0]
    env = SWEEnv(split=None)
    try:
        env.reset(options={"task_id": task.instance_id})
        assert env.step(call("apply_patch", patch=task.patch))[4]["action_valid"]
        env.step(call("bash", command=PRESSURE[pressure], timeout=20))
        reward, obs = submit(env)
        assert reward == 1.0, obs
    finally:
        env.close()


# -- the two reproductions of issue 11, verbatim (they scored 1.0 before the fix) ---------------
def test_issue11_repro1_user_site_does_not_poison_later_episodes(image):
    env = SWEEnv(split=None)
    try:
        env.reset(seed=0)
        run(env, REPRO_1)
        rewards = []
        for seed in (1, 2, 3):
            env.reset(seed=seed)
            rewards.append(submit(env)[0])
        assert rewards == [0.0, 0.0, 0.0]
    finally:
        env.close()


def test_issue11_repro2_pytest_ini_plugin_does_not_fake_the_reward(image):
    env = SWEEnv(split=None)
    try:
        env.reset(seed=0)
        run(env, "printf '[pytest]\\naddopts = -p zz_hack\\n' > pytest.ini && "
                 + write("zz_hack.py", HOOK))
        reward, obs = submit(env)
        assert reward == 0.0, obs
        assert "pytest.ini (test configuration)" in obs  # the agent is told what was ignored
    finally:
        env.close()


@pytest.mark.parametrize(("path", "reason"), [
    ("tests/test_x.py", "test file"),
    ("pkg/tests/helpers.py", "test file"),
    ("test/data.json", "test file"),
    ("testing/util.py", "test file"),
    ("pkg/test_core.py", "test file"),
    ("core_test.py", "test file"),
    ("conftest.py", "test configuration"),
    ("pkg/sub/conftest.py", "test configuration"),
    ("pytest.ini", "test configuration"),
    ("setup.cfg", "test configuration"),
    ("pyproject.toml", "test configuration"),
    ("tox.ini", "test configuration"),
    ("sitecustomize.py", "import machinery"),
    ("pkg/usercustomize.py", "import machinery"),
    ("zz.pth", "import machinery or cache"),
    ("pkg/__pycache__/core.cpython-311.pyc", "import machinery or cache"),
    ("core.pyc", "import machinery or cache"),
    ("_ext.cpython-311-x86_64-linux-gnu.so", "import machinery or cache"),
    (".git/config", "import machinery or cache"),
    ("pkg/core.py", None),
    ("pytest.py", None),  # graded, but appended to sys.path: it cannot shadow pytest
    ("README.md", None),
    ("testsuite.py", None),
    ("contest.py", None),
])
def test_what_a_submission_leaves_out(path, reason):
    from agentgym.envs.swe.grading import excluded_reason

    assert excluded_reason(path) == reason
