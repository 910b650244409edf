"""Built-in policies: random, expert (also with DART noise), scripted and an OpenAI-compatible
HTTP endpoint.

Each is a :class:`~agentgym.core.policy.Policy`: called with a batch of
:class:`~agentgym.core.policy.Request`, it returns one :class:`~agentgym.core.policy.Generation`
per request. The simple ones choose an *action* and write it as a model would in the request's
``action_format`` (:func:`~agentgym.core.wrappers.render_action`), so they also drive an
environment wrapped in :class:`~agentgym.core.wrappers.ActionParser`.

A policy that cannot answer a request returns ``Generation(text="", info={"error": msg})``;
:func:`agentgym.core.rollout.collect` then ends that episode as truncated with the error recorded
instead of stepping the environment with an empty action.

``make_policy(name, **kwargs)`` builds one by name (``random``, ``expert``, ``scripted``,
``openai``) for the CLI. Model policies are the trainer's engines
(:mod:`agentgym.trainers.engines`), built by ``make_engine`` and used through ``as_policy``.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import gymnasium as gym
import numpy as np

from agentgym.core.env import optional_method
from agentgym.core.policy import Generation, Message, Policy, Request
from agentgym.core.trajectory import stable_hash
from agentgym.core.wrappers import render_action

_MASK63 = (1 << 63) - 1


def _base_seed(seed: int | None) -> int:
    """``seed`` as an int, or fresh entropy when None."""
    return int(np.random.SeedSequence().entropy % _MASK63) if seed is None else int(seed)


def _turn_rng(seed: int, request: Request) -> np.random.Generator:
    """A generator that depends only on ``(seed, request.episode_id, request.turn)``."""
    episode = stable_hash(request.episode_id) & _MASK63
    return np.random.default_rng([seed & _MASK63, episode, int(request.turn)])


def _need_env(request: Request, policy: str) -> gym.Env:
    if request.env is None:
        raise ValueError(f"{policy} needs the live environment: request.env is None")
    return request.env


class RandomPolicy:
    """Uniform over ``env.admissible_actions()``, else a sample of ``env.action_space``.

    The choice for a request depends only on ``(seed, request.episode_id, request.turn)``, so
    a run is reproducible whatever the batch order or composition.

    Args:
        seed: base seed (None: fresh entropy).
    """

    def __init__(self, seed: int | None = None) -> None:
        self.seed = _base_seed(seed)

    def _rng(self, request: Request) -> np.random.Generator:
        return _turn_rng(self.seed, request)

    def action(self, request: Request) -> str:
        """The action chosen for ``request`` (before rendering in the action format)."""
        env = _need_env(request, "RandomPolicy")
        rng = self._rng(request)
        admissible = optional_method(env, "admissible_actions")
        actions = list(admissible()) if admissible is not None else []
        if actions:
            return str(actions[int(rng.integers(len(actions)))])
        space = env.action_space
        space.seed(int(rng.integers(_MASK63)))
        return str(space.sample())

    def __call__(self, requests: Sequence[Request]) -> list[Generation]:
        return [
            Generation(text=render_action(self.action(r), r.action_format)) for r in requests
        ]


class ExpertPolicy:
    """The environment's oracle: ``env.expert_action()``.

    Raises:
        TypeError: the environment has no ``expert_action``.
    """

    def action(self, request: Request) -> str:
        """The expert's action for ``request`` (before rendering in the action format)."""
        env = _need_env(request, "ExpertPolicy")
        expert = optional_method(env, "expert_action")
        if expert is None:
            raise TypeError(
                f"{type(env.unwrapped).__name__} has no expert_action(); "
                "ExpertPolicy needs an environment with an oracle"
            )
        return str(expert())

    def __call__(self, requests: Sequence[Request]) -> list[Generation]:
        return [
            Generation(text=render_action(self.action(r), r.action_format)) for r in requests
        ]


#: an argument that is a placeholder, e.g. WebShop's ``search[<your query>]``: a template
#: listed among the admissible actions, not an action to play as written
_PLACEHOLDER = re.compile(r"\[<[^\[\]]*>\]")


class NoisyExpertPolicy:
    """The expert, with a random admissible action instead of its own on a fraction of turns.

    DART (Laskey et al., "DART: Noise Injection for Robust Imitation Learning", CoRL 2017):
    demonstrations that leave the expert's path also show the expert finding its way back from
    the kind of state a cloned policy reaches after its own mistakes (e.g. WebShop: a product
    that lacks the goal's options). A turn is noisy with probability ``noise`` — decided by
    ``(seed, request.episode_id, request.turn)`` only, so a run is reproducible — when the
    environment lists admissible actions other than the expert's (placeholders such as
    ``search[<your query>]`` do not count); the action is then uniform over those, and the
    generation carries ``info["noise"] = True`` so behaviour cloning can leave the turn out and
    clone only the expert's actions, its recovery included.

    Args:
        noise: the probability of a random turn, in [0, 1).
        seed: base seed of the choices (None: fresh entropy).
    """

    def __init__(self, noise: float, seed: int | None = None) -> None:
        if not 0.0 <= noise < 1.0:
            raise ValueError(f"noise must be in [0, 1), got {noise}")
        self.noise = float(noise)
        self.expert = ExpertPolicy()
        self.seed = _base_seed(seed)

    def alternatives(self, request: Request, expert_action: str) -> list[str]:
        """The admissible actions a noisy turn draws from: all but the expert's and templates."""
        admissible = optional_method(_need_env(request, "NoisyExpertPolicy"), "admissible_actions")
        actions = [str(a) for a in admissible()] if admissible is not None else []
        return [a for a in actions if a != expert_action and not _PLACEHOLDER.search(a)]

    def __call__(self, requests: Sequence[Request]) -> list[Generation]:
        out = []
        for request in requests:
            action = self.expert.action(request)
            info: dict[str, Any] = {}
            rng = _turn_rng(self.seed, request)
            if rng.random() < self.noise:
                options = self.alternatives(request, action)
                if options:
                    action, info = options[int(rng.integers(len(options)))], {"noise": True}
            out.append(Generation(text=render_action(action, request.action_format), info=info))
        return out


class ScriptedPolicy:
    """Replay fixed actions, or call a function per request.

    Args:
        script: a callable ``(request) -> str`` giving the action, or a list of actions played
            in order (action ``i`` at turn ``i``). Past the end of the list the generation
            carries ``info["error"]`` and the rollout ends that episode.
        render: write the action in the request's ``action_format`` (turn off when the
            script already returns full model output).
    """

    def __init__(self, script: Callable[[Request], str] | Sequence[str], *, render: bool = True):
        if isinstance(script, str):
            raise TypeError("script must be a callable or a list of actions, not a single str")
        self.script = script if callable(script) else list(script)
        self.render = render

    def __call__(self, requests: Sequence[Request]) -> list[Generation]:
        out = []
        for request in requests:
            if callable(self.script):
                action = str(self.script(request))
            elif request.turn < len(self.script):
                action = str(self.script[request.turn])
            else:
                msg = f"script exhausted: {len(self.script)} actions, asked for turn {request.turn}"
                out.append(Generation(text="", info={"error": msg}))
                continue
            text = render_action(action, request.action_format) if self.render else action
            out.append(Generation(text=text))
        return out


# --- OpenAI-compatible endpoint -----------------------------------------------------------------
_RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
_TOKEN_ID = re.compile(r"^token_id:(-?\d+)$")


class OpenAIChatPolicy:
    """A client of an OpenAI-compatible ``/chat/completions`` endpoint (vLLM, SGLang, OpenAI …).

    Requests of a batch are sent concurrently. The reply's ``choices[0].message.content`` is the
    generation's text; ``logprobs.content[*].logprob`` its token log-probs. Token ids are filled
    when the server returns them: ``choices[0].token_ids`` (vLLM ``return_token_ids``) or
    tokens written ``token_id:N`` (vLLM ``return_tokens_as_token_ids``, sent when
    ``token_ids=True``). Transient failures (HTTP 429/5xx, connection errors, timeouts) are
    retried ``max_retries`` times with exponential backoff; a request that still fails gives
    ``Generation(text="", info={"error": …})`` — the rollout ends that episode, nothing raises.

    Args:
        base_url: the API root, e.g. ``http://127.0.0.1:8000/v1``.
        model: model name sent with each request.
        api_key: bearer token (default: ``$OPENAI_API_KEY`` if set, else none).
        temperature: sampling temperature.
        max_tokens: maximum generated tokens per request.
        timeout: seconds per HTTP attempt.
        logprobs: ask for token log-probs.
        token_ids: ask a vLLM server for token ids (``return_tokens_as_token_ids``).
        concurrency: requests in flight at once.
        max_retries: retries after the first attempt for transient failures.
        backoff: first retry delay in seconds (doubled each retry; ``Retry-After`` wins).
        extra_body: more JSON fields for every request (``top_p``, ``stop``, ``seed`` …).
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        *,
        temperature: float = 1.0,
        max_tokens: int = 512,
        timeout: float = 120.0,
        logprobs: bool = True,
        token_ids: bool = False,
        concurrency: int = 16,
        max_retries: int = 2,
        backoff: float = 0.5,
        extra_body: dict[str, Any] | None = None,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https://, got {base_url!r}")
        if concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, got {concurrency}")
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        self.temperature = float(temperature)
        self.max_tokens = int(max_tokens)
        self.timeout = float(timeout)
        self.logprobs = bool(logprobs)
        self.token_ids = bool(token_ids)
        self.concurrency = int(concurrency)
        self.max_retries = int(max_retries)
        self.backoff = float(backoff)
        self.extra_body = dict(extra_body or {})

    def __call__(self, requests: Sequence[Request]) -> list[Generation]:
        if len(requests) <= 1:
            return [self.generate(r.messages, r.tools) for r in requests]
        workers = min(self.concurrency, len(requests))
        with ThreadPoolExecutor(workers, thread_name_prefix="agentgym-openai") as pool:
            return list(pool.map(lambda r: self.generate(r.messages, r.tools), requests))

    def payload(
        self, messages: Sequence[Message], tools: Sequence[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        """The JSON body sent for one chat (``tools`` as the chat-completions ``tools`` field)."""
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [dict(m) for m in messages],
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "n": 1,
        }
        if tools:
            body["tools"] = [_as_openai_tool(t) for t in tools]
        if self.logprobs:
            body["logprobs"] = True
        if self.token_ids:
            body["return_tokens_as_token_ids"] = True
        body.update(self.extra_body)
        return body

    def generate(
        self, messages: Sequence[Message], tools: Sequence[dict[str, Any]] | None = None
    ) -> Generation:
        """One chat completion, retried on transient failures; never raises for HTTP errors."""
        data = json.dumps(self.payload(messages, tools)).encode("utf-8")
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        t0 = time.perf_counter()
        error = "no attempt made"
        for attempt in range(self.max_retries + 1):
            delay = self.backoff * (2**attempt)
            try:
                post = urllib.request.Request(self.url, data=data, headers=headers, method="POST")
                with urllib.request.urlopen(post, timeout=self.timeout) as response:
                    body = json.loads(response.read().decode("utf-8"))
                generation = _parse_completion(body)
                generation.info.update(
                    latency_s=round(time.perf_counter() - t0, 4), attempts=attempt + 1
                )
                return generation
            except urllib.error.HTTPError as exc:
                detail = _error_detail(exc)
                error = f"HTTP {exc.code} from {self.url}: {detail}"
                if exc.code not in _RETRY_STATUS:
                    break
                retry_after = exc.headers.get("Retry-After") if exc.headers else None
                if retry_after and retry_after.strip().replace(".", "", 1).isdigit():
                    delay = min(float(retry_after), 30.0)
            except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
                reason = getattr(exc, "reason", exc)
                error = f"cannot reach {self.url}: {type(reason).__name__}: {reason}"
            except (ValueError, KeyError, TypeError, IndexError) as exc:
                error = f"malformed response from {self.url}: {type(exc).__name__}: {exc}"
                break
            if attempt < self.max_retries:
                time.sleep(delay)
        return Generation(
            text="",
            info={
                "error": error,
                "attempts": attempt + 1,
                "latency_s": round(time.perf_counter() - t0, 4),
            },
        )


def _error_detail(exc: urllib.error.HTTPError) -> str:
    try:
        raw = exc.read().decode("utf-8", "replace")
    except Exception:
        return exc.reason if isinstance(exc.reason, str) else ""
    try:
        message = json.loads(raw).get("error", raw)
        if isinstance(message, dict):
            message = message.get("message", message)
        return str(message)[:500]
    except (ValueError, AttributeError):
        return raw[:500]


def _parse_completion(body: dict[str, Any]) -> Generation:
    """Build a :class:`Generation` from a chat-completions response body."""
    choice = body["choices"][0]
    text = choice["message"].get("content") or ""
    logprobs: list[float] | None = None
    token_ids: list[int] | None = None
    content = (choice.get("logprobs") or {}).get("content")
    if isinstance(content, list):
        logprobs = [float(entry["logprob"]) for entry in content]
        matches = [_TOKEN_ID.match(str(entry.get("token", ""))) for entry in content]
        if content and all(matches):
            token_ids = [int(m.group(1)) for m in matches if m]
    if isinstance(choice.get("token_ids"), list):
        token_ids = [int(t) for t in choice["token_ids"]]
    prompt_ids = body.get("prompt_token_ids") or choice.get("prompt_token_ids")
    info: dict[str, Any] = {"finish_reason": choice.get("finish_reason")}
    if isinstance(body.get("usage"), dict):
        info["usage"] = body["usage"]
    return Generation(
        text=text,
        token_ids=token_ids,
        logprobs=logprobs,
        prompt_ids=[int(t) for t in prompt_ids] if isinstance(prompt_ids, list) else None,
        info=info,
    )


def _as_openai_tool(tool: dict[str, Any]) -> dict[str, Any]:
    """A tool schema in the chat-completions shape ``{"type": "function", "function": {...}}``."""
    if tool.get("type") == "function" and "function" in tool:
        return dict(tool)
    return {"type": "function", "function": dict(tool)}


# --- registry by name -----------------------------------------------------------------------------
_POLICIES: dict[str, Callable[..., Policy]] = {
    "random": RandomPolicy,
    "expert": ExpertPolicy,
    "scripted": ScriptedPolicy,
    "openai": OpenAIChatPolicy,
}


def policy_names() -> list[str]:
    """The registered policy names."""
    return sorted(_POLICIES)


def make_policy(name: str, **kwargs: Any) -> Policy:
    """Build the policy registered as ``name`` with ``kwargs``.

    Raises:
        ValueError: unknown name (the message lists the known ones) or bad arguments.
    """
    try:
        factory = _POLICIES[name]
    except KeyError:
        raise ValueError(
            f"unknown policy {name!r}; choose one of: {', '.join(policy_names())}"
        ) from None
    try:
        return factory(**kwargs)
    except TypeError as exc:
        raise ValueError(f"bad arguments for policy {name!r}: {exc}") from exc


__all__ = [
    "ExpertPolicy",
    "NoisyExpertPolicy",
    "OpenAIChatPolicy",
    "RandomPolicy",
    "ScriptedPolicy",
    "make_policy",
    "policy_names",
]
