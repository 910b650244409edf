"""``agentgym train env=miniwob model=tiny-vl``: a vision-language policy trains on MiniWoB++
screenshots in real Chromium; every trainable parameter moves, and no Chromium outlives the run.

The run is a child process with a unique tag in its environment (as in tests/gui/test_cleanup.py),
so the browser processes it started are found in /proc after it exits.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import torch

pytest.importorskip("playwright")

OVERRIDES = [
    "env=miniwob", "model=tiny-vl", "algo=gigpo", "budget.iterations=2",
    # a small but real run: a short corpus for the tokenizer, a few demonstrations and episodes
    # (GiGPO's step groups give nonzero advantages even when every action is invalid: a turn
    # repeated in the same state has another discounted return, so a short warm start is enough)
    "model.tiny.corpus_episodes=2", "budget.warmup_episodes=4", "budget.warmup_epochs=4",
    "budget.tasks_per_iteration=2", "budget.group_size=3", "budget.eval_episodes=1",
    "budget.eval_every=0", "budget.checkpoint_every=1", "budget.keep_checkpoints=0",
    "env.max_turns=2", "env.max_new_tokens=12", "algo.warmup.batch_size=8",
    "algo.warmup.lr=1e-2", "algo.optim.lr=1e-2", "hardware.micro_batch_size=8",
    "trainer.tensorboard=false", "trainer.progress=false",
]


def _tagged_browsers(tag: str) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if f"AGENTGYM_TEST_TAG={tag}".encode() not in (entry / "environ").read_bytes().split(
                    b"\0"):
                continue
            state = (entry / "stat").read_text().split(") ")[-1][:1]
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode("replace")
        except OSError:
            continue
        if state != "Z" and "chrom" in cmdline:
            found.append(cmdline)
    return found


@pytest.fixture(scope="module")
def vl_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("miniwob-vl")
    run_dir = root / "run"
    tag = uuid.uuid4().hex
    env = {**os.environ, "AGENTGYM_CACHE_DIR": str(root / "cache"), "AGENTGYM_TEST_TAG": tag}
    proc = subprocess.run(
        [sys.executable, "-m", "agentgym.cli.main", "train", *OVERRIDES,
         f"trainer.run_dir={run_dir}"],
        env=env, capture_output=True, text=True, timeout=1800,
    )
    return proc, run_dir, tag


def test_cli_run_completes_and_reports_success(vl_run):
    proc, run_dir, _ = vl_run
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "warm-start held-out success" in proc.stdout
    assert "final held-out success" in proc.stdout
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["iterations"] == 2


def test_screenshots_reached_the_model_and_every_parameter_moved(vl_run):
    from transformers import AutoModelForImageTextToText

    proc, run_dir, _ = vl_run
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in rows if r["kind"] == "train"]
    assert [r["iteration"] for r in train] == [1, 2]
    for record in train:
        assert record["adv/nonzero"] > 0 and record["update/grad_norm"] > 0
        assert record["update/first_ratio_max_dev"] == 0.0
        # the engine's log-probs (on the screenshots) match the training forward
        assert record["update/engine_logprob_diff"] < 1e-4
    first, second = sorted(run_dir.glob("checkpoint-*"))
    before = dict(AutoModelForImageTextToText.from_pretrained(str(first)).named_parameters())
    after = dict(AutoModelForImageTextToText.from_pretrained(str(second)).named_parameters())
    assert before.keys() == after.keys()
    assert any(name.startswith("model.visual.") for name in before)  # the vision tower trains
    unchanged = [n for n in before if torch.equal(before[n], after[n])]
    assert unchanged == []


def test_no_browser_outlives_the_run(vl_run):
    _, _, tag = vl_run
    deadline = time.monotonic() + 30.0  # a bounded wait for exiting processes to be reaped
    left = _tagged_browsers(tag)
    while left and time.monotonic() < deadline:
        time.sleep(0.5)
        left = _tagged_browsers(tag)
    assert left == []
