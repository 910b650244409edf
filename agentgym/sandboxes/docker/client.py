"""The docker daemon: one shared client, a cheap preflight, and one clear error when it is down.

Every docker call of the sandbox package goes through :func:`docker_errors`, so a daemon that is
missing, stopped or dies mid-run surfaces as :class:`DockerUnavailableError` with one line that
says what to do — never as a raw ``requests``/``urllib3``/``docker.errors`` exception.

The docker SDK is imported lazily: importing this module never needs docker.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from typing import Any

#: The sandbox image ``agentgym sandbox build`` creates (the one definition of it).
DEFAULT_IMAGE = "agentgym/sandbox:py311"
DEFAULT_SOCKET = "unix:///var/run/docker.sock"


class SandboxError(RuntimeError):
    """Base class of sandbox errors (a command of the environment itself failed)."""


class DockerUnavailableError(SandboxError):
    """The docker SDK is missing or the daemon cannot be reached."""


class ImageMissingError(SandboxError):
    """The sandbox image has not been built."""


class ContainerGoneError(SandboxError):
    """Docker answered "not found" (typically: the sandbox's container no longer exists)."""


def daemon_address() -> str:
    """The docker daemon address the SDK will use (``DOCKER_HOST`` or the default socket)."""
    return os.environ.get("DOCKER_HOST", DEFAULT_SOCKET)


def _unreachable(detail: str) -> DockerUnavailableError:
    return DockerUnavailableError(
        f"docker daemon not reachable at {daemon_address()}: start it with `dockerd &` or "
        f"`sudo systemctl start docker` ({detail})"
    )


def _sdk() -> Any:
    try:
        import docker
    except ImportError as exc:
        raise DockerUnavailableError(
            "the docker SDK is not installed: pip install 'agentgym[swe]'"
        ) from exc
    return docker


def _is_connection_error(exc: BaseException) -> bool:
    """Whether ``exc`` (or its cause chain) says the daemon could not be talked to."""
    import requests

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, requests.exceptions.ConnectionError | ConnectionError):
            return True
        if isinstance(current, FileNotFoundError) and "sock" in str(current):
            return True
        current = current.__cause__ or current.__context__
    text = str(exc)
    return "Connection aborted" in text or "Error while fetching server API version" in text


def translate(exc: BaseException, action: str) -> SandboxError:
    """The sandbox error that stands for a docker SDK exception raised while doing ``action``."""
    if isinstance(exc, SandboxError):
        return exc
    docker = _sdk()
    if _is_connection_error(exc):
        return _unreachable(f"{type(exc).__name__} while trying to {action}")
    if isinstance(exc, docker.errors.NotFound):
        return ContainerGoneError(f"cannot {action}: not found ({_explain(exc)})")
    if isinstance(exc, docker.errors.APIError):
        return SandboxError(f"docker refused to {action}: {_explain(exc)}")
    return SandboxError(f"cannot {action}: {type(exc).__name__}: {exc}")


def _explain(exc: Any) -> str:
    text = getattr(exc, "explanation", None) or str(exc)
    return " ".join(str(text).split())[:300]


@contextlib.contextmanager
def docker_errors(action: str) -> Iterator[None]:
    """Turn any docker SDK/transport exception inside the block into a :class:`SandboxError`
    (a :class:`DockerUnavailableError` when the daemon cannot be reached)."""
    try:
        yield
    except SandboxError:
        raise
    except Exception as exc:
        raise translate(exc, action) from exc


def connect(timeout: float = 120.0) -> Any:
    """A new, pinged ``docker.DockerClient`` (no orphan pruning).

    Raises:
        DockerUnavailableError: the SDK is missing or the daemon is down (one clear line).
    """
    docker = _sdk()
    try:
        client = docker.from_env(timeout=int(timeout))
        client.ping()
    except Exception as exc:
        raise _unreachable(type(exc).__name__) from None
    return client


_CLIENT: Any = None
_CLIENT_LOCK = threading.Lock()
#: Short ids of the orphans the shared client removed when it connected.
PRUNED_AT_START: list[str] = []


def docker_client() -> Any:
    """The process's shared, connected docker client.

    The first successful call also removes orphaned sandbox containers of dead processes (the
    second line of defence behind each container's owner lease, see :mod:`.lifecycle`).

    Raises:
        DockerUnavailableError: one clear message when the SDK is missing or the daemon is down.
    """
    global _CLIENT
    with _CLIENT_LOCK:
        if _CLIENT is None:
            from agentgym.sandboxes.docker.lifecycle import prune_orphans

            client = connect()
            with docker_errors("prune orphaned sandbox containers"):
                PRUNED_AT_START.extend(prune_orphans(client))
            _CLIENT = client
        return _CLIENT


def ensure_image(client: Any, image: str) -> None:
    """Raise :class:`ImageMissingError` (saying how to build it) when ``image`` is absent."""
    docker = _sdk()
    try:
        with docker_errors(f"look up image {image}"):
            client.images.get(image)
    except SandboxError as exc:
        if isinstance(exc.__cause__, docker.errors.ImageNotFound):
            raise ImageMissingError(
                f"docker image {image!r} not found: build it with `agentgym sandbox build`"
                + ("" if image == DEFAULT_IMAGE else f" --tag {image}")
            ) from None
        raise


def check_docker(image: str | None = DEFAULT_IMAGE) -> None:
    """Preflight before playing: the SDK imports, the daemon answers, ``image`` exists.

    Cheap (a ping and an image lookup, no container). Pass ``image=None`` to check the daemon
    only.

    Raises:
        DockerUnavailableError: the SDK is missing or the daemon is down.
        ImageMissingError: ``image`` has not been built.
    """
    client = docker_client()
    with docker_errors("ping the docker daemon"):
        client.ping()
    if image is not None:
        ensure_image(client, image)
