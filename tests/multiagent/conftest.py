"""Fixtures of the multi-agent tests: the docker daemon (a clear failure when it is down: these
tests never skip) and a counter of this process's sandbox containers, found by the labels
``DockerSandbox`` puts on every container it starts."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from agentgym.sandboxes.docker import DockerSandbox, DockerUnavailableError, docker_client


@pytest.fixture(scope="session")
def docker():
    try:
        return docker_client()
    except DockerUnavailableError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def sandbox_labels(docker) -> dict[str, str]:
    """The labels a sandbox of this process carries (read from a probe container)."""
    probe = DockerSandbox().start()
    try:
        labels = dict(docker.containers.get(probe.container_id).labels)
    finally:
        probe.close()
    assert labels, "DockerSandbox containers carry no labels"
    return labels


@pytest.fixture
def count_containers(docker, sandbox_labels) -> Callable[[], int]:
    """Containers (running or not) with this process's sandbox labels."""
    filters = {"label": [f"{k}={v}" for k, v in sandbox_labels.items()]}
    return lambda: len(docker.containers.list(all=True, filters=filters))
