"""Build the sandbox base image (``agentgym sandbox build``).

Two routes to the same image (Python 3.11, pytest, git, patch, procps, util-linux, a user
``agent`` with uid 1000):

* ``dockerfile``: ``FROM python:3.11-slim``, when the docker daemon can pull that base image
  (through whatever registry mirror or proxy the daemon is configured with);
* ``debootstrap``: where no image can be pulled, a Debian bookworm root file system is made with
  ``debootstrap --variant=minbase`` and loaded with ``docker import``. The Debian mirror is the
  one this machine's apt uses (:func:`apt_mirror`), or ``AGENTGYM_DEBIAN_MIRROR``, or
  ``--mirror``; no mirror host is written in the code.

``method="auto"`` uses the Dockerfile when the base image is present or can be pulled.
"""

from __future__ import annotations

import glob
import io
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator

from agentgym.sandboxes.docker.client import (
    DEFAULT_IMAGE,
    SandboxError,
    docker_client,
    docker_errors,
)

BASE_IMAGE = "python:3.11-slim"
DOCKERFILE = f"""\
FROM {BASE_IMAGE}
RUN apt-get update && apt-get install -y --no-install-recommends git patch procps \\
    && rm -rf /var/lib/apt/lists/* && pip install --no-cache-dir pytest \\
    && useradd -m -u 1000 -d /work -s /bin/bash agent
WORKDIR /work
"""

DEBIAN_PACKAGES = ("python3", "python3-pytest", "git", "patch", "procps")
SUITE = "bookworm"
MIRROR_VARIABLE = "AGENTGYM_DEBIAN_MIRROR"
#: Suites that name a Debian release (a source with such a suite is a Debian mirror).
_DEBIAN_SUITE = re.compile(
    r"^(buster|bullseye|bookworm|trixie|forky|duke|sid|oldoldstable|oldstable|stable|testing|"
    r"unstable)(-updates|-backports|-proposed-updates)?$")


def _one_line_sources(text: str) -> Iterator[tuple[str, list[str]]]:
    """``(uri, suites)`` of the ``deb`` lines of a one-line-style sources file."""
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        line = re.sub(r"\[[^\]]*\]", " ", line)  # options: [arch=amd64 signed-by=...]
        words = line.split()
        if len(words) >= 3 and words[0] == "deb":
            yield words[1], [words[2]]


def _deb822_sources(text: str) -> Iterator[tuple[str, list[str]]]:
    """``(uri, suites)`` of the enabled ``deb`` stanzas of a deb822 ``.sources`` file."""
    for stanza in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        key = ""
        for line in stanza.splitlines():
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            if line[:1].isspace() and key:  # continuation line
                fields[key] += " " + line.strip()
                continue
            key, _, value = line.partition(":")
            key = key.strip().lower()
            fields[key] = value.strip()
        if "deb" not in fields.get("types", "").split():
            continue
        if fields.get("enabled", "yes").lower() in ("no", "false", "0"):
            continue
        suites = fields.get("suites", "").split()
        for uri in fields.get("uris", "").split():
            yield uri, suites


def apt_mirror(apt_dir: str | os.PathLike[str] = "/etc/apt") -> str | None:
    """The Debian mirror this machine's apt uses, or None.

    Reads ``sources.list``, ``sources.list.d/*.list`` (one-line format) and
    ``sources.list.d/*.sources`` (deb822) under ``apt_dir``, and returns the first ``deb`` URI
    whose suite is a Debian release that is not a security suite (``bookworm``,
    ``bookworm-updates``, ``stable``…): a proxy or local mirror is kept as configured.
    """
    root = os.fspath(apt_dir)
    paths = [os.path.join(root, "sources.list")]
    paths += sorted(glob.glob(os.path.join(root, "sources.list.d", "*.list")))
    paths += sorted(glob.glob(os.path.join(root, "sources.list.d", "*.sources")))
    for path in paths:
        try:
            with open(path, encoding="utf-8", errors="replace") as fh:
                text = fh.read()
        except OSError:
            continue
        parse = _deb822_sources if path.endswith(".sources") else _one_line_sources
        for uri, suites in parse(text):
            if "://" in uri and any(_DEBIAN_SUITE.match(s) for s in suites):
                return uri.rstrip("/")
    return None


def debian_mirror(explicit: str | None = None, apt_dir: str | os.PathLike[str] = "/etc/apt"
                  ) -> str:
    """The mirror debootstrap uses: ``explicit``, else ``$AGENTGYM_DEBIAN_MIRROR``, else apt's.

    Raises:
        SandboxError: none is configured (says how to set one).
    """
    mirror = explicit or os.environ.get(MIRROR_VARIABLE) or apt_mirror(apt_dir)
    if not mirror:
        raise SandboxError(
            f"no Debian mirror found in {os.fspath(apt_dir)}/sources.list*: set "
            f"{MIRROR_VARIABLE}=<mirror URL> or pass --mirror")
    return mirror


def base_image_available(log: Callable[[str], None] = print) -> bool:
    """Whether the daemon has or can pull :data:`BASE_IMAGE` (it uses its own mirrors)."""
    client = docker_client()
    try:
        with docker_errors(f"look up {BASE_IMAGE}"):
            client.images.get(BASE_IMAGE)
        return True
    except SandboxError:
        pass
    try:
        with docker_errors(f"pull {BASE_IMAGE}"):
            client.images.pull(BASE_IMAGE)
        return True
    except SandboxError as exc:
        log(f"cannot pull {BASE_IMAGE}: {exc}")
        return False


def build_with_dockerfile(tag: str, log: Callable[[str], None] = print) -> None:
    """Build ``tag`` from :data:`DOCKERFILE` (needs the base image)."""
    client = docker_client()
    log(f"building {tag} from a Dockerfile (FROM {BASE_IMAGE})")
    with docker_errors(f"build {tag}"):
        client.images.build(fileobj=io.BytesIO(DOCKERFILE.encode()), tag=tag, rm=True)


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
    mirror = debian_mirror(mirror)
    with tempfile.TemporaryDirectory(prefix="agentgym-rootfs-") as tmp:
        rootfs = os.path.join(tmp, "rootfs")
        log(f"debootstrap {SUITE} from {mirror} (about a minute)")
        cmd = ["debootstrap", "--variant=minbase", f"--include={','.join(DEBIAN_PACKAGES)}",
               SUITE, rootfs, mirror]
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
        with docker_errors(f"import {tag}"):
            client.api.import_image_from_file(archive, repository=repository,
                                              tag=version or "latest", changes=["WORKDIR /work"])


def build_image(tag: str = DEFAULT_IMAGE, *, method: str = "auto", mirror: str | None = None,
                log: Callable[[str], None] = print) -> str:
    """Build the sandbox image; returns the method used (``dockerfile`` or ``debootstrap``).

    Args:
        tag: image name.
        method: ``auto`` (Dockerfile if the base image can be had), ``dockerfile`` or
            ``debootstrap``.
        mirror: Debian mirror for debootstrap (default: see :func:`debian_mirror`).
        log: progress printer.
    """
    if method not in ("auto", "dockerfile", "debootstrap"):
        raise ValueError(f"unknown build method {method!r}: auto, dockerfile or debootstrap")
    if method == "auto":
        method = "dockerfile" if base_image_available(log) else "debootstrap"
        log(f"build method: {method}")
    if method == "dockerfile":
        build_with_dockerfile(tag, log)
    else:
        build_with_debootstrap(tag, mirror=mirror, log=log)
    return method


def image_exists(tag: str = DEFAULT_IMAGE) -> bool:
    """Whether ``tag`` exists in the local docker daemon."""
    client = docker_client()
    try:
        with docker_errors(f"look up image {tag}"):
            client.images.get(tag)
    except SandboxError as exc:
        import docker.errors

        if isinstance(exc.__cause__, docker.errors.ImageNotFound):
            return False
        raise
    return True
