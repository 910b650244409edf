"""The OpenEnv server of ``agentgym serve``: openenv-core's routes plus limits and clean-up.

:func:`build_app` mounts openenv-core's ``HTTPEnvServer`` (``POST /reset``, ``POST /step``,
``GET /state``, ``/schema``, ``/metadata``, ``/health``, the WebSocket session at ``/ws`` and the
MCP endpoints) on a FastAPI app for one registered environment, and adds what a shared server
needs:

* one isolated environment per session and at most ``max_sessions`` of them
  (:class:`~agentgym.serve.environment.EnvSlots`; a session beyond that is refused with
  ``CAPACITY_REACHED``, an HTTP reset with 503);
* idle sessions closed after ``idle_timeout`` seconds (openenv-core's reaper);
* request bodies and WebSocket messages larger than ``max_payload_bytes`` refused (HTTP 413;
  the WebSocket is closed with code 1009);
* bad input answered with a protocol error, never a crash: malformed JSON (HTTP 422 /
  ``INVALID_JSON``), an unknown message type or session, a bad seed (400), a step outside an
  episode (409);
* every environment closed — its sandbox released — when its session ends, when the client
  disconnects (also in the middle of a step) and when the server stops.

``GET /sessions`` reports ``{"active_sessions", "max_sessions", "open_envs"}``.

:func:`serve` runs it with uvicorn in the foreground; :func:`start_in_thread` runs it in a
background thread (tests, benchmarks, notebooks).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import signal
import socket
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from openenv.core.env_server.http_server import HTTPEnvServer
from openenv.core.env_server.types import ConcurrencyConfig

from agentgym.serve.environment import (
    AgentGymAction,
    AgentGymEnvironment,
    AgentGymObservation,
    EnvSlots,
    ServeError,
    ServerInfo,
    ServeSettings,
    inspect_env,
)

logger = logging.getLogger(__name__)

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class BodyLimit:
    """ASGI middleware refusing HTTP request bodies over ``max_bytes`` with 413.

    A declared ``Content-Length`` is checked before anything is read; a chunked body is read
    (never more than ``max_bytes`` of it) before the app sees it. WebSocket messages are capped
    by uvicorn's ``ws_max_size``; a WebSocket whose client disconnects ends quietly.
    """

    def __init__(self, app: Callable[..., Awaitable[None]], max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await _quiet_disconnect(self.app, scope, receive, send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None:
            try:
                size = int(declared)
            except ValueError:
                await _json(send, 400, "Content-Length is not a number")
                return
            if size > self.max_bytes:
                await _json(send, 413, f"request body over {self.max_bytes} bytes")
                return
        body = bytearray()
        more = True
        while more:  # read the whole body first (at most max_bytes), then hand it on
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            body += message.get("body", b"")
            more = bool(message.get("more_body", False))
            if len(body) > self.max_bytes:
                await _json(send, 413, f"request body over {self.max_bytes} bytes")
                return
        replayed = False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


async def _quiet_disconnect(app: Callable[..., Awaitable[None]], scope: Scope, receive: Receive,
                            send: Send) -> None:
    """Run a WebSocket app; a client that went away is a normal end, not a server error
    (openenv-core's handler re-raises it while closing an already closed socket)."""
    from starlette.websockets import WebSocketDisconnect
    from uvicorn.protocols.utils import ClientDisconnected

    with contextlib.suppress(WebSocketDisconnect, ClientDisconnected):
        await app(scope, receive, send)


async def _json(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


@dataclass
class ServerState:
    """What :func:`build_app` made, for inspection and clean-up."""

    settings: ServeSettings
    info: ServerInfo
    slots: EnvSlots
    openenv: HTTPEnvServer

    @property
    def active_sessions(self) -> int:
        """WebSocket (and MCP) sessions open now."""
        return self.openenv.active_sessions

    async def close_sessions(self) -> None:
        """End every session and close every environment still open."""
        for session_id in list(self.openenv._sessions):
            with contextlib.suppress(Exception):
                await self.openenv._destroy_session(session_id)
        await asyncio.get_running_loop().run_in_executor(None, self.slots.close_all)


def build_app(settings: ServeSettings) -> tuple[FastAPI, ServerState]:
    """The FastAPI app serving ``settings.env_id`` over the OpenEnv protocol.

    The environment is made once here (and closed) to check the id and kwargs and to learn its
    observation space, so a bad id fails before the server listens.

    Raises:
        UnknownEnvError: the id is not registered.
        ValueError: a limit is not positive.
    """
    if settings.max_sessions < 1:
        raise ValueError(f"max_sessions must be >= 1, got {settings.max_sessions}")
    if settings.max_payload_bytes < 1024:
        raise ValueError(f"max_payload_bytes must be >= 1024, got {settings.max_payload_bytes}")
    if settings.idle_timeout is not None and settings.idle_timeout <= 0:
        raise ValueError(f"idle_timeout must be > 0 or None, got {settings.idle_timeout}")
    info = inspect_env(settings)
    slots = EnvSlots(settings.max_sessions)
    factory = functools.partial(AgentGymEnvironment, settings, slots, info)
    openenv = HTTPEnvServer(
        factory,
        AgentGymAction,
        AgentGymObservation,
        concurrency_config=ConcurrencyConfig(
            max_concurrent_envs=settings.max_sessions,
            session_timeout=settings.idle_timeout,
        ),
    )
    app = FastAPI(title=f"agentgym: {info.env_id}", docs_url=None, redoc_url=None)
    state = ServerState(settings, info, slots, openenv)
    openenv.register_routes(app)

    @app.get("/sessions", tags=["Health"], summary="Sessions and environments open now")
    async def sessions() -> dict[str, int]:
        return {
            "active_sessions": state.active_sessions,
            "max_sessions": settings.max_sessions,
            "open_envs": slots.open,
        }

    async def serve_error(request: Request, exc: Exception) -> JSONResponse:
        status = exc.status if isinstance(exc, ServeError) else 400
        return JSONResponse({"detail": str(exc)[:1000]}, status_code=status)

    for kind in (ServeError, ValueError, TypeError, KeyError):
        app.add_exception_handler(kind, serve_error)
    app.router.on_shutdown.append(state.close_sessions)
    app.add_middleware(BodyLimit, max_bytes=settings.max_payload_bytes)
    app.state.agentgym = state
    return app, state


def uvicorn_config(app: FastAPI, settings: ServeSettings, host: str, port: int,
                   log_level: str = "warning") -> Any:
    """The uvicorn config of the server: WebSocket messages capped at ``max_payload_bytes``."""
    import uvicorn

    return uvicorn.Config(
        app, host=host, port=port, log_level=log_level, lifespan="on",
        ws_max_size=settings.max_payload_bytes, timeout_graceful_shutdown=10,
    )


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: any free port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.listen(128)
    return sock


def _uvicorn_server(config: Any) -> Any:
    """A uvicorn server that, once SIGINT/SIGTERM stopped it gracefully, returns instead of
    re-raising the signal, so the process then exits normally and its exit handlers (docker
    containers, browsers) run."""
    import uvicorn
    from uvicorn.server import HANDLED_SIGNALS

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Any:
            if threading.current_thread() is not threading.main_thread():
                yield
                return
            original = {sig: signal.signal(sig, self.handle_exit) for sig in HANDLED_SIGNALS}
            try:
                yield
            finally:
                for sig, handler in original.items():
                    signal.signal(sig, handler)

    return Server(config)


def serve(settings: ServeSettings, host: str = "127.0.0.1", port: int = 8000, *,
          log_level: str = "warning", on_ready: Callable[[str], None] | None = None) -> None:
    """Serve until SIGINT/SIGTERM; every environment is closed before returning.

    Args:
        on_ready: called with the server's URL once it listens (port 0 is resolved).
    """
    app, state = build_app(settings)
    sock = bind(host, port)
    url = f"http://{host}:{sock.getsockname()[1]}"
    server = _uvicorn_server(uvicorn_config(app, settings, host, port, log_level))
    if on_ready is not None:
        app.router.on_startup.append(_call_soon(on_ready, url))
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
        state.slots.close_all()


def _call_soon(callback: Callable[[str], None], url: str) -> Callable[[], Awaitable[None]]:
    async def ready() -> None:
        callback(url)

    return ready


class ServerThread:
    """A server running in a background thread: ``url``, ``state`` and :meth:`stop`."""

    def __init__(self, settings: ServeSettings, host: str = "127.0.0.1", port: int = 0) -> None:
        import uvicorn

        self.app, self.state = build_app(settings)
        self._sock = bind(host, port)
        self.url = f"http://{host}:{self._sock.getsockname()[1]}"
        self._server = uvicorn.Server(uvicorn_config(self.app, settings, host, port))
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True,
            name="agentgym-serve",
        )

    def start(self, timeout: float = 30.0) -> ServerThread:
        """Start serving; returns once the server listens."""
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started and self._thread.is_alive():
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the server at {self.url} did not start within {timeout} s")
            time.sleep(0.02)
        if not self._server.started:
            raise RuntimeError(f"the server at {self.url} stopped while starting")
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the server; returns once every session and environment is closed."""
        self._server.should_exit = True
        self._thread.join(timeout)
        self._sock.close()
        self.state.slots.close_all()

    def __enter__(self) -> ServerThread:
        return self if self._thread.is_alive() else self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_in_thread(settings: ServeSettings, host: str = "127.0.0.1",
                    port: int = 0) -> ServerThread:
    """Start a server in a background thread and return it once it listens."""
    return ServerThread(settings, host, port).start()


__all__ = [
    "BodyLimit",
    "ServerState",
    "ServerThread",
    "build_app",
    "serve",
    "start_in_thread",
]
