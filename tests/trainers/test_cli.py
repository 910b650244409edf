"""``agentgym train`` / ``eval`` / ``plot`` from the command line."""

from __future__ import annotations

import io
import json

import hydra  # noqa: F401  (a missing dependency must fail, not skip)
import pytest
from rich.console import Console

from agentgym.cli.main import main


def _run(argv: list[str]) -> tuple[int, str]:
    buffer = io.StringIO()
    console = Console(file=buffer, width=100, color_system=None)
    code = main(argv, console=console)
    return code, buffer.getvalue()


def test_cfg_job_prints_the_resolved_config():
    code, out = _run(["train", "env=sokoban", "algo=grpo", "trainer.iterations=3", "--cfg", "job"])
    assert code == 0
    assert "id: agentgym/Sokoban-v0" in out
    assert "name: grpo" in out
    assert "iterations: 3" in out


def test_help_lists_groups_and_config():
    code, out = _run(["train", "--help"])
    assert code == 0
    assert "algo" in out and "gigpo" in out and "resolved config:" in out


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("algo=nope", "unknown algo option 'nope'"),
        ("trainer.itrations=3", "unknown config key 'trainer.itrations'"),
        ("+trainer.itrations=3", "unknown config key trainer.itrations"),
        ("trainer.iterations=three", "trainer.iterations: expected an integer"),
        ("algo.params.omegaa=2", "omegaa"),
    ],
)
def test_bad_override_is_one_clear_line(override, expected, tmp_path):
    safe = ["trainer.iterations=0", "trainer.warmup_episodes=0", f"trainer.run_dir={tmp_path}"]
    code, out = _run(["train", *safe, override])
    assert code == 2
    lines = out.strip().splitlines()
    assert len(lines) == 1, out
    assert lines[0].startswith("error: ") and expected in lines[0]


def test_eval_expert_is_perfect_with_a_confidence_interval(tmp_path):
    out_file = tmp_path / "episodes.jsonl"
    code, out = _run(["eval", "env=sokoban", "policy=expert", "episodes=20", f"out={out_file}"])
    assert code == 0
    assert "success rate 100.0% (95% CI 83.9%–100.0%), n=20" in out
    lines = out_file.read_text().splitlines()
    assert len(lines) == 20 and all(json.loads(line)["success"] for line in lines)


def test_eval_pass_at_k_and_compare(tmp_path):
    code, out = _run(["eval", "env=sokoban", "policy=random", "compare=expert", "episodes=4",
                      "k=2", f"out={tmp_path / 'e.jsonl'}", "max_turns=3"])
    assert code == 0
    assert "pass@2" in out and "on the same seeds" in out
    assert (tmp_path / "e-random.jsonl").exists() and (tmp_path / "e-expert.jsonl").exists()


def test_eval_bad_option(tmp_path):
    code, out = _run(["eval", "env=sokoban", "polcy=expert"])
    assert code == 2 and out.startswith("error: unknown eval option 'polcy'")


def test_plot_writes_pngs(tmp_path):
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
    code, out = _run(["plot", str(run)])
    assert code == 0 and "success.png" in out
    for name in ("success.png", "training.png"):
        assert (run / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    code, _ = _run(["plot", str(tmp_path / "missing")])
    assert code == 2
