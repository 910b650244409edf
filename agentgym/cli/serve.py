"""``agentgym serve ENV_ID``: serve a registered environment over the OpenEnv protocol.

::

    agentgym serve agentgym/Sokoban-v0 --host 127.0.0.1 --port 8000
    agentgym serve swe --port 8001 --max-sessions 4 --idle-timeout 600
    agentgym serve webshop --port 0 --env-kwargs '{"observation_mode": "text_rich"}' --oracle

Any OpenEnv client plays it (HTTP ``/reset``, ``/step``, ``/state``; the WebSocket session at
``/ws``), and so does agentgym: ``agentgym.make("openenv+http://127.0.0.1:8000")``. The server
prints ``serving ENV_ID at URL`` once it listens and runs until Ctrl-C/SIGTERM, closing every
session's environment (and sandbox) on the way out.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from rich.console import Console

from agentgym.cli.errors import CliConfigError


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not >= 1")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a port (0-65535; 0 picks a free one)")
    return value


def _seconds(text: str) -> float | None:
    if text.lower() in ("none", "never", "0"):
        return None
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{value} is not > 0 (use 'none' to never reap)")
    return value


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``serve`` command to an ``argparse`` sub-parser collection."""
    parser = subparsers.add_parser(
        "serve", help="serve an environment over the OpenEnv protocol (HTTP + WebSocket)"
    )
    parser.add_argument("env_id", help="registered id or short name (e.g. agentgym/Sokoban-v0)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=_port, default=8000, help="port (0: any free port)")
    parser.add_argument("--max-sessions", type=_positive_int, default=8,
                        help="environments alive at once (default 8)")
    parser.add_argument("--idle-timeout", type=_seconds, default=300.0,
                        help="seconds before an idle session is closed ('none': never)")
    parser.add_argument("--max-payload", type=_positive_int, default=1 << 20,
                        help="largest request body / WebSocket message in bytes (default 1 MiB)")
    parser.add_argument("--max-turns", type=_positive_int, default=None,
                        help="turn limit per episode (default: the registered one)")
    parser.add_argument("--env-kwargs", default=None,
                        help="JSON object of constructor arguments for the environment")
    parser.add_argument("--oracle", action="store_true",
                        help="also expose admissible_actions/expert_action in the session state")
    parser.add_argument("--log-level", default="warning",
                        choices=("critical", "error", "warning", "info", "debug"))
    parser.set_defaults(func=run_serve)
    return parser


def run_serve(args: argparse.Namespace, console: Console) -> int:
    """Run ``agentgym serve``; returns the exit code once the server stopped."""
    try:
        from agentgym.serve import ServeSettings, serve
    except ImportError as exc:
        raise CliConfigError(
            f"agentgym serve needs the [serve] extra: pip install 'agentgym[serve]' ({exc})"
        ) from None
    from agentgym.core.registration import resolve_id

    env_kwargs: dict[str, Any] = {}
    if args.env_kwargs:
        try:
            env_kwargs = json.loads(args.env_kwargs)
        except ValueError as exc:
            raise CliConfigError(f"--env-kwargs is not JSON: {exc}") from None
        if not isinstance(env_kwargs, dict):
            raise CliConfigError("--env-kwargs must be a JSON object")
    env_id = resolve_id(args.env_id)
    settings = ServeSettings(
        env_id=env_id,
        env_kwargs=env_kwargs,
        max_turns=args.max_turns,
        max_sessions=args.max_sessions,
        idle_timeout=args.idle_timeout,
        max_payload_bytes=max(args.max_payload, 1024),
        oracle=args.oracle,
    )

    def ready(url: str) -> None:  # one plain line, so scripts can read the URL
        print(f"serving {env_id} at {url} (play it with agentgym.make('openenv+{url}') or any "
              f"OpenEnv client)", flush=True)

    try:
        serve(settings, args.host, args.port, log_level=args.log_level, on_ready=ready)
    except TypeError as exc:  # the environment's constructor refused --env-kwargs
        raise CliConfigError(f"cannot make {env_id} with --env-kwargs: {exc}") from None
    print(f"stopped serving {env_id}; every session's environment is closed", flush=True)
    return 0
