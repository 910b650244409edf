"""The keeper: a container's main process, its owner lease, and its root side.

Every sandbox container runs :data:`KEEPER_PROGRAM` — a small Python program, root with a
handful of capabilities, sent over stdin at start — under ``docker-init``. The keeper reads
requests from the container's stdin, which only the owner holds open through an attach
connection (docker's ``StdinOnce``):

* **Lease.** When the owner dies, however it dies, the connection closes, the keeper reads EOF
  and exits, the container stops and docker's ``AutoRemove`` deletes it (see :mod:`.lifecycle`).
* **Root commands without ``docker exec``.** A request is one round trip on the open
  connection (a few milliseconds, against ~100 ms for an exec), so wiping, verifying and laying a
  repository down is cheap enough to sit on the reset path. The agent (uid 1000, no
  capabilities) cannot reach the keeper: its stdin and stdout belong to the container runtime,
  and a root process cannot be signalled or traced by uid 1000.
* **Killing without forking.** ``kill`` is ``kill(-1, SIGKILL)`` and a walk over ``/proc`` in
  the keeper itself, so it works while a fork bomb holds every pid of the container's pids limit
  — where ``docker exec`` and every other request fail (a request that cannot fork is answered
  with exit code :data:`CANNOT_FORK`, and the keeper lives on).

Protocol (one request at a time)::

    -> "<id> kill 0 0 <timeout>\\n"
    -> "<id> run <script bytes> <stdin bytes> <timeout>\\n" <script> <stdin>
    <- "@@agentgym <id> <exit code> <output bytes>\\n" <output>

``run`` executes the script with bash as root in a session of its own (SIGKILLed as a whole at
the timeout), its stdout and stderr captured in a root-only tmpfs (:data:`SCRATCH`), so output is
binary safe. Scripts are the
environment's own code, never agent text; a script that works on agent files either runs after
``kill`` (nothing of the agent's is running) or drops to uid 1000 with :data:`AS_AGENT`.

The image must provide python3, bash, coreutils, tar, find and util-linux (``setpriv``,
``ipcrm``, ``choom``).
"""

from __future__ import annotations

import contextlib
import os
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from typing import Any

from agentgym.sandboxes.docker.client import SandboxError

#: Root-only tmpfs (mode 0700) the keeper keeps its scratch files in; the agent cannot read,
#: fill or touch it.
SCRATCH = "/run/agentgym"
#: uid and gid of the agent (the image's ``agent`` user).
AGENT_UID = 1000
_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#: Prefix of a command that must run as the agent: uid/gid 1000, no supplementary groups, no
#: capabilities, an environment of our own (no variable the agent set). Like every process the
#: keeper starts, it is the OOM killer's first choice (``oom_score_adj`` 1000, which only root
#: could lower again).
AS_AGENT = (
    f"setpriv --reuid={AGENT_UID} --regid={AGENT_UID} --clear-groups "
    f"env -i PATH={_PATH} HOME=/nonexistent LANG=C.UTF-8 LC_ALL=C.UTF-8 "
    "GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null"
)
#: Capabilities root keeps inside the container (the agent's commands have none): kill the
#: agent's processes, delete and chown its files whatever their modes, drop to uid 1000.
KEEPER_CAPABILITIES = ("CHOWN", "DAC_OVERRIDE", "FOWNER", "KILL", "SETGID", "SETUID")
READY = b"@@agentgym ready"
#: Exit code of a request whose process could not be started (the pids limit is exhausted).
CANNOT_FORK = 75
#: The container's command: read the keeper program (length-prefixed) from stdin and run it,
#: so the process list shows a short name rather than the whole program.
KEEPER_COMMAND = [
    "python3", "-I", "-S", "-c",
    "import sys; exec(sys.stdin.buffer.read(int(sys.stdin.buffer.readline())))",
    "agentgym-keeper",
]

# Python, not bash: bash exits when a fork fails, and a fork bomb makes every fork fail; here
# a failed fork is an error answer and only ``kill`` (which never forks) is needed to recover.
KEEPER_PROGRAM = r"""
import os, shutil, signal, subprocess, sys, time

S = __SCRATCH__
os.environ.clear()
os.environ.update(PATH=__PATH__, HOME=S, LC_ALL="C", GIT_CONFIG_NOSYSTEM="1",
                  GIT_CONFIG_GLOBAL="/dev/null")
os.umask(0o022)
os.chdir("/")
IN, OUT = sys.stdin.buffer, sys.stdout.buffer


def read_exact(n):
    data = IN.read(n)
    if len(data) != n:
        sys.exit(0)  # the owner is gone: end the container
    return data


def kill_all():  # no fork: works while a fork bomb holds every pid
    me = os.getpid()
    for round_ in range(400):
        try:
            os.kill(-1, signal.SIGKILL)
        except ProcessLookupError:
            pass
        left = 0
        for name in os.listdir("/proc"):
            if not name.isdigit() or int(name) in (1, me):
                continue
            try:
                with open(f"/proc/{name}/stat", "rb") as fh:
                    state = fh.read().rsplit(b")", 1)[1].split()[0]
            except (OSError, IndexError):
                continue
            if state not in (b"Z", b"X"):
                left += 1
        if not left:
            return True
        if round_ > 4:
            time.sleep(0.01)
    return False


def run(script, data, timeout):
    with open(f"{S}/script", "wb") as fh:
        # The script and all it starts are the OOM killer's first choice, never the keeper.
        fh.write(b"echo 1000 > /proc/self/oom_score_adj\n" + script)
    with open(f"{S}/in", "wb") as fh:
        fh.write(data)
    with open(f"{S}/in", "rb") as stdin, open(f"{S}/out", "wb") as out:
        try:
            proc = subprocess.Popen(["bash", f"{S}/script"], stdin=stdin, stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        except (OSError, subprocess.SubprocessError) as exc:
            out.write(f"cannot start a process in the sandbox ({exc}): the process "
                      "limit is probably exhausted\n".encode())
            return __CANNOT_FORK__
        try:
            return proc.wait(timeout=float(timeout))
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return 137


OUT.write(b"@@agentgym ready\n")
OUT.flush()
while True:
    header = IN.readline()
    if not header:
        break
    rid, op, ns, ni, timeout = header.decode().split()
    script, data = read_exact(int(ns)), read_exact(int(ni))
    if op == "kill":
        code = 0 if kill_all() else 1
        with open(f"{S}/out", "wb") as fh:
            fh.write(b"" if code == 0 else b"processes survive SIGKILL\n")
    elif op == "run":
        code = run(script, data, timeout)
    else:
        code = 2
        with open(f"{S}/out", "wb") as fh:
            fh.write(f"unknown request {op}\n".encode())
    OUT.write(f"@@agentgym {rid} {code} {os.path.getsize(f'{S}/out')}\n".encode())
    with open(f"{S}/out", "rb") as fh:
        shutil.copyfileobj(fh, OUT)
    OUT.flush()
""".replace("__PATH__", repr(_PATH)).replace("__SCRATCH__", repr(SCRATCH)).replace(
    "__CANNOT_FORK__", str(CANNOT_FORK))


class KeeperError(SandboxError):
    """The keeper did not answer as the protocol says (the sandbox must be destroyed)."""


@dataclass
class KeeperResult:
    """The outcome of one keeper request: exit code and combined output bytes."""

    exit_code: int
    output: bytes

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def text(self, limit: int = 2000) -> str:
        """The output decoded (invalid bytes replaced), cut to ``limit`` characters."""
        return self.output.decode("utf-8", "replace").strip()[-limit:]


class Keeper:
    """The owner's end of one container's keeper connection.

    Args:
        sock: the attach connection (stdin and stdout of the container, multiplexed frames).

    Create with :meth:`attach` *before* starting the container, then :meth:`boot`.
    """

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._lock = threading.Lock()
        self._pending = b""
        self._buffer = b""
        self._next_id = 0
        self.broken = False

    @classmethod
    def attach(cls, client: Any, container_id: str) -> Keeper:
        """Open the attach connection of a created (not yet started) container."""
        sdk_sock = client.api.attach_socket(container_id,
                                            params={"stdin": 1, "stdout": 1, "stream": 1})
        raw = getattr(sdk_sock, "_sock", sdk_sock)
        if isinstance(raw, ssl.SSLSocket):  # TLS cannot be duplicated: keep the SDK's socket
            return cls(raw)
        # Own the connection alone (a dup), so closing it — at close, or in a forked child —
        # really closes it, whatever references the SDK still holds.
        own = socket.socket(fileno=os.dup(raw.fileno()))
        with contextlib.suppress(Exception):
            sdk_sock.close()
        with contextlib.suppress(Exception):
            raw.close()
        return cls(own)

    # -- framing -----------------------------------------------------------------------------
    def _recv(self, deadline: float) -> None:
        """Read at least one more payload byte (docker frames: 8-byte header + payload)."""
        while True:
            while len(self._pending) >= 8:
                size = int.from_bytes(self._pending[4:8], "big")
                if len(self._pending) < 8 + size:
                    break
                self._buffer += self._pending[8 : 8 + size]
                self._pending = self._pending[8 + size :]
                if size:
                    return
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            self._sock.settimeout(left)
            chunk = self._sock.recv(1 << 16)
            if not chunk:
                raise EOFError
            self._pending += chunk

    def _read_line(self, deadline: float) -> bytes:
        while b"\n" not in self._buffer:
            self._recv(deadline)
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line

    def _read_exact(self, size: int, deadline: float) -> bytes:
        while len(self._buffer) < size:
            self._recv(deadline)
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data

    # -- requests ----------------------------------------------------------------------------
    def boot(self, timeout: float = 60.0) -> None:
        """Send the keeper program (the container runs :data:`KEEPER_COMMAND`) and wait for
        its ready line."""
        with self._lock:
            self._guard(lambda deadline: self._boot(deadline), timeout, "start")

    def _boot(self, deadline: float) -> None:
        self._sock.settimeout(max(deadline - time.monotonic(), 0.1))
        program = KEEPER_PROGRAM.encode()
        self._sock.sendall(f"{len(program)}\n".encode() + program)
        line = self._read_line(deadline)
        if line != READY:
            raise KeeperError(f"unexpected keeper greeting {line[:80]!r}")

    def kill_processes(self, timeout: float = 30.0) -> None:
        """SIGKILL every process in the container but the keeper and ``docker-init``, and
        check none is left (zombies aside). Works under a fork bomb.

        Raises:
            SandboxError: a process survived (the caller must destroy the container).
        """
        result = self.request("kill", b"", b"", timeout)
        if not result.ok:
            raise SandboxError(f"killing the sandbox's processes failed: {result.text()}")

    def run(self, script: str, stdin: bytes = b"", timeout: float = 60.0) -> KeeperResult:
        """Run a (trusted) bash script as root; returns its exit code and output."""
        return self.request("run", script.encode(), stdin, timeout)

    def request(self, op: str, script: bytes, stdin: bytes, timeout: float) -> KeeperResult:
        with self._lock:
            self._next_id += 1
            rid = self._next_id
            header = f"{rid} {op} {len(script)} {len(stdin)} {max(timeout, 0.1):.3f}\n"

            def exchange(deadline: float) -> KeeperResult:
                self._sock.settimeout(max(deadline - time.monotonic(), 0.1))
                self._sock.sendall(header.encode() + script + stdin)
                words = self._read_line(deadline).split()
                if len(words) != 4 or words[0] != b"@@agentgym" or words[1] != str(rid).encode():
                    raise KeeperError(f"keeper protocol out of step: {b' '.join(words)[:80]!r}")
                return KeeperResult(int(words[2]), self._read_exact(int(words[3]), deadline))

            # The keeper kills the script at ``timeout``; allow it time to say so.
            return self._guard(exchange, timeout + 30.0, op)

    def _guard(self, fn: Any, timeout: float, what: str) -> Any:
        if self.broken:
            raise KeeperError("the sandbox keeper is broken (an earlier request failed)")
        try:
            return fn(time.monotonic() + timeout)
        except KeeperError:
            self.broken = True
            raise
        except TimeoutError:
            self.broken = True
            raise KeeperError(f"the sandbox keeper did not answer ({what}) within "
                              f"{timeout:.0f} s") from None
        except (EOFError, OSError) as exc:
            self.broken = True
            raise KeeperError(f"the sandbox container ended ({what}: "
                              f"{type(exc).__name__})") from None

    # -- end ---------------------------------------------------------------------------------
    def close(self) -> None:
        """End the lease: the keeper reads EOF and the container stops (and is removed)."""
        self.broken = True
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_WR)
        with contextlib.suppress(OSError):
            self._sock.close()

    def forget(self) -> None:
        """Close this process's copy of the connection without ending the lease (forked
        child: the parent still holds it)."""
        self.broken = True
        with contextlib.suppress(OSError):
            self._sock.close()
