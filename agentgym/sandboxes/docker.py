"""DockerSandbox: run untrusted commands in a locked-down container (docker SDK, ``[swe]`` extra).

Each sandbox is one long-lived container started from a local image (default
``agentgym/sandbox:py311``, built by ``agentgym sandbox build``) with:

* no network (``network_mode="none"``), all capabilities dropped, ``no-new-privileges``;
* memory (no swap), CPU, pids limits; a read-only root file system with size-limited ``tmpfs``
  mounts for the work dir (``/work``) and ``/tmp`` (the disk limit);
* commands executed as a non-root user (uid 1000) with a wall-clock timeout (killed with the
  whole process group) and an output cap; a keeper process (``sleep infinity`` under
  ``docker-init``) owned by root keeps the container up, so the user cannot kill it;
* ownership labels, so orphans of dead processes are pruned, and guaranteed removal at exit, on
  exceptions (context manager) and on SIGINT/SIGTERM (see :mod:`docker_lifecycle`).

Files travel as tar streams through ``docker exec`` (``put_archive`` refuses read-only roots).
A :class:`SandboxPool` keeps started containers warm and resets them between episodes (kill the
user's processes, wipe the work dir, restore it from a tar), which is much cheaper than starting a
container per episode (see ``benchmarks/swe.py``).

The docker SDK is imported lazily, so importing this module never needs docker.
"""

from __future__ import annotations

import contextlib
import io
import os
import socket
import tarfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from agentgym.sandboxes.docker_lifecycle import REGISTRY, owner_labels, prune_orphans

#: The image ``agentgym sandbox build`` creates.
DEFAULT_IMAGE = "agentgym/sandbox:py311"
#: uid:gid commands run as (the image's ``agent`` user).
SANDBOX_USER = "1000:1000"
DEFAULT_SOCKET = "unix:///var/run/docker.sock"


class SandboxError(RuntimeError):
    """Base class of sandbox errors."""


class DockerUnavailableError(SandboxError):
    """The docker SDK is missing or the daemon cannot be reached."""


class ImageMissingError(SandboxError):
    """The sandbox image has not been built."""


def daemon_address() -> str:
    """The docker daemon address the SDK will use (``DOCKER_HOST`` or the default socket)."""
    return os.environ.get("DOCKER_HOST", DEFAULT_SOCKET)


_CLIENT: Any = None
_CLIENT_LOCK = threading.Lock()


def docker_client() -> Any:
    """A connected ``docker.DockerClient``, shared by the process.

    The first successful call also removes orphaned sandbox containers of dead processes.

    Raises:
        DockerUnavailableError: one clear message when the SDK is missing or the daemon is down.
    """
    global _CLIENT
    with _CLIENT_LOCK:
        if _CLIENT is not None:
            return _CLIENT
        try:
            import docker
        except ImportError as exc:
            raise DockerUnavailableError(
                "the docker SDK is not installed: pip install 'agentgym[swe]'"
            ) from exc
        address = daemon_address()
        try:
            client = docker.from_env(timeout=120)
            client.ping()
        except Exception as exc:
            raise DockerUnavailableError(
                f"docker daemon not reachable at {address}: start it with `dockerd &` or "
                f"`sudo systemctl start docker` ({type(exc).__name__})"
            ) from None
        prune_orphans(client)
        _CLIENT = client
        return client


def ensure_image(client: Any, image: str) -> None:
    """Raise :class:`ImageMissingError` (saying how to build it) when ``image`` is absent."""
    import docker.errors

    try:
        client.images.get(image)
    except docker.errors.ImageNotFound:
        raise ImageMissingError(
            f"docker image {image!r} not found: build it with `agentgym sandbox build`"
            + ("" if image == DEFAULT_IMAGE else f" --tag {image}")
        ) from None


@dataclass(frozen=True)
class SandboxLimits:
    """Resource limits of one sandbox container.

    Attributes:
        memory: memory limit (docker syntax, e.g. ``"512m"``); swap is disabled.
        cpus: CPU quota in cores.
        pids: maximum number of processes/threads.
        workdir_size: size of the writable work-dir tmpfs (the disk limit).
        tmp_size: size of the ``/tmp`` tmpfs.
        timeout: default wall-clock limit of one command, seconds.
        max_output: default cap on the bytes of output kept per command (head + tail).
    """

    memory: str = "512m"
    cpus: float = 1.0
    pids: int = 128
    workdir_size: str = "64m"
    tmp_size: str = "32m"
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


def make_tar(files: Mapping[str, bytes | str], *, uid: int = 1000, gid: int = 1000) -> bytes:
    """A tar archive of ``{relative path: content}`` owned by ``uid:gid`` (fixed mtime)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, content in sorted(files.items()):
            data = content.encode("utf-8") if isinstance(content, str) else bytes(content)
            info = tarfile.TarInfo(name.lstrip("/"))
            info.size, info.uid, info.gid, info.mode = len(data), uid, gid, 0o644
            info.mtime = 1_700_000_000
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def tar_directory(path: str | os.PathLike[str], *, uid: int = 1000, gid: int = 1000) -> bytes:
    """A tar archive of a host directory's contents (recursively), owned by ``uid:gid``."""

    def owner(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid, info.gid, info.uname, info.gname = uid, gid, "", ""
        return info

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for entry in sorted(os.listdir(path)):
            tar.add(os.path.join(path, entry), arcname=entry, filter=owner)
    return buf.getvalue()


class DockerSandbox:
    """One sandbox container, started lazily at first use and removed by :meth:`close`.

    Args:
        image: local image to run (must contain bash, coreutils ``timeout`` and tar).
        limits: resource limits.
        workdir: the writable work dir (a tmpfs); commands start there.
        environment: extra environment variables for every command.
        client: a docker client (default: :func:`docker_client`).

    Use as a context manager, or call :meth:`close`; a pool recycles it with :meth:`reset`.
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
        self.environment = {
            "HOME": "/tmp",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONHASHSEED": "0",
            "LANG": "C.UTF-8",
            "GIT_AUTHOR_NAME": "agent",
            "GIT_AUTHOR_EMAIL": "agent@sandbox",
            "GIT_COMMITTER_NAME": "agent",
            "GIT_COMMITTER_EMAIL": "agent@sandbox",
            **dict(environment or {}),
        }
        self._client = client
        self._container: Any = None
        self._lock = threading.Lock()

    # -- lifecycle ---------------------------------------------------------------------------
    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = docker_client()
        return self._client

    @property
    def started(self) -> bool:
        return self._container is not None

    @property
    def container_id(self) -> str | None:
        return None if self._container is None else self._container.id

    def start(self) -> DockerSandbox:
        """Start the container now (otherwise the first command does)."""
        with self._lock:
            if self._container is None:
                self._container = self._create()
        return self

    def _create(self) -> Any:
        client = self.client
        ensure_image(client, self.image)
        limits = self.limits
        tmpfs = {
            self.workdir: f"size={limits.workdir_size},uid=1000,gid=1000,mode=0755,exec",
            "/tmp": f"size={limits.tmp_size},mode=1777",
        }
        container = client.containers.create(
            self.image,
            ["sleep", "infinity"],
            init=True,
            user="0:0",  # only the keeper runs as root; every command runs as SANDBOX_USER
            working_dir=self.workdir,
            network_mode="none",
            mem_limit=limits.memory,
            memswap_limit=limits.memory,
            nano_cpus=int(limits.cpus * 1e9),
            pids_limit=limits.pids,
            read_only=True,
            tmpfs=tmpfs,
            cap_drop=["ALL"],
            security_opt=["no-new-privileges"],
            ipc_mode="private",
            hostname="sandbox",
            labels=owner_labels(),
            environment=self.environment,
        )
        REGISTRY.add(container)
        try:
            container.start()
        except Exception:
            self._remove(container)
            raise
        return container

    @staticmethod
    def _remove(container: Any) -> None:
        REGISTRY.discard(container)
        with contextlib.suppress(Exception):
            container.remove(force=True)

    def close(self) -> None:
        """Remove the container (idempotent)."""
        with self._lock:
            container, self._container = self._container, None
        if container is not None:
            self._remove(container)

    def __enter__(self) -> DockerSandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:  # last resort; atexit and pools normally get there first
        with contextlib.suppress(Exception):
            self.close()

    def alive(self) -> bool:
        """Whether the container exists and runs."""
        if self._container is None:
            return False
        try:
            self._container.reload()
        except Exception:
            return False
        return self._container.status == "running"

    # -- commands ----------------------------------------------------------------------------
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
        """Run a command as the sandbox user.

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
            An :class:`ExecResult`; never raises for a failing command.
        """
        self.start()
        timeout = float(self.limits.timeout if timeout is None else timeout)
        cap = int(self.limits.max_output if max_output is None else max_output)
        argv = ["bash", "-c", command] if isinstance(command, str) else list(command)
        if kill_group:
            argv = ["timeout", "-s", "KILL", f"{max(timeout, 0.1):.3f}", *argv]
        api = self.client.api
        started = time.monotonic()
        exec_id = api.exec_create(
            self._container.id,
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
            raise SandboxError(f"docker exec failed: {errors[0]}") from errors[0]
        duration = time.monotonic() - started
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

    # -- files -------------------------------------------------------------------------------
    def put_archive(self, archive: bytes, dest: str | None = None) -> None:
        """Extract a tar archive into ``dest`` (default: the work dir) as the sandbox user."""
        dest = dest or self.workdir
        result = self.exec(["tar", "-x", "--no-same-owner", "-m", "-C", dest], stdin=archive,
                           timeout=60)
        if not result.ok:
            raise SandboxError(f"copying files into {dest} failed: {result.output.strip()}")

    def put_files(self, files: Mapping[str, bytes | str], dest: str | None = None) -> None:
        """Write ``{relative path: content}`` below ``dest`` (default: the work dir)."""
        self.put_archive(make_tar(files), dest)

    def get_archive(self, path: str) -> bytes:
        """A tar archive of ``path`` (file or directory) read from the container."""
        parent, name = os.path.split(path.rstrip("/")) if path.rstrip("/") else ("/", ".")
        result = self.exec(["bash", "-c", 'tar -c -C "$1" "$2" | base64 -w0', "_",
                            parent or "/", name], timeout=60, max_output=1 << 30)
        if not result.ok:
            raise SandboxError(f"reading {path} failed: {result.output.strip()[:500]}")
        import base64

        return base64.b64decode(result.output)

    def read_file(self, path: str) -> bytes:
        """The bytes of one file in the container."""
        with tarfile.open(fileobj=io.BytesIO(self.get_archive(path))) as tar:
            member = next(m for m in tar.getmembers() if m.isfile())
            handle = tar.extractfile(member)
            assert handle is not None
            return handle.read()

    # -- reuse -------------------------------------------------------------------------------
    def reset(self, archive: bytes | None = None) -> None:
        """Make the sandbox like new: kill the user's processes, wipe the work dir and ``/tmp``
        and, when given, restore the work dir from ``archive`` (tar bytes)."""
        script = (
            "kill -9 -1 2>/dev/null; "
            f"find {self.workdir} /tmp /dev/shm -mindepth 1 -delete 2>/dev/null; "
            f"test -z \"$(ls -A {self.workdir})\""
        )
        result = self.exec(script, timeout=30, kill_group=False)
        if not result.ok:
            raise SandboxError(f"resetting the sandbox failed: {result.output.strip()[:500]}")
        if archive is not None:
            self.put_archive(archive)


class SandboxPool:
    """A warm pool of started sandboxes, reset between uses.

    Args:
        image: image of every sandbox.
        limits: limits of every sandbox.
        size: most idle sandboxes kept; more can be acquired, extra ones are removed on release.
        client: a docker client (default: :func:`docker_client`).
    """

    def __init__(
        self,
        image: str = DEFAULT_IMAGE,
        *,
        limits: SandboxLimits | None = None,
        size: int = 8,
        client: Any = None,
    ) -> None:
        self.image = image
        self.limits = limits or SandboxLimits()
        self.size = size
        self._client = client
        self._idle: list[DockerSandbox] = []
        self._lock = threading.Lock()
        self.created = 0

    def _new(self) -> DockerSandbox:
        self.created += 1
        return DockerSandbox(self.image, limits=self.limits, client=self._client).start()

    def prewarm(self, n: int) -> None:
        """Start sandboxes until ``n`` are idle (at most ``size``)."""
        while True:
            with self._lock:
                if len(self._idle) >= min(n, self.size):
                    return
            sandbox = self._new()
            with self._lock:
                self._idle.append(sandbox)

    def acquire(self) -> DockerSandbox:
        """A started, clean sandbox: an idle one when available, else a new one."""
        while True:
            with self._lock:
                sandbox = self._idle.pop() if self._idle else None
            if sandbox is None:
                return self._new()
            if sandbox.started:
                return sandbox
            sandbox.close()

    def release(self, sandbox: DockerSandbox) -> None:
        """Reset ``sandbox`` and keep it idle, or remove it (broken, or the pool is full)."""
        keep = sandbox.started
        with self._lock:
            keep = keep and len(self._idle) < self.size
        if keep:
            try:
                sandbox.reset()
            except Exception:
                keep = False
        if not keep:
            sandbox.close()
            return
        with self._lock:
            self._idle.append(sandbox)

    @property
    def idle(self) -> int:
        return len(self._idle)

    def close(self) -> None:
        """Remove every idle sandbox."""
        with self._lock:
            idle, self._idle = self._idle, []
        for sandbox in idle:
            sandbox.close()


_POOLS: dict[tuple[str, SandboxLimits], SandboxPool] = {}
_POOLS_LOCK = threading.Lock()


def shared_pool(image: str = DEFAULT_IMAGE, limits: SandboxLimits | None = None) -> SandboxPool:
    """The process-wide warm pool for ``(image, limits)``; environments share it."""
    key = (image, limits or SandboxLimits())
    with _POOLS_LOCK:
        if key not in _POOLS:
            _POOLS[key] = SandboxPool(image, limits=key[1])
        return _POOLS[key]


__all__ = [
    "DEFAULT_IMAGE",
    "DockerSandbox",
    "DockerUnavailableError",
    "ExecResult",
    "ImageMissingError",
    "SandboxError",
    "SandboxLimits",
    "SandboxPool",
    "close_shared_pools",
    "docker_client",
    "ensure_image",
    "make_tar",
    "prune_orphans",
    "shared_pool",
    "tar_directory",
]


def close_shared_pools() -> None:
    """Remove the idle sandboxes of every shared pool (in-use ones stay with their owners)."""
    with _POOLS_LOCK:
        pools = list(_POOLS.values())
    for pool in pools:
        pool.close()
