"""``agentgym sandbox build|prune|status``: manage the docker sandbox image and containers.

::

    agentgym sandbox build                 # Dockerfile if Docker Hub answers, else debootstrap
    agentgym sandbox build --method debootstrap --tag agentgym/sandbox:py311
    agentgym sandbox prune                 # remove containers of dead agentgym processes
    agentgym sandbox prune --all           # remove every agentgym container

Errors (no daemon, no image, a failed build) are one line on stderr and exit code 1.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from rich.console import Console


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``sandbox`` command to an ``argparse`` sub-parser collection."""
    from agentgym.sandboxes.docker import DEFAULT_IMAGE

    parser = subparsers.add_parser("sandbox", help="build the docker sandbox image, prune orphans")
    actions = parser.add_subparsers(dest="sandbox_command", metavar="ACTION")
    build = actions.add_parser("build", help="build the sandbox base image")
    build.add_argument("--tag", default=DEFAULT_IMAGE, help=f"image name (default {DEFAULT_IMAGE})")
    build.add_argument("--method", default="auto", choices=("auto", "dockerfile", "debootstrap"))
    build.add_argument("--mirror", default=None, help="Debian mirror for debootstrap")
    build.add_argument("--force", action="store_true", help="rebuild even if the image exists")
    prune = actions.add_parser("prune", help="remove orphaned sandbox containers")
    prune.add_argument("--all", action="store_true", help="remove every agentgym container")
    actions.add_parser("status", help="daemon, image and container status")
    parser.set_defaults(func=run_sandbox)
    return parser


def run_sandbox(args: argparse.Namespace, console: Console) -> int:
    """Run ``agentgym sandbox ACTION``; returns the exit code (1 with one message on errors)."""
    from agentgym.sandboxes.docker import SandboxError

    action = getattr(args, "sandbox_command", None)
    try:
        if action == "build":
            return _build(args, console)
        if action == "prune":
            return _prune(args, console)
        if action == "status":
            return _status(args, console)
    except SandboxError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    console.print("usage: agentgym sandbox {build,prune,status}")
    return 2


def _build(args: argparse.Namespace, console: Console) -> int:
    from agentgym.sandboxes.docker.image import build_image, image_exists

    if not args.force and image_exists(args.tag):
        console.print(f"{args.tag} already exists (use --force to rebuild)", markup=False)
        return 0

    def log(message: str) -> None:
        console.print(message, markup=False, highlight=False)

    method = build_image(args.tag, method=args.method, mirror=args.mirror, log=log)
    console.print(f"built {args.tag} ({method})", markup=False)
    return 0


def _prune(args: argparse.Namespace, console: Console) -> int:
    from agentgym.sandboxes.docker.client import connect, docker_errors
    from agentgym.sandboxes.docker.lifecycle import prune_orphans

    client = connect()  # a client of its own: the shared one would prune before we count
    with docker_errors("prune sandbox containers"):
        removed = prune_orphans(client, all_containers=args.all)
    console.print(f"removed {len(removed)} container(s) {' '.join(removed)}".rstrip(),
                  markup=False)
    return 0


def _status(args: argparse.Namespace, console: Console) -> int:
    from agentgym.sandboxes.docker import DEFAULT_IMAGE, daemon_address, docker_client
    from agentgym.sandboxes.docker.client import docker_errors
    from agentgym.sandboxes.docker.image import image_exists
    from agentgym.sandboxes.docker.lifecycle import LABEL

    client = docker_client()
    with docker_errors("list sandbox containers"):
        running = client.api.containers(all=True, filters={"label": f"{LABEL}=1"})
    console.print(f"daemon: {daemon_address()} (ok)", markup=False)
    console.print(f"image {DEFAULT_IMAGE}: {'present' if image_exists() else 'missing'}",
                  markup=False)
    console.print(f"agentgym containers: {len(running)}", markup=False)
    return 0
