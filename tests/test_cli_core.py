"""The agentgym command line: envs, check, play, rollout, reserved commands, error lines."""

from __future__ import annotations

import io
import json

from rich.console import Console

from agentgym.cli.main import main
from agentgym.cli.play import play


def run_cli(*argv: str) -> tuple[int, str]:
    buffer = io.StringIO()
    console = Console(file=buffer, width=200, force_terminal=False, color_system=None)
    code = main(list(argv), console=console)
    return code, buffer.getvalue()


def test_envs_lists_builtin_ids():
    code, out = run_cli("envs")
    assert code == 0
    for env_id in ("agentgym/Sokoban-v0", "agentgym/Taxi-v0", "agentgym/TextWorld-v0"):
        assert env_id in out
    code, out = run_cli("envs", "--family", "web")
    assert "Sokoban" not in out


def test_unknown_env_is_one_clear_line_on_stderr(capsys):
    code, out = run_cli("check", "agentgym/Sokobn-v0")
    err = capsys.readouterr().err
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1
    assert err.startswith("error: no environment registered as 'agentgym/Sokobn-v0'")
    assert "agentgym/Sokoban-v0" in err


def test_check_problems_are_plain_text_not_markup(monkeypatch):
    """A problem is printed as plain text after a red cross, never as literal markup."""
    from agentgym.core.checker import CheckReport

    report = CheckReport(env_id="agentgym/Sokoban-v0", problems=["bad [thing] here"])
    monkeypatch.setattr("agentgym.core.checker.check_env", lambda *args, **kwargs: report)
    code, out = run_cli("check", "sokoban")
    assert code == 1
    assert "✗ bad [thing] here" in out and "[red]" not in out


def test_check_sokoban():
    code, out = run_cli("check", "agentgym/Sokoban-v0", "--tasks", "3")
    assert code == 0, out
    assert "conforms" in out and "expert solved 3/3" in out


def test_rollout_expert_sokoban_writes_jsonl(tmp_path):
    out_file = tmp_path / "eps.jsonl"
    code, out = run_cli("rollout", "sokoban", "--policy", "expert", "--episodes", "8",
                        "--out", str(out_file))
    assert code == 0, out
    assert "success rate 100.0%" in out
    lines = out_file.read_text().splitlines()
    assert len(lines) == 8 and all(json.loads(line)["success"] for line in lines)


def test_rollout_random_reports_success_rate():
    code, out = run_cli("rollout", "agentgym/FrozenLake-v0", "--policy", "random",
                        "--episodes", "8", "--group-size", "2")
    assert code == 0 and "16 episodes" in out and "success rate" in out


def test_play_scripted_session_solves_with_hints():
    buffer = io.StringIO()
    console = Console(file=buffer, width=120, color_system=None)
    from agentgym import make

    env = make("agentgym/Sokoban-v0")
    env.reset(seed=0)
    moves = []
    while True:
        action = env.unwrapped.expert_action()
        moves.append(action)
        if env.step(action)[2]:
            break
    lines = iter(["hint", "garbage!!", *moves])
    code = play("sokoban", seed=0, console=console, read_line=lambda prompt: next(lines))
    text = buffer.getvalue()
    assert code == 0, text
    assert "expert:" in text and "(invalid action)" in text and "solved" in text


def test_play_stops_on_end_of_input():
    buffer = io.StringIO()

    def eof(prompt):
        raise EOFError

    code = play("taxi", seed=1, console=Console(file=buffer, color_system=None), read_line=eof)
    assert code == 1 and "stopped" in buffer.getvalue()
