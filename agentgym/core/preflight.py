"""Check the infrastructure a run needs before the first episode, and say clearly what is wrong.

A run whose docker daemon is down, whose browser is missing or whose model endpoint refuses
connections must stop before it plays — not record every episode as an error and report a
"success rate" of 0%. The checks are cheap and generic:

* :func:`probe_env` makes the environment and resets it once (this starts its sandbox, server or
  browser), then closes it;
* :func:`probe_endpoint` opens an HTTP connection to an OpenAI-compatible endpoint;
* :func:`failed_episodes_error` turns "every episode ended on an error" into one message.
"""

from __future__ import annotations

import contextlib
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from typing import Any

from agentgym.core.trajectory import Episode


class InfrastructureError(RuntimeError):
    """Something a run needs (a daemon, a browser, an endpoint, the environment) is unusable."""


def first_line(exc: BaseException) -> str:
    """The first non-empty line of an exception's message, prefixed by its type when bare."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def probe_env(
    env_id: str, *, env_kwargs: Mapping[str, Any] | None = None, seed: int = 0
) -> None:
    """Make ``env_id`` with ``env_kwargs``, reset it with ``seed`` and close it.

    Raises:
        InfrastructureError: one line naming the environment and what failed (an unknown
            keyword argument, a daemon that is down, a browser that is missing …).
        UnknownEnvError: ``env_id`` is not registered (the message lists close matches).
    """
    from agentgym.core.registration import UnknownEnvError, make

    try:
        env = make(env_id, **dict(env_kwargs or {}))
    except UnknownEnvError:
        raise
    except Exception as exc:
        raise InfrastructureError(f"cannot create {env_id}: {first_line(exc)}") from exc
    try:
        env.reset(seed=seed)
    except Exception as exc:
        raise InfrastructureError(f"cannot start {env_id}: {first_line(exc)}") from exc
    finally:
        with contextlib.suppress(Exception):  # closing must not hide the cause
            env.close()


def probe_endpoint(base_url: str, *, timeout: float = 5.0) -> None:
    """Check that an OpenAI-compatible server answers at ``base_url`` (``GET …/models``).

    Any HTTP answer (even 401 or 404) proves the server is there; only a failed connection is
    an error.

    Raises:
        InfrastructureError: the connection was refused, timed out or the URL is malformed.
    """
    url = base_url.rstrip("/") + "/models"
    try:
        with urllib.request.urlopen(url, timeout=timeout):
            return
    except urllib.error.HTTPError:
        return
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise InfrastructureError(
            f"the endpoint {base_url} is not reachable ({first_line(reason)}); start the server "
            "or fix base_url"
        ) from exc


def failed_episodes_error(episodes: Sequence[Episode]) -> str | None:
    """A one-line message when *every* episode ended on an error (None otherwise)."""
    if not episodes or not all("error" in e.info for e in episodes):
        return None
    error = episodes[0].info["error"]
    message = error.get("message", error) if isinstance(error, dict) else error
    return (f"all {len(episodes)} episodes ended on an error; the first: "
            f"{first_line(Exception(str(message)))}")
