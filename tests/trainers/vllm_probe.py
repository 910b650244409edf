"""Checks of the vLLM engine, run in a child process by ``test_engine_vllm.py``.

vLLM starts an engine process of its own and changes process-wide settings when imported, so
the checks run here, under a ``__main__`` guard, and print JSON lines of measurements that the
tests assert on. Usage::

    python vllm_probe.py MODEL_DIR CONFIG_JSON WORK_DIR

It runs, one after another in this one process (vLLM's import and start-up cost tens of seconds
each time, so one process serves all the checks):

1. the engine checks on ``MODEL_DIR``: log-probs vs teacher forcing, seeds, weight sync;
2. agentgym's recipe with ``hardware.engine=vllm`` (``CONFIG_JSON``), writing a run directory;
3. ``agentgym eval ... engine=vllm`` on that run's newest checkpoint, through the CLI's
   ``main`` (its output and exit code are reported), writing episodes under ``WORK_DIR``.

Each part prints one line ``PROBE-PART <name> <json>``; a part that raises reports
``{"error": ...}`` and the next part still runs.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import time
from pathlib import Path

import torch


def _max_gap(generations, model, pad_id, temperature):
    from agentgym.trainers.logprobs import sequence_logprobs

    with torch.no_grad():
        logp, mask = sequence_logprobs(model, [g.prompt_ids for g in generations],
                                       [g.token_ids for g in generations], pad_id,
                                       temperature=temperature)
    gaps = [0.0]
    for i, g in enumerate(generations):
        assert len(g.logprobs) == len(g.token_ids) == int(mask[i].sum())
        gaps += [abs(a - b) for a, b in zip(g.logprobs, logp[i, : len(g.token_ids)].tolist(),
                                            strict=True)]
    return max(gaps)


def engine_checks(model_dir: str) -> dict:
    from transformers import AutoModelForCausalLM

    from agentgym.core.policy import Request
    from agentgym.trainers.engines import Engine, EngineBuild, SamplingSettings, make_engine
    from agentgym.trainers.model import load_tokenizer

    torch.manual_seed(0)
    tokenizer = load_tokenizer(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    grid = "# # # #\n# P X #\n# _ O #\n# # # #"
    requests = [
        Request(messages=[{"role": "user", "content": "Task: push.\n\n" + grid + "\n_" * i}],
                observation=grid)
        for i in range(6)
    ]
    out: dict = {}
    tic = time.perf_counter()
    sampling = SamplingSettings(temperature=1.0, max_new_tokens=6, stop=("</action>",), seed=5)
    engine = make_engine("vllm", EngineBuild(tokenizer=tokenizer, sampling=sampling,
                                             model_path=model_dir,
                                             device=torch.device("cpu")))
    out["load_s"] = time.perf_counter() - tic
    out["implements_engine_protocol"] = isinstance(engine, Engine)
    try:
        sampled = engine(requests)
        out["prompt_ids_match"] = all(
            g.prompt_ids == engine.encode_prompt(r.messages)
            for g, r in zip(sampled, requests, strict=True)
        )
        out["text_matches_tokens"] = all(
            g.text == tokenizer.decode(g.token_ids, skip_special_tokens=True) for g in sampled)
        out["gap_sampled_T1"] = _max_gap(sampled, model, tokenizer.pad_token_id, 1.0)
        hot = engine.as_policy(0.7, seed=1)(requests)
        out["gap_sampled_T07"] = _max_gap(hot, model, tokenizer.pad_token_id, 0.7)
        again = engine.as_policy(0.7, seed=1)(requests)
        out["seeded_repeat_equal"] = [g.token_ids for g in hot] == [g.token_ids for g in again]
        # weight sync: change every parameter (the tied embedding included), sync, compare
        with torch.no_grad():
            for parameter in model.parameters():
                parameter.add_(0.02 * torch.randn_like(parameter))
        before = engine.as_policy(0.0)(requests)
        tic = time.perf_counter()
        engine.sync_weights(model)
        out["sync_s"] = time.perf_counter() - tic
        after = engine.as_policy(0.0)(requests)
        out["gap_before_sync"] = _max_gap(before, model, tokenizer.pad_token_id, 0.0)
        out["gap_after_sync"] = _max_gap(after, model, tokenizer.pad_token_id, 0.0)
        state = engine.state_dict()
        first = engine(requests)
        engine.load_state_dict(state)
        out["state_restores_samples"] = [g.token_ids for g in first] == [
            g.token_ids for g in engine(requests)]
        out["tokens_generated"] = engine.tokens_generated
    finally:
        engine.close()
    return out


def train_run(config_json: str) -> dict:
    from agentgym.trainers.config import TrainConfig, from_dict
    from agentgym.trainers.logger import read_metrics
    from agentgym.trainers.recipe import train

    cfg = from_dict(TrainConfig, json.loads(config_json))
    result = train(cfg)
    records = [r for r in read_metrics(result.run_dir) if r["kind"] == "train"]
    return {
        "iterations": result.iterations,
        "engine_logprob_diff": [r["update/engine_logprob_diff"] for r in records],
        "loss": [r["update/loss"] for r in records],
        "gen_tokens_per_s": [r["time/gen_tokens_per_s"] for r in records],
        "final_episodes": result.final["episodes"],
    }


def eval_cli(run_dir: str, work_dir: str) -> dict:
    """``agentgym eval env=sokoban policy=RUN_DIR engine=vllm`` through the CLI's ``main``."""
    from rich.console import Console

    from agentgym.cli.main import main

    out = Path(work_dir) / "episodes.jsonl"
    text = io.StringIO()
    console = Console(file=text, width=200, force_terminal=False)
    os.chdir(work_dir)
    with contextlib.redirect_stdout(text), contextlib.redirect_stderr(text):
        code = main(["eval", "env=sokoban", f"policy={run_dir}", "engine=vllm", "episodes=3",
                     "max_turns=4", "workers=0", "device=cpu", f"out={out}"], console=console)
    episodes = len(out.read_text().splitlines()) if out.exists() else 0
    return {"exit_code": code, "stdout": text.getvalue()[-3000:], "episodes": episodes}


def _part(name: str, check, *args) -> None:
    """Run one part and print ``PROBE-PART name {json}``; a failure is reported as
    ``{"error": ...}`` so that the other parts still run and their tests still pass."""
    try:
        report = check(*args)
    except Exception as exc:
        report = {"error": f"{type(exc).__name__}: {exc}"[-3000:]}
    print(f"PROBE-PART {name} " + json.dumps(report), flush=True)


if __name__ == "__main__":
    model_dir, config_json, work_dir = sys.argv[1:4]
    _part("engine", engine_checks, model_dir)
    _part("train", train_run, config_json)
    _part("eval", eval_cli, json.loads(config_json)["trainer"]["run_dir"], work_dir)
