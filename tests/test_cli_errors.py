"""Bad input and missing infrastructure: one line on stderr, a non-zero exit, nothing played.

Each case is something a user can type (a value validated only after the model was built used to
end in a traceback; some were accepted silently). The infrastructure cases run the CLI in a child
process with the docker daemon address pointing nowhere, or an endpoint that refuses
connections.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from rich.console import Console

from agentgym.cli.main import main

TRAIN_SAFE = ["budget.iterations=0", "budget.warmup_episodes=0", "budget.eval_episodes=1"]
NO_PORT = "http://127.0.0.1:9/v1"  # discard port: nothing listens, the connection is refused


def _run(argv: list[str], capsys) -> tuple[int, str, str]:
    buffer = io.StringIO()
    code = main(argv, console=Console(file=buffer, width=120, color_system=None))
    captured = capsys.readouterr()
    return code, buffer.getvalue() + captured.out, captured.err


def _assert_one_line(code: int, err: str, expected_code: int, *needles: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: "), err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert code == expected_code, (code, err)


def _file(tmp_path: Path) -> Path:
    path = tmp_path / "not-a-dir"
    path.write_text("x")
    return path


def _corrupt_run(tmp_path: Path) -> Path:
    run = tmp_path / "run"
    checkpoint = run / "checkpoint-000001"
    checkpoint.mkdir(parents=True)
    (checkpoint / "trainer_state.pt").write_bytes(b"\x00 not a torch file")
    return run


# (argv builder, exit code, text the one line must contain)
CASES = {
    "warmup batch size 0": (lambda t: ["train", "algo.warmup.batch_size=0"], 2,
                            "algo.warmup.batch_size=0"),
    "max_new_tokens 0": (lambda t: ["train", "env.max_new_tokens=0"], 2, "env.max_new_tokens"),
    "negative lr": (lambda t: ["train", "algo.optim.lr=-1"], 2, "algo.optim.lr"),
    "cuda without a GPU": (lambda t: ["train", "hardware.device=cuda"], 2, "no CUDA device"),
    "zero turns": (lambda t: ["train", "env.max_turns=0"], 2, "env.max_turns"),
    "unknown env kwarg": (lambda t: ["train", "+env.kwargs.bogus=1"], 1, "bogus"),
    "negative env workers": (lambda t: ["train", "hardware.env_workers=-1"], 2,
                             "hardware.env_workers"),
    "run dir is a file": (lambda t: ["train", f"trainer.run_dir={_file(t)}"], 2, "is a file"),
    "run dir on /proc": (lambda t: ["train", "trainer.run_dir=/proc/agentgym-run"], 1,
                         "/proc/agentgym-run"),
    "corrupted checkpoint": (lambda t: ["train", f"trainer.run_dir={_corrupt_run(t)}",
                                        "trainer.resume=true"], 1, "unreadable"),
    "negative checkpoint cadence": (lambda t: ["train", "budget.checkpoint_every=-1"], 2,
                                    "budget.checkpoint_every"),
    "negative temperature": (lambda t: ["train", "algo.temperature=-1"], 2, "algo.temperature"),
    "negative iterations": (lambda t: ["train", "budget.iterations=-1"], 2,
                            "budget.iterations"),
    "unknown env option": (lambda t: ["train", "env=nope"], 2, "unknown env option 'nope'"),
    "unknown key": (lambda t: ["train", "budget.nokey=1"], 2, "budget.nokey"),
    "rollout unknown policy": (lambda t: ["rollout", "sokoban", "--policy", "nope"], 2,
                               "unknown policy 'nope'"),
    "rollout negative episodes": (lambda t: ["rollout", "sokoban", "--episodes", "-1"], 2,
                                  "--episodes"),
    "rollout bad action format": (lambda t: ["rollout", "sokoban", "--action-format", "yaml"],
                                  2, "yaml"),
    "rollout endpoint down": (lambda t: ["rollout", "sokoban", "--policy", "openai",
                                         "--base-url", NO_PORT, "--model", "m"], 1,
                              "not reachable"),
    "eval zero episodes": (lambda t: ["eval", "episodes=0"], 2, "episodes=0"),
    "eval negative temperature": (lambda t: ["eval", "temperature=-1"], 2, "temperature"),
    "eval unknown engine": (lambda t: ["eval", "engine=tpu"], 2, "engine"),
    "eval unknown env": (lambda t: ["eval", "env=agentgym/Nope-v0"], 2, "Nope"),
    "eval missing policy dir": (lambda t: ["eval", "policy=/nonexistent/run"], 2,
                                "/nonexistent/run"),
    "eval endpoint down": (lambda t: ["eval", "policy=openai", f"base_url={NO_PORT}",
                                      "model=m", "episodes=2"], 1, "not reachable"),
    "check zero tasks": (lambda t: ["check", "sokoban", "--tasks", "0"], 2, "--tasks"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_one_line_and_a_non_zero_exit(case, tmp_path, capsys, monkeypatch):
    build, code, needle = CASES[case]
    if case == "cuda without a GPU" and torch.cuda.is_available():
        build, needle = (lambda t: ["train", "hardware.device=tpu"]), "hardware.device"
    monkeypatch.chdir(tmp_path)  # default run and eval folders land in tmp
    argv = build(tmp_path)
    if argv[0] == "train":
        argv = [argv[0], *TRAIN_SAFE, *argv[1:]]
        if not any(a.startswith("trainer.run_dir=") for a in argv):
            argv.append(f"trainer.run_dir={tmp_path / 'run'}")
    exit_code, _, err = _run(argv, capsys)
    _assert_one_line(exit_code, err, code, needle)


def _cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "agentgym.cli.main", *args], capture_output=True,
                          text=True, timeout=300, env={**os.environ, **env}, cwd=cwd)


@pytest.mark.parametrize(
    "argv",
    [
        ["eval", "env=swe", "policy=expert", "episodes=1"],
        ["train", "env=swe", "budget.iterations=1"],
        ["rollout", "agentgym/SWE-v0", "--policy", "expert", "--episodes", "1"],
        ["play", "swe"],
    ],
    ids=["eval", "train", "rollout", "play"],
)
def test_docker_daemon_down_stops_before_playing(argv, tmp_path):
    done = _cli(*argv, env={"DOCKER_HOST": f"unix://{tmp_path}/no-docker.sock"}, cwd=tmp_path)
    _assert_one_line(done.returncode, done.stderr, 1, "docker")
    assert not (tmp_path / "evals").exists()  # nothing was played or recorded
    assert not list(tmp_path.glob("runs/*/metrics.jsonl"))


@pytest.mark.parametrize(
    "argv",
    [
        ["eval", "env=webshop_browser", "policy=expert", "episodes=1"],
        ["train", "env=webshop_browser", "budget.iterations=1"],
    ],
    ids=["eval", "train"],
)
def test_missing_chromium_stops_before_playing(argv, tmp_path):
    done = _cli(*argv, env={"AGENTGYM_CHROMIUM": str(tmp_path / "no-chromium")}, cwd=tmp_path)
    _assert_one_line(done.returncode, done.stderr, 1, "Chromium not found")
    assert not (tmp_path / "evals").exists()
    assert not list(tmp_path.glob("runs/*/metrics.jsonl"))
