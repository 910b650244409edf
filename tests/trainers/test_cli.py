"""``agentgym train`` / ``eval`` / ``plot`` from the command line."""

from __future__ import annotations

import io
import json

import hydra  # noqa: F401  (a missing dependency must fail, not skip)
import pytest
from rich.console import Console

from agentgym.cli.main import main


def _run(argv: list[str], capsys) -> tuple[int, str, str]:
    """``(exit code, stdout, stderr)`` of ``agentgym ARGV`` run in this process."""
    buffer = io.StringIO()
    console = Console(file=buffer, width=100, color_system=None)
    code = main(argv, console=console)
    captured = capsys.readouterr()
    return code, buffer.getvalue() + captured.out, captured.err


def test_cfg_job_prints_the_resolved_config(capsys):
    code, out, err = _run(["train", "env=sokoban", "algo=grpo", "budget.iterations=3",
                           "--cfg", "job"], capsys)
    assert code == 0, err
    assert "id: agentgym/Sokoban-v0" in out
    assert "name: grpo" in out
    assert "iterations: 3" in out
    assert err == ""


def test_old_names_work_with_one_deprecation_line_each(capsys):
    code, out, err = _run(["train", "trainer=gpu", "trainer.iterations=3",
                           "trainer.engine.backend=vllm", "model.path=/x", "--cfg", "job"],
                          capsys)
    assert code == 0, err
    notices = err.strip().splitlines()
    assert notices == [
        "deprecated: `trainer=gpu` is deprecated; use `hardware=gpu`",
        "deprecated: `trainer.iterations` is deprecated; use `budget.iterations`",
        "deprecated: `trainer.engine.backend` is deprecated; use `hardware.engine`",
    ]
    assert "device: cuda" in out and "iterations: 3" in out and "engine: vllm" in out


def test_help_lists_groups_and_config(capsys):
    code, out, _ = _run(["train", "--help"], capsys)
    assert code == 0
    assert "algo" in out and "gigpo" in out and "hardware" in out and "resolved config:" in out
    assert "_ppo" not in out  # shared bases are not options


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("algo=nope", "unknown algo option 'nope'"),
        ("budget.itrations=3", "unknown config key 'budget.itrations'"),
        ("+budget.itrations=3", "unknown config key budget.itrations"),
        ("budget.iterations=three", "budget.iterations: expected an integer"),
        ("algo.params.omegaa=2", "omegaa"),
    ],
)
def test_bad_override_is_one_clear_line(override, expected, tmp_path, capsys):
    safe = ["budget.iterations=0", "budget.warmup_episodes=0", f"trainer.run_dir={tmp_path}"]
    code, _, err = _run(["train", *safe, override], capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and expected in lines[0]


def test_eval_expert_is_perfect_with_a_confidence_interval(tmp_path, capsys):
    out_file = tmp_path / "episodes.jsonl"
    code, out, err = _run(["eval", "env=sokoban", "policy=expert", "episodes=20",
                           f"out={out_file}"], capsys)
    assert code == 0, err
    assert "success rate 100.0% (95% CI 83.9%–100.0%), n=20" in out
    lines = out_file.read_text().splitlines()
    assert len(lines) == 20 and all(json.loads(line)["success"] for line in lines)


@pytest.mark.parametrize("env", ["bfcl", "searchqa", "webshop"])
def test_eval_plays_the_test_split_and_the_expert_solves_it(env, tmp_path, capsys):
    """Held-out evaluation of a fixed task set plays its test split (the env group's
    eval_kwargs), where the expert is perfect: every episode's task is a test task."""
    out_file = tmp_path / "episodes.jsonl"
    code, out, err = _run(["eval", f"env={env}", "policy=expert", "episodes=24",
                           f"out={out_file}"], capsys)
    assert code == 0, err
    assert "success rate 100.0%" in out and "n=24" in out
    episodes = [json.loads(line) for line in out_file.read_text().splitlines()]
    if env == "webshop":  # WebShop's test goals are the first 500
        assert all(e["info"]["goal_index"] < 500 for e in episodes)
    else:
        assert {e["info"]["split"] for e in episodes} == {"test"}


def test_eval_pass_at_k_and_compare(tmp_path, capsys):
    code, out, err = _run(["eval", "env=sokoban", "policy=random", "compare=expert",
                           "episodes=4", "k=2", f"out={tmp_path / 'e.jsonl'}", "max_turns=3"],
                          capsys)
    assert code == 0, err
    assert "pass@2" in out and "on the same seeds" in out
    assert (tmp_path / "e-random.jsonl").exists() and (tmp_path / "e-expert.jsonl").exists()


def test_eval_bad_option(capsys):
    code, _, err = _run(["eval", "env=sokoban", "polcy=expert"], capsys)
    assert code == 2 and err.startswith("error: unknown config key polcy")


def test_plot_writes_pngs(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    records = [
        {"kind": "eval", "iteration": 0, "success_rate": 0.1, "success_ci_low": 0.0,
         "success_ci_high": 0.3},
        {"kind": "train", "iteration": 1, "rollout/success_rate": 0.2, "update/pg_loss": 0.1,
         "update/kl": 0.0, "update/entropy": 1.0, "update/grad_norm": 0.5, "adv/std": 1.0,
         "rollout/mean_turns": 5.0},
        {"kind": "eval", "iteration": 1, "success_rate": 0.3, "success_ci_low": 0.1,
         "success_ci_high": 0.5},
    ]
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    code, out, _ = _run(["plot", str(run)], capsys)
    assert code == 0 and "success.png" in out
    for name in ("success.png", "training.png"):
        assert (run / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    code, _, _ = _run(["plot", str(tmp_path / "missing")], capsys)
    assert code == 2
