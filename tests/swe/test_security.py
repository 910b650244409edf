"""Security of the sandbox, each against a real container, each showing the host is untouched."""

from __future__ import annotations

import http.server
import os
import shutil
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
    before = shutil.disk_usage("/").used
    result = sandbox.exec("dd if=/dev/zero of=/work/big bs=1M count=200 2>&1; du -m /work/big",
                          timeout=30)
    assert "No space left on device" in result.output
    assert int(result.output.split()[-2]) <= 32
    assert shutil.disk_usage("/").used - before < 100 * 2**20
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
