"""Fixtures for the scale tests: a real two-node Ray cluster on loopback, and sandbox probes.

The cluster is two ``ray start`` raylets on this machine — a head on 127.0.0.2 and a worker
node joining it on 127.0.0.3 (distinct loopback addresses, so Ray sees two nodes; Ray rewrites
127.0.0.1 itself to the machine's outward address, the other 127/8 addresses it leaves alone).
Both run ``--block`` under this process, with 2 logical CPUs, an 80 MB object store, no
dashboard, no usage reporting and no token authentication (nothing but loopback can reach
them), and are stopped (with every process they started) at the end.
The test process joins the cluster as a driver.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

HEAD_IP = "127.0.0.2"
WORKER_IP = "127.0.0.3"
HERE = Path(__file__).resolve().parent


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def ray_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update({"RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled",
                "PYTHONPATH": str(HERE)})
    return env


@dataclass
class RayCluster:
    address: str
    head: subprocess.Popen
    worker: subprocess.Popen
    temp_dir: str
    head_node: str = ""
    worker_node: str = ""


def _ray_start(args: list[str], log: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "ray.scripts.scripts", "start", "--block",
           "--disable-usage-stats", "--num-cpus=2", "--object-store-memory=80000000", *args]
    return subprocess.Popen(cmd, stdout=log.open("wb"), stderr=subprocess.STDOUT, env=ray_env(),
                            start_new_session=True)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)  # `ray start --block` stops what it started
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def _started(proc: subprocess.Popen, log: Path, timeout: float = 240.0) -> bool:
    """Wait until ``ray start`` reports the node up (True) or exits (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if "Ray runtime started" in log.read_text(errors="replace"):
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.5)
    _stop(proc)
    return False


def _start_node(args: list[str], log: Path, attempts: int = 3) -> subprocess.Popen:
    """``ray start --block ARGS``, retried: on a loaded machine Ray's fixed 30 s raylet
    start-up wait can run out."""
    for _ in range(attempts):
        proc = _ray_start(args, log)
        if _started(proc, log):
            return proc
        _stop(proc)
    pytest.fail(f"ray start {' '.join(args)} failed {attempts} times:\n"
                f"{log.read_text(errors='replace')[-3000:]}")


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[RayCluster]:
    """A head and a worker raylet on loopback; this process is connected as a driver."""
    ray = pytest.importorskip("ray")
    import scale_envs
    from ray import cloudpickle

    if ray.is_initialized():
        ray.shutdown()
    temp_dir = tempfile.mkdtemp(prefix="agr-", dir="/tmp")  # short: socket paths are limited
    port = free_port()
    address = f"{HEAD_IP}:{port}"
    head = worker = None
    try:
        head = _start_node(
            ["--head", f"--node-ip-address={HEAD_IP}", f"--port={port}",
             "--include-dashboard=false", f"--ray-client-server-port={free_port()}",
             f"--temp-dir={temp_dir}", "--resources=" + json.dumps({"head_node": 100})],
            Path(temp_dir) / "head.log")
        worker = _start_node(
            [f"--address={address}", f"--node-ip-address={WORKER_IP}",
             "--resources=" + json.dumps({"worker_node": 100})], Path(temp_dir) / "worker.log")
        cloudpickle.register_pickle_by_value(scale_envs)
        os.environ["RAY_AUTH_MODE"] = "disabled"  # a loopback-only test cluster
        ray.init(address=address, _node_ip_address=HEAD_IP, logging_level="WARNING",
                 log_to_driver=False)
        deadline = time.monotonic() + 180
        while sum(node["Alive"] for node in ray.nodes()) < 2:
            if time.monotonic() > deadline:
                pytest.fail("the worker node did not join the cluster")
            time.sleep(0.5)
        cluster = RayCluster(address, head, worker, temp_dir)
        for node in ray.nodes():
            if node["Alive"] and "head_node" in node["Resources"]:
                cluster.head_node = node["NodeID"]
            elif node["Alive"] and "worker_node" in node["Resources"]:
                cluster.worker_node = node["NodeID"]
        yield cluster
    finally:
        if ray.is_initialized():
            ray.shutdown()
        for proc in (worker, head):
            if proc is not None:
                _stop(proc)
        shutil.rmtree(temp_dir, ignore_errors=True)
