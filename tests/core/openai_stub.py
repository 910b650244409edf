"""A tiny OpenAI-compatible chat-completions server on 127.0.0.1 for tests.

``POST /v1/chat/completions`` answers ``reply(messages)`` (by default a deterministic function of
the last user message) with ``logprobs.content`` token entries: the text is split into tokens
(words, punctuation, whitespace runs); token ``i`` gets id :func:`token_id` and log-prob
``-0.01 * (i + 1)``. With ``return_tokens_as_token_ids`` the tokens are written ``token_id:N`` as
vLLM does; with ``return_token_ids`` the choice also carries ``token_ids``.

Failures are injected with ``stub.fail_next`` (HTTP statuses returned, in order, before normal
answers) or ``stub.always_fail`` (a status returned every time). Every request body is kept in
``stub.requests``.
"""

from __future__ import annotations

import json
import re
import threading
import zlib
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

_TOKENS = re.compile(r"\w+|[^\w\s]|\s+")


def tokenize(text: str) -> list[str]:
    """The stub's tokenization of ``text`` (concatenating the tokens gives ``text`` back)."""
    return _TOKENS.findall(text)


def token_id(token: str) -> int:
    """A deterministic id for ``token``."""
    return zlib.crc32(token.encode("utf-8")) % 50_000


def token_logprobs(text: str) -> list[float]:
    """The log-probs the stub reports for ``text``'s tokens."""
    return [-0.01 * (i + 1) for i in range(len(tokenize(text)))]


def default_reply(messages: list[dict[str, str]]) -> str:
    """``<action>W</action>`` where W is the last word of the last user message."""
    users = [m.get("content", "") for m in messages if m.get("role") == "user"]
    words = users[-1].split() if users else []
    return f"<action>{words[-1] if words else 'none'}</action>"


class OpenAIStub:
    """The server: ``start()``, use ``base_url``, ``stop()`` (or use it as a context manager)."""

    def __init__(self, reply: Callable[[list[dict[str, str]]], str] = default_reply) -> None:
        self.reply = reply
        self.requests: list[dict[str, Any]] = []
        self.fail_next: list[int] = []
        self.always_fail: int | None = None
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() the stub first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def start(self) -> OpenAIStub:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

            def do_POST(self) -> None:
                if self.path.rstrip("/") != "/v1/chat/completions":
                    self._send(404, {"error": {"message": f"no route {self.path}"}})
                    return
                length = int(self.headers.get("Content-Length", 0))
                try:
                    body = json.loads(self.rfile.read(length))
                except ValueError:
                    self._send(400, {"error": {"message": "body is not JSON"}})
                    return
                status = stub._next_failure(body)
                if status is not None:
                    self._send(status, {"error": {"message": f"injected failure {status}"}})
                    return
                self._send(200, stub.completion(body))

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> OpenAIStub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _next_failure(self, body: dict[str, Any]) -> int | None:
        with self._lock:
            self.requests.append(body)
            if self.always_fail is not None:
                return self.always_fail
            return self.fail_next.pop(0) if self.fail_next else None

    def completion(self, body: dict[str, Any]) -> dict[str, Any]:
        """The response body for request ``body``."""
        text = self.reply(body.get("messages", []))
        tokens = tokenize(text)
        as_ids = bool(body.get("return_tokens_as_token_ids"))
        choice: dict[str, Any] = {
            "index": 0,
            "message": {"role": "assistant", "content": text},
            "finish_reason": "stop",
        }
        if body.get("logprobs"):
            choice["logprobs"] = {
                "content": [
                    {
                        "token": f"token_id:{token_id(tok)}" if as_ids else tok,
                        "logprob": lp,
                        "bytes": list(tok.encode("utf-8")),
                        "top_logprobs": [],
                    }
                    for tok, lp in zip(tokens, token_logprobs(text), strict=True)
                ]
            }
        if body.get("return_token_ids"):
            choice["token_ids"] = [token_id(tok) for tok in tokens]
        return {
            "id": f"chatcmpl-{len(self.requests)}",
            "object": "chat.completion",
            "model": body.get("model", ""),
            "choices": [choice],
            "usage": {"prompt_tokens": 0, "completion_tokens": len(tokens),
                      "total_tokens": len(tokens)},
        }


@pytest.fixture
def openai_stub() -> Iterator[OpenAIStub]:
    """A started :class:`OpenAIStub`, stopped after the test."""
    with OpenAIStub() as stub:
        yield stub
