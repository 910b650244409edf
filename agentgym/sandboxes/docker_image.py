"""Build the sandbox base image (``agentgym sandbox build``).

Two routes to the same image (Python 3.11, pytest, git, patch, a user ``agent`` with uid 1000):

* ``dockerfile``: ``FROM python:3.11-slim`` when a registry (Docker Hub) is reachable;
* ``debootstrap``: where no image can be pulled, a Debian bookworm root file system is made with
  ``debootstrap --variant=minbase`` from the Debian mirror and loaded with ``docker import``.

``method="auto"`` probes the registry for a couple of seconds and picks one.
"""

from __future__ import annotations

import io
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable

from agentgym.sandboxes.docker import DEFAULT_IMAGE, SandboxError, docker_client

DOCKERFILE = """\
FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends git patch procps \\
    && rm -rf /var/lib/apt/lists/* && pip install --no-cache-dir pytest \\
    && useradd -m -u 1000 -d /work -s /bin/bash agent
WORKDIR /work
"""

DEBIAN_PACKAGES = ("python3", "python3-pytest", "git", "patch", "procps")
DEFAULT_MIRROR = "http://deb.debian.org/debian"


def registry_reachable(host: str = "registry-1.docker.io", port: int = 443,
                       timeout: float = 2.0) -> bool:
    """Whether a TCP connection to the image registry opens within ``timeout`` seconds."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def apt_mirror() -> str:
    """The Debian mirror apt uses on this machine (deb822 or one-line sources), else the default."""
    candidates = ["/etc/apt/sources.list.d/debian.sources", "/etc/apt/sources.list"]
    for path in candidates:
        try:
            with open(path, encoding="utf-8") as fh:
                text = fh.read()
        except OSError:
            continue
        for line in text.splitlines():
            words = line.split()
            if words[:1] == ["URIs:"] and len(words) > 1 and "security" not in words[1]:
                return words[1]
            if words[:1] == ["deb"] and len(words) > 2:
                uri = next((w for w in words[1:] if "://" in w), "")
                if uri and "security" not in uri:
                    return uri
    return DEFAULT_MIRROR


def build_with_dockerfile(tag: str, log: Callable[[str], None] = print) -> None:
    """Build ``tag`` from :data:`DOCKERFILE` (needs a reachable registry)."""
    client = docker_client()
    log(f"building {tag} from a Dockerfile (FROM python:3.11-slim)")
    client.images.build(fileobj=io.BytesIO(DOCKERFILE.encode()), tag=tag, rm=True, pull=True)


def build_with_debootstrap(tag: str, *, mirror: str | None = None,
                           log: Callable[[str], None] = print) -> None:
    """Build ``tag`` from Debian packages: debootstrap a bookworm rootfs, then ``docker import``.

    Needs root and the ``debootstrap`` program (``apt-get install debootstrap``).
    """
    if shutil.which("debootstrap") is None:
        raise SandboxError("debootstrap is not installed: apt-get install debootstrap")
    if os.geteuid() != 0:
        raise SandboxError("building the image with debootstrap needs root")
    client = docker_client()
    mirror = mirror or apt_mirror()
    with tempfile.TemporaryDirectory(prefix="agentgym-rootfs-") as tmp:
        rootfs = os.path.join(tmp, "rootfs")
        log(f"debootstrap bookworm from {mirror} (about a minute)")
        cmd = ["debootstrap", "--variant=minbase", f"--include={','.join(DEBIAN_PACKAGES)}",
               "bookworm", rootfs, mirror]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            raise SandboxError(f"debootstrap failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
        with open(os.path.join(rootfs, "etc/passwd"), "a", encoding="utf-8") as fh:
            fh.write("agent:x:1000:1000:agentgym sandbox:/work:/bin/bash\n")
        with open(os.path.join(rootfs, "etc/group"), "a", encoding="utf-8") as fh:
            fh.write("agent:x:1000:\n")
        for junk in ("var/cache/apt/archives", "var/lib/apt/lists"):
            shutil.rmtree(os.path.join(rootfs, junk), ignore_errors=True)
        archive = os.path.join(tmp, "rootfs.tar")
        subprocess.run(["tar", "-C", rootfs, "-cf", archive, "."], check=True)
        log(f"docker import -> {tag}")
        repository, _, version = tag.partition(":")
        client.api.import_image_from_file(archive, repository=repository, tag=version or "latest",
                                          changes=["WORKDIR /work"])


def build_image(tag: str = DEFAULT_IMAGE, *, method: str = "auto", mirror: str | None = None,
                log: Callable[[str], None] = print) -> str:
    """Build the sandbox image; returns the method used (``dockerfile`` or ``debootstrap``).

    Args:
        tag: image name.
        method: ``auto`` (probe the registry), ``dockerfile`` or ``debootstrap``.
        mirror: Debian mirror for debootstrap (default: apt's configured mirror).
        log: progress printer.
    """
    if method not in ("auto", "dockerfile", "debootstrap"):
        raise ValueError(f"unknown build method {method!r}: auto, dockerfile or debootstrap")
    if method == "auto":
        method = "dockerfile" if registry_reachable() else "debootstrap"
        log(f"registry {'reachable' if method == 'dockerfile' else 'not reachable'}: {method}")
    if method == "dockerfile":
        build_with_dockerfile(tag, log)
    else:
        build_with_debootstrap(tag, mirror=mirror, log=log)
    return method


def image_exists(tag: str = DEFAULT_IMAGE) -> bool:
    """Whether ``tag`` exists in the local docker daemon."""
    import docker.errors

    try:
        docker_client().images.get(tag)
    except docker.errors.ImageNotFound:
        return False
    return True
