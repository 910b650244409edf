"""DockerSandbox against real containers: commands, files, the verified wipe, the pool, the owner
lease, orphan pruning and one clear error when the daemon is down."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from agentgym.sandboxes.docker import (
    DockerSandbox,
    DockerUnavailableError,
    ImageMissingError,
    SandboxError,
    SandboxLimits,
    SandboxPool,
    SandboxWipeError,
    check_docker,
    make_tar,
)
from agentgym.sandboxes.docker.lifecycle import LABEL, owner_labels, prune_orphans


def _gone(client, container_id: str) -> bool:
    return not client.api.containers(all=True, filters={"id": container_id})


def _wait_gone(client, ids: list[str], deadline_s: float = 60.0) -> bool:
    """Poll until every container in ``ids`` is gone (a deadline, not a timing assertion)."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if all(_gone(client, i) for i in ids):
            return True
        time.sleep(0.2)
    return False


# -- commands and files ------------------------------------------------------------------------
def test_exec_output_exit_code_and_user(image):
    with DockerSandbox(image) as sandbox:
        assert not sandbox.started  # lazy
        result = sandbox.exec("echo out; echo err >&2; id -u; pwd; exit 3")
        assert result.exit_code == 3 and not result.timed_out
        assert sorted(result.output.split()) == ["/work", "1000", "err", "out"]


def test_output_cap_keeps_head_and_tail(image):
    with DockerSandbox(image) as sandbox:
        result = sandbox.exec("seq 1 100000", max_output=200)
        assert result.truncated > 0
        assert result.output.startswith("1\n2\n")
        assert result.output.rstrip().endswith("99999\n100000")
        assert f"[... {result.truncated} bytes truncated ...]" in result.output


def test_files_in_and_out(image):
    with DockerSandbox(image) as sandbox:
        sandbox.put_files({"pkg/a.txt": "hello\n", "b.bin": bytes(range(256))})
        assert sandbox.read_file("/work/pkg/a.txt") == b"hello\n"
        assert sandbox.read_file("/work/b.bin") == bytes(range(256))
        assert sandbox.exec("stat -c %u /work/pkg/a.txt").output.strip() == "1000"
        with pytest.raises(SandboxError, match="reading /work/missing"):
            sandbox.read_file("/work/missing")


def test_agent_has_no_capabilities_but_root_side_does(image):
    with DockerSandbox(image) as sandbox:
        status = sandbox.exec("grep -E '^Cap(Inh|Prm|Eff|Amb)' /proc/self/status").output
        assert status.split() == ["CapInh:", "0" * 16, "CapPrm:", "0" * 16, "CapEff:", "0" * 16,
                                  "CapAmb:", "0" * 16]
        root = sandbox.run_root("id -u; grep CapEff /proc/self/status").text()
        assert root.split()[0] == "0" and root.split()[-1] != "0" * 16


def test_the_only_writable_places_are_the_wiped_ones(image):
    with DockerSandbox(image) as sandbox:
        found = sandbox.exec("find / \\( -path /proc -o -path /sys \\) -prune -o -writable "
                             "\\( -type d -o -type f \\) -print 2>/dev/null",
                             timeout=60).output.split()
        assert sorted(found) == ["/dev/mqueue", "/dev/shm", "/tmp", "/work"]


def test_every_tmpfs_has_an_inode_limit(image):
    limits = SandboxLimits(workdir_inodes=300, tmp_inodes=200, shm_inodes=100)
    with DockerSandbox(image, limits=limits) as sandbox:
        mounts = sandbox.exec("grep -E ' (/work|/tmp|/dev/shm|/run/agentgym) ' /proc/mounts").output
        assert mounts.count("nr_inodes=") == 4, mounts
        result = sandbox.exec("cd /tmp && for i in $(seq 400); do touch f$i || break; done; "
                              "echo COUNT=$(ls | wc -l)")
        assert "No space left on device" in result.output
        # stdout and stderr interleave in any order: find the count by its label
        count = re.search(r"COUNT=(\d+)", result.output)
        assert count and int(count.group(1)) < 200, result.output


# -- the wipe that proves it wiped --------------------------------------------------------------
PLANT = (
    "mkdir -p /work/ro/deep /tmp/.local/lib/python3.11/site-packages/x /dev/shm/s && "
    "echo x > /tmp/.local/lib/python3.11/site-packages/x/usercustomize.py && "
    "chmod 0 /tmp/.local/lib/python3.11/site-packages/x && chmod 555 /work/ro && "
    "touch /work/ro2 && chmod 0 /work/ro2 && "
    "(setsid sleep 300 &) && (nohup sleep 301 >/dev/null 2>&1 &) && echo planted"
)
SYSV = (
    "python3 -c 'import ctypes, os\n"
    "libc = ctypes.CDLL(None)\n"
    "os.close(os.open(\"/dev/mqueue/agentq\", os.O_CREAT | os.O_RDONLY, 0o600))\n"
    "print(libc.shmget(0, 4096, 0o1600), libc.msgget(0, 0o1600), libc.semget(0, 1, 0o1600))'"
    " && chmod 0 /work"
)


def test_wipe_removes_everything_the_agent_left_and_verifies_it(image):
    with DockerSandbox(image) as sandbox:
        assert "planted" in sandbox.exec(PLANT).output
        sysv = sandbox.exec(SYSV).output.split()
        assert len(sysv) == 3 and all(int(x) >= 0 for x in sysv), sysv
        before = sandbox.run_root("wc -l < /proc/sysvipc/shm; ls -A /dev/mqueue").text()
        assert before.split() == ["2", "agentq"]
        sandbox.wipe()
        state = sandbox.run_root(
            "ls -A /work /tmp /dev/shm /dev/mqueue; stat -c %u:%a /work; "
            "cat /proc/sysvipc/shm /proc/sysvipc/msg /proc/sysvipc/sem | grep -vc key; "
            "ps -eo uid= | sort -u").text()
        words = state.split()
        assert sorted(words[:4]) == ["/dev/mqueue:", "/dev/shm:", "/tmp:", "/work:"], state
        assert words[4:] == ["1000:755", "0", "0"], state


def test_wipe_kills_a_fork_bomb_that_blocks_docker_exec(image):
    limits = SandboxLimits(pids=48)
    with DockerSandbox(image, limits=limits) as sandbox:
        sandbox.exec("setsid bash -c 'b() { b | b & }; b' >/dev/null 2>&1 & sleep 2", timeout=10)
        sandbox.wipe()  # the keeper kills without forking, then verifies
        assert sandbox.run_root("ps -eo uid= | grep -c 1000").text() == "0"
        assert sandbox.exec("echo alive").output.strip() == "alive"


def test_the_keeper_outlives_a_fork_bomb_and_memory_pressure(image):
    from agentgym.sandboxes.docker.keeper import CANNOT_FORK

    limits = SandboxLimits(pids=48, memory="256m")
    with DockerSandbox(image, limits=limits) as sandbox:
        sandbox.exec("setsid bash -c 'b() { b | b & }; b' >/dev/null 2>&1 & "
                     "setsid python3 -c 'x = []\nwhile True: x.append(bytearray(1 << 20))' "
                     ">/dev/null 2>&1 & sleep 3", timeout=10)
        codes = {sandbox.run_root("echo hi").exit_code for _ in range(10)}
        assert codes <= {0, 125, CANNOT_FORK} and sandbox.alive()  # 125: timeout could not fork
        sandbox.wipe()
        assert sandbox.run_root("echo hi").text() == "hi"


def test_reset_refills_the_work_dir_as_the_agent(image):
    with DockerSandbox(image) as sandbox:
        sandbox.exec("echo junk > /work/junk")
        sandbox.reset(make_tar({"x.py": "print(1)\n"}))
        assert sandbox.exec("ls -A; python3 x.py; stat -c %u x.py").output.split() == [
            "x.py", "1", "1000"]


class _UnverifiableSandbox(DockerSandbox):
    """A sandbox whose wipe verification always fails (as a wipe that left something would)."""

    def wipe(self) -> None:
        self.kill_processes()
        result = self.run_root("echo 'wipe failed: /tmp is not empty: /tmp/x'; exit 1")
        raise SandboxWipeError(result.text())


def test_pool_destroys_counts_and_logs_a_container_whose_wipe_fails(image, client, caplog):
    pool = SandboxPool(image, size=2, standby=0)
    try:
        broken = pool.acquire()
        broken.__class__ = _UnverifiableSandbox
        broken_id = broken.container_id
        pool.release(broken)
        assert pool.wait_idle()
        assert pool.stats.wipe_failures == 1 and pool.idle == 0
        assert "wipe failed" in caplog.text and broken_id[:12] in caplog.text
        assert _wait_gone(client, [broken_id])
        fresh = pool.acquire()  # replaced by a new container, never the broken one
        assert fresh.container_id != broken_id and pool.stats.cold_acquires == 2
        pool.release(fresh)
        assert pool.wait_idle() and pool.idle == 1 and pool.stats.recycled == 1
    finally:
        pool.close()


def test_pool_counts_a_dead_container_as_a_wipe_failure(image, client):
    pool = SandboxPool(image, size=2, standby=0)
    try:
        sandbox = pool.acquire()
        sandbox_id = sandbox.container_id
        client.api.kill(sandbox_id)  # the container dies while in use
        pool.release(sandbox)
        assert pool.wait_idle()
        assert pool.stats.wipe_failures == 1 and pool.idle == 0
        assert _wait_gone(client, [sandbox_id])
    finally:
        pool.close()


def test_pool_prepares_standby_containers_in_the_background(image):
    pool = SandboxPool(image, size=4, standby=2)
    held: list[DockerSandbox] = []
    try:
        assert pool.wait_idle() and pool.idle == 2  # two standbys started in the background
        held.append(pool.acquire())  # a queue pop
        assert pool.wait_idle() and pool.idle == 2  # and refilled behind it
        held.append(pool.acquire())
        assert pool.wait_idle() and pool.idle == 2
        assert pool.stats.cold_acquires == 0 and pool.stats.warm_acquires == 2
        assert pool.stats.created == 4
        first = held.pop(0)
        first.exec("echo junk > /work/junk")
        pool.release(first)
        assert pool.wait_idle() and pool.stats.recycled == 1
        recycled = next(s for s in pool._ready if s.container_id == first.container_id)
        assert recycled.exec("ls -A /work").output == ""
    finally:
        for sandbox in held:
            sandbox.close()
        pool.close()


# -- errors --------------------------------------------------------------------------------------
def test_missing_image_says_how_to_build(client):
    with pytest.raises(ImageMissingError, match="agentgym sandbox build"):
        DockerSandbox("agentgym/does-not-exist:never").start()
    with pytest.raises(ImageMissingError, match="--tag agentgym/does-not-exist:never"):
        check_docker("agentgym/does-not-exist:never")


DAEMON_DOWN = textwrap.dedent("""
    import agentgym.sandboxes.docker as d
    from agentgym.envs.swe.env import SWEEnv
    from agentgym.envs.swe.tasks import SWETask
    task = SWETask("t", "textkit", "issue", "", ["tests/test_textkit.py::x"], [])
    paths = {
        "check_docker": lambda: d.check_docker(),
        "client": lambda: d.docker_client(),
        "sandbox": lambda: d.DockerSandbox().exec("true"),
        "pool": lambda: d.SandboxPool(standby=0).acquire(),
        "env": lambda: SWEEnv(tasks=[task]).reset(seed=0),
    }
    for name, path in paths.items():
        try:
            path()
        except d.DockerUnavailableError as exc:
            print(name, "|", exc)
        except BaseException as exc:
            print(name, "| WRONG", type(exc).__name__, exc)
""")


def test_daemon_down_is_one_clear_error_on_every_path(tmp_path):
    env = {**os.environ, "DOCKER_HOST": f"unix://{tmp_path}/missing.sock"}
    out = subprocess.run([sys.executable, "-c", DAEMON_DOWN], env=env, capture_output=True,
                         text=True, timeout=120)
    lines = out.stdout.splitlines()
    assert [line.split(" | ")[0] for line in lines] == [
        "check_docker", "client", "sandbox", "pool", "env"], out.stdout + out.stderr
    for line in lines:
        message = line.split(" | ", 1)[1]
        assert message.startswith(f"docker daemon not reachable at unix://{tmp_path}/missing.sock")
        assert "dockerd &" in message and "\n" not in message


def test_daemon_vanishing_mid_run_is_docker_unavailable(image, tmp_path):
    import docker

    with DockerSandbox(image) as sandbox:
        sandbox.start()
        alive = sandbox._client
        sandbox._client = docker.DockerClient(base_url=f"unix://{tmp_path}/gone.sock",
                                              version="1.41")
        try:
            with pytest.raises(DockerUnavailableError, match="not reachable"):
                sandbox.exec("true")
        finally:
            sandbox._client = alive


# -- a dead run's containers die with it --------------------------------------------------------
OWNER = """
import os, sys, time
from agentgym.sandboxes.docker import DockerSandbox, SandboxPool
pool = SandboxPool(size=2, standby=1)
boxes = [DockerSandbox().start(), pool.acquire()]
pool.wait_idle()
ids = [b.container_id for b in boxes] + [s.container_id for s in pool._ready]
if sys.argv[1] == "fork":  # a forked child outlives the owner; it must not hold the lease
    if os.fork() == 0:
        time.sleep(120)
        os._exit(0)
if sys.argv[1] == "raise":
    print(" ".join(ids), flush=True)
    raise RuntimeError("boom")
if sys.argv[1] == "exit":
    print(" ".join(ids), flush=True)
    sys.exit(0)
print(" ".join(ids), flush=True)
time.sleep(120)
"""


@pytest.mark.parametrize("how", ["SIGKILL", "fork+SIGKILL", "exit", "raise", "SIGTERM", "SIGINT"])
def test_containers_die_with_their_owner(client, image, how):
    mode = "fork" if how.startswith("fork") else how.lower()
    proc = subprocess.Popen([sys.executable, "-c", OWNER, mode], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    try:
        ids = proc.stdout.readline().split()
        assert len(ids) == 3 and not any(_gone(client, i) for i in ids)
        if how.startswith("SIG") or how.endswith("SIGKILL"):
            proc.send_signal(getattr(signal, how.split("+")[-1]))
        proc.wait(timeout=60)
        # No prune runs here: only the lease (and exit clean-up) removes them.
        assert _wait_gone(client, ids), f"left behind: {ids}"
    finally:
        with contextlib.suppress(ProcessLookupError):  # the forked child, if any
            os.killpg(proc.pid, signal.SIGKILL)


def test_prune_removes_orphans_of_dead_owners_only(client, image):
    dead = client.containers.run(image, ["sleep", "60"], detach=True,
                                 labels={LABEL: "1", "agentgym.owner_pid": "999999999",
                                         "agentgym.owner_host": os.uname().nodename})
    mine = client.containers.run(image, ["sleep", "60"], detach=True, labels=owner_labels())
    try:
        removed = prune_orphans(client)
        # another process's first connection to docker prunes orphans too (tests run in two
        # workers): the dead owner's container is gone, by this prune or by that one
        assert mine.short_id not in removed
        assert _gone(client, dead.id) and not _gone(client, mine.id)
    finally:
        for container in (dead, mine):
            if not _gone(client, container.id):
                container.remove(force=True)


def test_cli_prune_reports_what_it_removed(client, image, capsys):
    import argparse

    from rich.console import Console

    from agentgym.cli.sandbox import add_parser, run_sandbox

    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    console = Console(record=True, width=200)
    orphans = [client.containers.run(image, ["sleep", "60"], detach=True,
                                     labels={LABEL: "1", "agentgym.owner_pid": "999999999",
                                             "agentgym.owner_host": os.uname().nodename})
               for _ in range(2)]
    try:
        assert run_sandbox(parser.parse_args(["sandbox", "prune"]), console) == 0
        text = console.export_text()
        line = next(line for line in text.splitlines() if line.startswith("removed"))
        listed = line.split()[3:]
        assert line.startswith(f"removed {len(listed)} container(s)")  # the count matches
        # every orphan is gone: removed by this prune, or (tests run in two workers) by another
        # process's first connection to docker, which prunes orphans too
        assert all(_gone(client, o.id) for o in orphans)
        assert run_sandbox(parser.parse_args(["sandbox", "status"]), console) == 0
        assert run_sandbox(parser.parse_args(["sandbox", "build"]), console) == 0  # exists
        assert "already exists" in console.export_text()
    finally:
        for orphan in orphans:
            if not _gone(client, orphan.id):
                orphan.remove(force=True)


def test_cli_with_the_daemon_down_is_one_line_on_stderr(tmp_path):
    env = {**os.environ, "DOCKER_HOST": f"unix://{tmp_path}/missing.sock"}
    for action in ("prune", "status"):
        out = subprocess.run([sys.executable, "-m", "agentgym.cli.main", "sandbox", action],
                             env=env, capture_output=True, text=True, timeout=120)
        assert out.returncode == 1, out
        assert out.stderr.startswith("error: docker daemon not reachable")
        assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr


def test_own_containers_are_listed(client, image, own):
    with DockerSandbox(image) as sandbox:
        sandbox.start()
        assert sandbox.container_id in {c.id for c in own(client)}
    assert sandbox.container_id is None


def test_concurrent_acquires_share_the_pool(image):
    pool = SandboxPool(image, size=4, standby=0)
    barrier = threading.Barrier(3)
    got: list[str] = []

    def take() -> None:
        barrier.wait()
        sandbox = pool.acquire()
        got.append(sandbox.container_id)
        pool.release(sandbox)

    try:
        threads = [threading.Thread(target=take) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert len(got) == 3 and pool.wait_idle()
        assert pool.stats.cold_acquires + pool.stats.warm_acquires == 3
        assert pool.idle == len(set(got)) and pool.stats.wipe_failures == 0
    finally:
        pool.close()


# -- the Debian mirror comes from the machine, never from the source ---------------------------
def test_apt_mirror_from_one_line_sources(tmp_path):
    from agentgym.sandboxes.docker.image import apt_mirror

    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list").write_text(
        "# deb http://commented.example/debian bookworm main\n"
        "deb-src http://src.example/debian bookworm main\n"
        "deb http://security.example/debian-security bookworm-security main\n"
        "deb [arch=amd64 signed-by=/usr/share/keyrings/x.gpg] http://proxy.example:3142/debian/ "
        "bookworm main contrib\n")
    (tmp_path / "sources.list.d" / "cloud.list").write_text(
        "deb https://cloud.example/apt cloud-sdk-bookworm main\n")
    assert apt_mirror(tmp_path) == "http://proxy.example:3142/debian"


def test_apt_mirror_from_deb822_sources(tmp_path):
    from agentgym.sandboxes.docker.image import apt_mirror

    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "a-node.sources").write_text(
        "Types: deb\nURIs: https://node.example/node_20.x\nSuites: nodistro\nComponents: main\n")
    (tmp_path / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\n# a comment\nURIs: http://security.example/debian-security\n"
        "Suites: bookworm-security\nComponents: main\n\n"
        "Types: deb\nURIs: http://disabled.example/debian\nSuites: bookworm\nEnabled: no\n\n"
        "Types: deb-src\nURIs: http://src.example/debian\nSuites: bookworm\n\n"
        "Types: deb\nURIs: http://mirror.example/debian\n http://second.example/debian\n"
        "Suites: bookworm bookworm-updates\nComponents: main\n")
    assert apt_mirror(tmp_path) == "http://mirror.example/debian"
    (tmp_path / "sources.list").write_text("deb http://first.example/debian stable main\n")
    assert apt_mirror(tmp_path) == "http://first.example/debian"  # sources.list is read first


def test_debian_mirror_precedence_and_a_clear_error(tmp_path, monkeypatch):
    from agentgym.sandboxes.docker.image import MIRROR_VARIABLE, debian_mirror

    monkeypatch.delenv(MIRROR_VARIABLE, raising=False)
    with pytest.raises(SandboxError, match=f"set {MIRROR_VARIABLE}=<mirror URL> or pass --mirror"):
        debian_mirror(apt_dir=tmp_path)
    (tmp_path / "sources.list").write_text("deb http://apt.example/debian bookworm main\n")
    assert debian_mirror(apt_dir=tmp_path) == "http://apt.example/debian"
    monkeypatch.setenv(MIRROR_VARIABLE, "http://variable.example/debian")
    assert debian_mirror(apt_dir=tmp_path) == "http://variable.example/debian"
    assert debian_mirror("http://flag.example/debian", tmp_path) == "http://flag.example/debian"


def test_no_host_name_is_written_in_the_image_builder():
    import re
    from pathlib import Path

    import agentgym.sandboxes.docker.image as image

    source = Path(image.__file__).read_text(encoding="utf-8")
    assert not re.findall(r"[a-z]+://", source)
    assert not re.findall(r"\b[\w-]+\.(org|com|io|net)\b", source)
