"""Fixtures of the SWE tests: a docker client (failing with one clear message when the daemon is
down: these tests never skip), the sandbox image (built once if missing), and a final check that
no sandbox container of this test run is left."""

from __future__ import annotations

import os

import pytest

from agentgym.sandboxes.docker import (
    DEFAULT_IMAGE,
    DockerUnavailableError,
    close_shared_pools,
    docker_client,
)
from agentgym.sandboxes.docker.lifecycle import LABEL, LABEL_PID


def own_containers(client) -> list:
    """Sandbox containers owned by this process (running or not)."""
    return client.containers.list(
        all=True, filters={"label": [f"{LABEL}=1", f"{LABEL_PID}={os.getpid()}"]})


@pytest.fixture
def own():
    """The function listing this process's sandbox containers."""
    return own_containers


@pytest.fixture(scope="session")
def client():
    try:
        client = docker_client()
    except DockerUnavailableError as exc:
        pytest.fail(str(exc), pytrace=False)
    yield client
    close_shared_pools()
    leftovers = own_containers(client)
    for container in leftovers:
        container.remove(force=True)
    assert not leftovers, f"sandbox containers left behind: {[c.short_id for c in leftovers]}"


@pytest.fixture(scope="session")
def image(client) -> str:
    """The sandbox image, built with `agentgym sandbox build` logic if it is missing."""
    from agentgym.sandboxes.docker.image import build_image, image_exists

    if not image_exists(DEFAULT_IMAGE):
        build_image(DEFAULT_IMAGE)
    return DEFAULT_IMAGE
