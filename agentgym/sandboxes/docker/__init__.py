"""Docker sandboxes (``[swe]`` extra): locked-down containers for untrusted commands.

Modules, one job each:

* :mod:`.client` — the daemon: shared client, :func:`check_docker` preflight, one clear
  :class:`DockerUnavailableError` on every path, :data:`DEFAULT_IMAGE`;
* :mod:`.keeper` — the container's main process: owner lease and root commands;
* :mod:`.sandbox` — :class:`DockerSandbox`: limits, the agent's commands, files, the verified wipe;
* :mod:`.pool` — :class:`SandboxPool`: standby containers prepared in the background;
* :mod:`.lifecycle` — owner labels, orphan pruning, clean-up at exit;
* :mod:`.archive` — tar archives in and out;
* :mod:`.image` — building the base image (``agentgym sandbox build``).

The docker SDK is imported lazily, so importing this package never needs docker.
"""

from agentgym.sandboxes.docker.archive import FileEntry, make_tar, tar_directory
from agentgym.sandboxes.docker.client import (
    DEFAULT_IMAGE,
    ContainerGoneError,
    DockerUnavailableError,
    ImageMissingError,
    SandboxError,
    check_docker,
    daemon_address,
    docker_client,
    ensure_image,
)
from agentgym.sandboxes.docker.keeper import AS_AGENT, KeeperResult
from agentgym.sandboxes.docker.lifecycle import prune_orphans
from agentgym.sandboxes.docker.pool import (
    PoolStats,
    SandboxPool,
    close_shared_pools,
    shared_pool,
)
from agentgym.sandboxes.docker.sandbox import (
    SANDBOX_USER,
    DockerSandbox,
    ExecResult,
    SandboxLimits,
    SandboxWipeError,
)

__all__ = [
    "AS_AGENT",
    "DEFAULT_IMAGE",
    "SANDBOX_USER",
    "ContainerGoneError",
    "DockerSandbox",
    "DockerUnavailableError",
    "ExecResult",
    "FileEntry",
    "ImageMissingError",
    "KeeperResult",
    "PoolStats",
    "SandboxError",
    "SandboxLimits",
    "SandboxPool",
    "SandboxWipeError",
    "check_docker",
    "close_shared_pools",
    "daemon_address",
    "docker_client",
    "ensure_image",
    "make_tar",
    "prune_orphans",
    "shared_pool",
    "tar_directory",
]
