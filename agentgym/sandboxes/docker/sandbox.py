"""DockerSandbox: run untrusted commands in a locked-down container.

Each sandbox is one container started from a local image (default ``agentgym/sandbox:py311``,
built by ``agentgym sandbox build``) with:

* no network (``network_mode="none"``), ``no-new-privileges``, a private IPC namespace;
* memory (no swap), CPU and pids limits; a read-only root file system whose only writable places
  are size- *and inode*-limited tmpfs mounts: the work dir, ``/tmp``, ``/dev/shm`` (and the
  IPC namespace's ``/dev/mqueue``);
* the agent's commands run as uid 1000 with no capabilities, under ``timeout -s KILL`` (the
  whole process group dies), with a host-side deadline as a second guard and an output cap, and
  with ``oom_score_adj`` 1000 so that memory pressure kills them, not the keeper;
* the keeper (:mod:`.keeper`) as the container's main process: the owner lease that removes the
  container when its owner dies, and the root side that kills, wipes and verifies.

:meth:`DockerSandbox.wipe` is the reset that proves it reset: every process of the agent is
killed (by the keeper itself, without forking, so a fork bomb cannot stop it), every writable
place and the System V IPC objects are deleted as root (whatever modes the agent set), and then
it is *verified* that no file, IPC object or non-root process is left and that the work dir's
owner and mode are the original ones. Any failure raises :class:`SandboxWipeError`; a pool then
destroys the container.
"""

from __future__ import annotations

import contextlib
import posixpath
import shlex
import socket
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from agentgym.sandboxes.docker.archive import make_tar, read_regular_files
from agentgym.sandboxes.docker.client import (
    DEFAULT_IMAGE,
    SandboxError,
    docker_client,
    docker_errors,
    ensure_image,
)
from agentgym.sandboxes.docker.keeper import (
    AGENT_UID,
    AS_AGENT,
    KEEPER_CAPABILITIES,
    KEEPER_COMMAND,
    SCRATCH,
    Keeper,
    KeeperResult,
)
from agentgym.sandboxes.docker.lifecycle import REGISTRY, owner_labels

#: uid:gid the agent's commands run as (the image's ``agent`` user).
SANDBOX_USER = f"{AGENT_UID}:{AGENT_UID}"

#: The environment of the agent's commands.
AGENT_ENVIRONMENT = {
    "HOME": "/tmp",
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONHASHSEED": "0",
    "LANG": "C.UTF-8",
    "GIT_AUTHOR_NAME": "agent",
    "GIT_AUTHOR_EMAIL": "agent@sandbox",
    "GIT_COMMITTER_NAME": "agent",
    "GIT_COMMITTER_EMAIL": "agent@sandbox",
}


class SandboxWipeError(SandboxError):
    """A wipe or its verification failed: the container must not be reused."""


def parse_size(size: str | int) -> int:
    """Bytes of a docker-style size (``"64m"``, ``"1g"``, ``"512k"``, ``1024``)."""
    if isinstance(size, int):
        return size
    text = size.strip().lower().removesuffix("b")
    factor = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}.get(text[-1:], 1)
    return int(float(text.rstrip("kmg")) * factor)


@dataclass(frozen=True)
class SandboxLimits:
    """Resource limits of one sandbox container.

    Attributes:
        memory: memory limit (docker syntax, e.g. ``"512m"``); swap is disabled.
        cpus: CPU quota in cores.
        pids: maximum number of processes/threads.
        workdir_size: size of the writable work-dir tmpfs (the disk limit).
        workdir_inodes: most files and directories in the work dir.
        tmp_size: size of the ``/tmp`` tmpfs.
        tmp_inodes: most files and directories in ``/tmp``.
        shm_size: size of the ``/dev/shm`` tmpfs.
        shm_inodes: most files in ``/dev/shm``.
        timeout: default wall-clock limit of one command, seconds.
        max_output: default cap on the bytes of output kept per command (head + tail).
    """

    memory: str = "512m"
    cpus: float = 1.0
    pids: int = 128
    workdir_size: str = "64m"
    workdir_inodes: int = 16384
    tmp_size: str = "32m"
    tmp_inodes: int = 8192
    shm_size: str = "16m"
    shm_inodes: int = 1024
    timeout: float = 30.0
    max_output: int = 1_000_000


@dataclass
class ExecResult:
    """The outcome of one command.

    Attributes:
        exit_code: the command's exit status (124/137 after a timeout, 137 after an OOM kill).
        output: stdout and stderr interleaved, decoded as UTF-8 (invalid bytes replaced).
        timed_out: the command was killed at its timeout.
        truncated: bytes dropped from the middle of the output by the cap.
        duration: wall-clock seconds.
    """

    exit_code: int
    output: str
    timed_out: bool = False
    truncated: int = 0
    duration: float = 0.0

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out


@dataclass
class _OutputBuffer:
    """Keeps the first and last ``cap // 2`` bytes of a stream and counts the rest."""

    cap: int
    head: bytearray = field(default_factory=bytearray)
    tail: bytearray = field(default_factory=bytearray)
    dropped: int = 0

    def add(self, chunk: bytes) -> None:
        half = max(self.cap // 2, 1)
        room = half - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        if chunk:
            self.tail += chunk
            excess = len(self.tail) - half
            if excess > 0:
                del self.tail[:excess]
                self.dropped += excess

    def text(self) -> str:
        head = self.head.decode("utf-8", errors="replace")
        tail = self.tail.decode("utf-8", errors="replace")
        if self.dropped:
            return f"{head}\n[... {self.dropped} bytes truncated ...]\n{tail}"
        return head + tail


def wipe_script(workdir: str) -> str:
    """The root script that deletes everything the agent could write and verifies it.

    Runs after the keeper's ``kill`` (no process of the agent's is left to race it).
    """
    dirs = " ".join(shlex.quote(d) for d in (workdir, "/tmp", "/dev/shm", "/dev/mqueue"))
    uid = AGENT_UID
    w = shlex.quote(workdir)
    return f"""
set -u
fail() {{ printf 'wipe failed: %s\\n' "$*"; exit 1; }}
for d in {dirs}; do
  [ -d "$d" ] && find "$d" -xdev -mindepth 1 -delete 2>&1 | head -n 3
done
chown {uid}:{uid} {w} && chmod 0755 {w} || fail "cannot restore the owner and mode of {w}"
{AS_AGENT} ipcrm --all 2>&1 | head -n 3
for d in {dirs}; do
  [ -d "$d" ] || continue
  left=$(find "$d" -xdev -mindepth 1 -print 2>&1 | head -n 3 | tr '\\n' ' ')
  [ -z "$left" ] || fail "$d is not empty: $left"
done
mode=$(stat -c %u:%g:%a {w})
[ "$mode" = "{uid}:{uid}:755" ] || fail "{w} has owner/mode $mode"
for d in /tmp /dev/shm; do
  [ "$(stat -c %u:%g:%a $d)" = "0:0:1777" ] || fail "$d has owner/mode $(stat -c %u:%g:%a $d)"
done
for f in shm msg sem; do
  [ "$(wc -l < /proc/sysvipc/$f)" -le 1 ] || fail "System V IPC objects survive ($f)"
done
for s in /proc/[0-9]*/status; do
  st=; uid=
  while read -r key value rest; do
    case $key in State:) st=$value ;; Uid:) uid=$value; break ;; esac
  done < "$s" 2>/dev/null
  [ -z "$uid" ] || [ "$uid" = 0 ] || [ "$st" = Z ] || fail "a process of uid $uid survives"
done
exit 0
"""


class DockerSandbox:
    """One sandbox container, started lazily at first use and removed by :meth:`close`.

    Args:
        image: local image to run (must contain python3, bash, coreutils, tar, find and
            util-linux's ``setpriv``, ``ipcrm`` and ``choom``; git for the SWE environment).
        limits: resource limits.
        workdir: the writable work dir (a tmpfs owned by the agent); commands start there.
        environment: extra environment variables for every command of the agent.
        client: a docker client (default: :func:`~.client.docker_client`).

    Use as a context manager, or call :meth:`close`; a pool recycles it with :meth:`wipe`.
    """

    def __init__(
        self,
        image: str = DEFAULT_IMAGE,
        *,
        limits: SandboxLimits | None = None,
        workdir: str = "/work",
        environment: Mapping[str, str] | None = None,
        client: Any = None,
    ) -> None:
        self.image = image
        self.limits = limits or SandboxLimits()
        self.workdir = workdir.rstrip("/") or "/work"
        self.environment = {**AGENT_ENVIRONMENT, **dict(environment or {})}
        self._client = client
        self._container_id: str | None = None
        self._keeper: Keeper | None = None
        self._lock = threading.Lock()

    # -- lifecycle ---------------------------------------------------------------------------
    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = docker_client()
        return self._client

    @property
    def started(self) -> bool:
        return self._container_id is not None

    @property
    def container_id(self) -> str | None:
        return self._container_id

    @property
    def keeper(self) -> Keeper:
        """The keeper connection (starts the sandbox)."""
        self.start()
        keeper = self._keeper
        if keeper is None:
            raise SandboxError("the sandbox was closed")
        return keeper

    def start(self) -> DockerSandbox:
        """Start the container now (otherwise the first command does)."""
        with self._lock:
            if self._container_id is None:
                self._container_id, self._keeper = self._create()
        return self

    def _host_config(self) -> Any:
        limits = self.limits
        work, tmp = parse_size(limits.workdir_size), parse_size(limits.tmp_size)
        tmpfs = {
            self.workdir: (f"size={work},nr_inodes={limits.workdir_inodes},"
                           f"uid={AGENT_UID},gid={AGENT_UID},mode=0755,exec"),
            "/tmp": f"size={tmp},nr_inodes={limits.tmp_inodes},mode=1777",
            "/dev/shm": f"size={parse_size(limits.shm_size)},nr_inodes={limits.shm_inodes},"
                        "mode=1777",
            # Root-only scratch of the keeper: big enough to hold a copy of the work dir.
            SCRATCH: f"size={2 * work + (16 << 20)},nr_inodes=64,mode=0700",
        }
        return self.client.api.create_host_config(
            init=True,
            auto_remove=True,
            network_mode="none",
            mem_limit=limits.memory,
            memswap_limit=limits.memory,
            nano_cpus=int(limits.cpus * 1e9),
            pids_limit=limits.pids,
            read_only=True,
            tmpfs=tmpfs,
            cap_drop=["ALL"],
            cap_add=list(KEEPER_CAPABILITIES),
            security_opt=["no-new-privileges"],
            ipc_mode="private",
            log_config={"type": "none"},
        )

    def _create(self) -> tuple[str, Keeper]:
        client = self.client
        ensure_image(client, self.image)
        with docker_errors("create a sandbox container"):
            container_id = client.api.create_container(
                self.image,
                KEEPER_COMMAND,
                user="0:0",  # only the keeper is root; the agent's commands run as uid 1000
                detach=False,
                stdin_open=True,  # with detach=False: StdinOnce, the owner lease
                working_dir=self.workdir,
                hostname="sandbox",
                labels=owner_labels(),
                environment=self.environment,
                host_config=self._host_config(),
            )["Id"]
        holder: list[Keeper] = []
        REGISTRY.add(container_id, lambda: self._remove(container_id, holder),
                     lambda: holder and holder[0].forget())
        try:
            with docker_errors("start a sandbox container"):
                holder.append(Keeper.attach(client, container_id))
                client.api.start(container_id)
            holder[0].boot()
        except BaseException:
            self._remove(container_id, holder)
            raise
        return container_id, holder[0]

    def _remove(self, container_id: str, keepers: Sequence[Keeper] = ()) -> None:
        REGISTRY.discard(container_id)
        for keeper in keepers:
            keeper.close()
        try:
            self.client.api.remove_container(container_id, force=True)
        except Exception as exc:
            # Closing the keeper ended the container's main process, so docker's auto_remove
            # may be removing it already: the forced removal then answers 409 ("removal ...
            # already in progress") and the container is still listed for a moment. Wait for
            # it, so that close() means "the container is gone".
            if "already in progress" in str(exc):
                self._wait_until_gone(container_id)

    def _wait_until_gone(self, container_id: str, timeout: float = 15.0) -> None:
        """Return once the container no longer exists (or after ``timeout`` seconds)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                self.client.api.inspect_container(container_id)
            except Exception:  # not found (gone), or the daemon went away: stop waiting
                return
            time.sleep(0.05)

    def close(self) -> None:
        """End the lease and remove the container (idempotent)."""
        with self._lock:
            container_id, self._container_id = self._container_id, None
            keeper, self._keeper = self._keeper, None
        if container_id is not None:
            self._remove(container_id, [keeper] if keeper is not None else [])

    def __enter__(self) -> DockerSandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:  # last resort; atexit and pools normally get there first
        with contextlib.suppress(Exception):
            self.close()

    def alive(self) -> bool:
        """Whether the container runs and its keeper answers the protocol."""
        if self._container_id is None or self._keeper is None or self._keeper.broken:
            return False
        try:
            state = self.client.api.inspect_container(self._container_id)["State"]
        except Exception:
            return False
        return bool(state.get("Running"))

    # -- the agent's commands ----------------------------------------------------------------
    def exec(
        self,
        command: str | Sequence[str],
        *,
        timeout: float | None = None,
        max_output: int | None = None,
        workdir: str | None = None,
        environment: Mapping[str, str] | None = None,
        stdin: bytes | None = None,
        kill_group: bool = True,
    ) -> ExecResult:
        """Run a command as the sandbox user (``docker exec``).

        Args:
            command: a bash command line (``str``) or an argv list.
            timeout: wall-clock seconds; at the limit the command's whole process group is
                killed inside the container (and the container itself if it does not respond).
            max_output: bytes of output kept (first and last half); the rest is counted.
            workdir: working directory (default: the work dir).
            environment: extra environment variables.
            stdin: bytes fed to the command's standard input.
            kill_group: wrap the command in coreutils ``timeout`` (kills its process group);
                False runs it bare, guarded only by the host-side deadline.

        Returns:
            An :class:`ExecResult`; a failing command is a result, not an exception.

        Raises:
            SandboxError: docker could not run the command at all (e.g. the container is gone);
                :class:`~.client.DockerUnavailableError` when the daemon is down.
        """
        self.start()
        timeout = float(self.limits.timeout if timeout is None else timeout)
        cap = int(self.limits.max_output if max_output is None else max_output)
        argv = ["bash", "-c", command] if isinstance(command, str) else list(command)
        if kill_group:
            argv = ["timeout", "-s", "KILL", f"{max(timeout, 0.1):.3f}", *argv]
        # The OOM killer takes the agent's processes first, never the keeper.
        argv = ["choom", "-n", "1000", "--", *argv]
        api = self.client.api
        started = time.monotonic()
        with docker_errors("run a command in the sandbox"):
            exec_id = api.exec_create(
                self._container_id,
                argv,
                stdin=stdin is not None,
                stdout=True,
                stderr=True,
                user=SANDBOX_USER,
                workdir=workdir or self.workdir,
                environment=dict(environment or {}),
            )["Id"]
        buffer = _OutputBuffer(cap)
        errors: list[BaseException] = []

        def pump() -> None:
            try:
                if stdin is None:
                    for chunk in api.exec_start(exec_id, stream=True):
                        buffer.add(chunk)
                else:
                    self._pump_socket(api.exec_start(exec_id, socket=True), stdin, buffer)
            except BaseException as exc:  # reported below, never lost in the thread
                errors.append(exc)

        reader = threading.Thread(target=pump, daemon=True)
        reader.start()
        reader.join(timeout + 10.0)
        if reader.is_alive():  # the in-container timeout failed: kill the container itself
            self.close()
            reader.join(5.0)
            return ExecResult(137, buffer.text(), True, buffer.dropped,
                              time.monotonic() - started)
        if errors:
            with docker_errors("run a command in the sandbox"):
                raise errors[0]
        duration = time.monotonic() - started
        with docker_errors("read a command's exit code"):
            exit_code = api.exec_inspect(exec_id).get("ExitCode")
        exit_code = -1 if exit_code is None else int(exit_code)
        timed_out = exit_code in (124, 137) and duration >= timeout - 0.05
        return ExecResult(exit_code, buffer.text(), timed_out, buffer.dropped, duration)

    @staticmethod
    def _pump_socket(sock: Any, data: bytes, buffer: _OutputBuffer) -> None:
        """Write ``data`` to a hijacked exec socket, half-close it, and read the framed output."""
        raw = getattr(sock, "_sock", sock)
        try:
            raw.sendall(data)
            raw.shutdown(socket.SHUT_WR)
            pending = b""
            while True:
                chunk = raw.recv(65536)
                if not chunk:
                    break
                pending += chunk
                # Docker multiplexing: 8-byte header (stream, 0, 0, 0, size big-endian).
                while len(pending) >= 8:
                    size = int.from_bytes(pending[4:8], "big")
                    if len(pending) < 8 + size:
                        break
                    buffer.add(pending[8 : 8 + size])
                    pending = pending[8 + size :]
        finally:
            with contextlib.suppress(Exception):
                sock.close()

    # -- root side (trusted scripts only) ----------------------------------------------------
    def run_root(self, script: str, stdin: bytes = b"", timeout: float = 60.0) -> KeeperResult:
        """Run one of the environment's own bash scripts as root in the container (through the
        keeper: no ``docker exec``). Never pass agent text as ``script``."""
        return self.keeper.run(script, stdin, timeout)

    def kill_processes(self) -> None:
        """SIGKILL every process of the agent (works under a fork bomb).

        Raises:
            SandboxError: a process survived.
        """
        self.keeper.kill_processes()

    def wipe(self) -> None:
        """Kill the agent's processes, delete everything it could write, and verify the result.

        Raises:
            SandboxWipeError: anything survived, or the keeper failed; do not reuse the sandbox.
        """
        try:
            self.kill_processes()
            result = self.run_root(wipe_script(self.workdir), timeout=120.0)
        except SandboxWipeError:
            raise
        except SandboxError as exc:
            raise SandboxWipeError(str(exc)) from exc
        if not result.ok:
            raise SandboxWipeError(result.text(500) or f"wipe exited {result.exit_code}")

    def reset(self, archive: bytes | None = None) -> None:
        """Make the sandbox like new (:meth:`wipe`) and, when given, fill the work dir from
        ``archive`` (tar bytes) as the agent.

        Raises:
            SandboxWipeError: the wipe failed; SandboxError: extracting ``archive`` failed.
        """
        self.wipe()
        if archive is not None:
            self.put_archive(archive)

    # -- files (as the agent) ----------------------------------------------------------------
    def put_archive(self, archive: bytes, dest: str | None = None) -> None:
        """Extract a tar archive into ``dest`` (default: the work dir) as the sandbox user."""
        dest = dest or self.workdir
        result = self.run_root(
            f"cd {shlex.quote(dest)} && {AS_AGENT} tar -x -m --no-same-owner "
            "--no-same-permissions -f -", archive, timeout=60.0)
        if not result.ok:
            raise SandboxError(f"copying files into {dest} failed: {result.text(500)}")

    def put_files(self, files: Mapping[str, bytes | str], dest: str | None = None) -> None:
        """Write ``{relative path: content}`` below ``dest`` (default: the work dir)."""
        self.put_archive(make_tar(files), dest)

    def get_archive(self, path: str) -> bytes:
        """A tar archive of ``path`` (file or directory), read as the sandbox user."""
        parent, name = posixpath.split(path.rstrip("/") or "/")
        result = self.run_root(
            f"{AS_AGENT} tar -c -C {shlex.quote(parent or self.workdir)} -- "
            f"{shlex.quote(name or '.')}", timeout=60.0)
        if not result.ok:
            raise SandboxError(f"reading {path} failed: {result.text(500)}")
        return result.output

    def read_file(self, path: str) -> bytes:
        """The bytes of one file in the container, read as the sandbox user."""
        files = read_regular_files(self.get_archive(path))
        if not files:
            raise SandboxError(f"{path} is not a regular file")
        return next(iter(files.values())).data
