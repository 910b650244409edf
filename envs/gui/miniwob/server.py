"""A static HTTP server for the MiniWoB++ pages on 127.0.0.1, shared by every env of a process.

The pages are plain files (HTML, jQuery, d3); the server is the standard library's, speaking
HTTP/1.1 with keep-alive and a cache lifetime so that reloading a task page between episodes reads
its scripts from the browser's cache. It listens on loopback only, on a free port, in a daemon
thread; the last env to release it stops it (and it stops at interpreter exit).
"""

from __future__ import annotations

import functools
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from agentgym.core.resources import SharedResources


class _QuietHandler(SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "public, max-age=86400")
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # requests are not news
        return


class StaticServer:
    """Serve the folder ``root`` on ``http://127.0.0.1:PORT/``."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        handler = functools.partial(_QuietHandler, directory=str(self.root))
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="agentgym-miniwob-http", daemon=True
        )
        self._thread.start()

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/"

    def stop(self) -> None:
        """Stop serving and close the socket (idempotent)."""
        if self._thread.is_alive():
            self._httpd.shutdown()
            self._thread.join(timeout=10)
        self._httpd.server_close()


_SERVERS: SharedResources[StaticServer] = SharedResources(close=lambda server: server.stop())


def acquire_server(root: str | Path) -> StaticServer:
    """The shared server of ``root`` (started on first use); pair with :func:`release_server`."""
    key = str(Path(root).resolve())
    return _SERVERS.acquire(key, lambda: StaticServer(key))


def release_server(root: str | Path) -> None:
    """Drop one reference to ``root``'s server; the last one stops it."""
    _SERVERS.release(str(Path(root).resolve()))
