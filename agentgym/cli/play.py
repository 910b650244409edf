"""``agentgym play ID``: a person plays an environment in the terminal."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.panel import Panel

from agentgym.core.env import observation_text, optional_method
from agentgym.core.preflight import InfrastructureError, first_line
from agentgym.core.registration import make

QUIT_WORDS = {"quit", "exit", ":q"}


def _admissible(env: Any) -> list[str]:
    admissible = optional_method(env, "admissible_actions")
    return list(admissible()) if admissible is not None else []


def play(
    env_id: str,
    *,
    seed: int = 0,
    max_turns: int | None = None,
    console: Console | None = None,
    read_line: Callable[[str], str] = input,
) -> int:
    """Play ``env_id`` interactively: type an action, or the number of an admissible action.

    Typing ``hint`` shows the expert's action (when the environment has an expert); ``quit`` or
    end of input stops. Returns 0 when the episode ended (solved or not), 1 when stopped early.
    """
    console = console or Console()
    try:
        env = make(env_id, max_episode_steps=max_turns)
    except (TypeError, ValueError, RuntimeError, OSError) as exc:
        raise InfrastructureError(f"cannot create {env_id}: {first_line(exc)}") from exc
    try:
        try:
            obs, info = env.reset(seed=seed)
        except Exception as exc:
            raise InfrastructureError(f"cannot start {env_id}: {first_line(exc)}") from exc
        console.print(f"[bold]{env.spec.id}[/bold]  task {info.get('task_id')}")
        console.print(f"[bold]Goal:[/bold] {info.get('instruction', '')}", markup=False)
        total, turn = 0.0, 0
        while True:
            console.print(Panel(observation_text(obs), title=f"turn {turn}"), markup=False)
            actions = _admissible(env)
            if actions:
                listing = "  ".join(f"[{i}] {a}" for i, a in enumerate(actions, 1))
                console.print(f"actions: {listing}", markup=False, highlight=False)
            try:
                line = read_line("> ").strip()
            except EOFError:
                line = "quit"
            if line.lower() in QUIT_WORDS:
                console.print("stopped")
                return 1
            expert = optional_method(env, "expert_action")
            if line.lower() == "hint" and expert is not None:
                console.print(f"expert: {expert()}", markup=False)
                continue
            if line.isdigit() and actions and 1 <= int(line) <= len(actions):
                line = actions[int(line) - 1]
            obs, reward, terminated, truncated, info = env.step(line)
            turn += 1
            total += float(reward)
            parts = ", ".join(f"{k}={v:+g}" for k, v in info.get("reward_parts", {}).items())
            valid = "" if info.get("action_valid", True) else "  (invalid action)"
            console.print(
                f"reward {float(reward):+g} ({parts})  total {total:+g}{valid}",
                markup=False, highlight=False,
            )
            if terminated or truncated:
                console.print(Panel(observation_text(obs), title="final"), markup=False)
                outcome = "solved" if info.get("success") else "not solved"
                why = "terminated" if terminated else "truncated (turn limit)"
                console.print(
                    f"episode over after {turn} turns: {outcome}, {why}, total reward {total:+g}"
                )
                return 0
    finally:
        env.close()
