"""DockerSandbox against a real container: commands, limits, files, pool reset, clean-up."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from agentgym.sandboxes.docker import (
    DockerSandbox,
    ImageMissingError,
    SandboxPool,
    make_tar,
)
from agentgym.sandboxes.docker_lifecycle import LABEL, owner_labels, prune_orphans


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


def test_reset_wipes_workdir_and_kills_processes(image):
    pool = SandboxPool(image, size=1)
    try:
        sandbox = pool.acquire()
        sandbox.exec("echo junk > /work/junk; echo t > /tmp/t; (sleep 300 &) ; true")
        container_id = sandbox.container_id
        pool.release(sandbox)
        again = pool.acquire()
        assert again.container_id == container_id  # warm: the same container
        assert again.exec("ls -A /work /tmp").output.split() == ["/tmp:", "/work:"]
        assert "sleep 300" not in again.exec("ps -eo args").output
        again.reset(make_tar({"x.py": "print(1)\n"}))
        assert again.exec("python3 x.py").output.strip() == "1"
        pool.release(again)
    finally:
        pool.close()


def test_missing_image_says_how_to_build(client):
    with pytest.raises(ImageMissingError, match="agentgym sandbox build"):
        DockerSandbox("agentgym/does-not-exist:never").start()


def test_daemon_down_is_one_clear_message(tmp_path):
    code = textwrap.dedent("""
        import agentgym.sandboxes.docker as d
        try:
            d.docker_client()
        except d.DockerUnavailableError as exc:
            print(exc)
    """)
    env = {**os.environ, "DOCKER_HOST": f"unix://{tmp_path}/missing.sock"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=60)
    assert out.stdout.startswith(f"docker daemon not reachable at unix://{tmp_path}/missing.sock")
    assert "dockerd &" in out.stdout and "systemctl start docker" in out.stdout


SCRIPT = """
import sys, time
from agentgym.sandboxes.docker import DockerSandbox
sandbox = DockerSandbox().start()
print(sandbox.container_id, flush=True)
if sys.argv[1] == "raise":
    raise RuntimeError("boom")
if sys.argv[1] == "exit":
    sys.exit(0)
time.sleep(60)
"""


def _container_gone(client, container_id: str) -> bool:
    return not client.containers.list(all=True, filters={"id": container_id})


@pytest.mark.parametrize("how", ["exit", "raise", "SIGTERM", "SIGINT"])
def test_cleanup_on_exit_exception_and_signals(client, image, how):
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, how.lower()], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    container_id = proc.stdout.readline().strip()
    assert container_id and not _container_gone(client, container_id)
    if how.startswith("SIG"):
        proc.send_signal(getattr(signal, how))
    proc.wait(timeout=60)
    assert _container_gone(client, container_id)


def test_orphans_of_dead_processes_are_pruned(client, image):
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, "sleep"], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    container_id = proc.stdout.readline().strip()
    proc.kill()  # SIGKILL: no handler runs, the container is orphaned
    proc.wait(timeout=30)
    assert not _container_gone(client, container_id)
    mine = client.containers.run(image, ["sleep", "60"], detach=True, labels=owner_labels())
    try:
        removed = prune_orphans(client)
        assert container_id[:12] in removed
        assert _container_gone(client, container_id)
        assert not _container_gone(client, mine.id)  # its owner (this process) is alive
    finally:
        mine.remove(force=True)


def test_cli_prune_and_status(client, image):
    import argparse

    from rich.console import Console

    from agentgym.cli.sandbox import add_parser, run_sandbox

    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    console = Console(record=True, width=200)
    orphan = client.containers.run(image, ["sleep", "60"], detach=True,
                                   labels={LABEL: "1", "agentgym.owner_pid": "999999999",
                                           "agentgym.owner_host": os.uname().nodename})
    try:
        args = parser.parse_args(["sandbox", "prune"])
        assert run_sandbox(args, console) == 0
        assert _container_gone(client, orphan.id)
        assert run_sandbox(parser.parse_args(["sandbox", "status"]), console) == 0
        assert run_sandbox(parser.parse_args(["sandbox", "build"]), console) == 0  # exists
        text = console.export_text()
        assert "removed" in text and "already exists" in text
    finally:
        orphan.remove(force=True) if not _container_gone(client, orphan.id) else None


def test_own_containers_are_listed(client, image, own):
    with DockerSandbox(image) as sandbox:
        sandbox.start()
        assert sandbox.container_id in {c.id for c in own(client)}
    assert sandbox.container_id is None
    time.sleep(0)
