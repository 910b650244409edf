"""The README's custom-environment example works as written: it registers, passes
`agentgym check`, and can be played, from a fresh process in another directory."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def custom_env_source() -> str:
    text = README.read_text(encoding="utf-8")
    match = re.search(r"<!-- custom-env-example.*?-->\s*```python\n(.*?)```", text, re.DOTALL)
    assert match, "README lost its custom-env example block"
    return match.group(1)


def agentgym_cli(*args: str, cwd: Path, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "agentgym.cli.main", *args],
        cwd=cwd, input=stdin, capture_output=True, text=True, timeout=120,
    )


def test_example_is_short():
    assert len(custom_env_source().strip().splitlines()) <= 40


def test_example_registers_checks_and_plays(tmp_path):
    (tmp_path / "guess_env.py").write_text(custom_env_source(), encoding="utf-8")
    checked = agentgym_cli("check", "guess_env:my/GuessNumber-v0", cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "conforms to the agentgym contract" in checked.stdout
    played = agentgym_cli("play", "guess_env:my/GuessNumber-v0", "--seed", "3", cwd=tmp_path,
                          stdin="five\nhint\n5\n")
    assert "not a number from 1 to 10" in played.stdout
    assert "expert: 5" in played.stdout


def test_example_expert_solves_via_rollout(tmp_path):
    (tmp_path / "guess_env.py").write_text(custom_env_source(), encoding="utf-8")
    out = agentgym_cli("rollout", "guess_env:my/GuessNumber-v0", "--policy", "expert",
                       "--episodes", "10", cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "success rate 100.0%" in out.stdout
