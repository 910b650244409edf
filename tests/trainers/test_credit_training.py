"""Every registered credit method and reward transform trains from its shipped config.

The main test is parametrized over ``credit.available()`` and ``credit.available_transforms()``:
a method without a ``configs/algo`` (or ``configs/reward``) file, or one the recipe cannot feed,
fails here. Each run is 2 RL iterations on the tiny model (Sokoban with one-push levels; IGPO on
SearchQA, which has ground-truth answers; the multi-agent methods on tic-tac-toe), from a model
warm-started once per environment, and checks a finite loss, nonzero advantages and that every
parameter moved. For the methods whose inputs are a model or running state (SPA, ProgRM, OPRL,
HiPER, RAE, SWEET-RL) the state is in the checkpoint and a resumed run continues exactly.

The rest checks the providers against hand-computed values and direct recomputations: IGPO's
beliefs against a plain teacher-forced forward, OPRL's DPO gradient through per-turn
log-probabilities against autograd on the whole loss, the LLM judge against a local
OpenAI-compatible stub, HiPER's switch parsing, ProgRM's progress input, SPA's objective.
"""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from agentgym import credit
from agentgym.cli.train import compose
from agentgym.core.preflight import InfrastructureError
from agentgym.core.trajectory import Episode, StepBatch, Turn
from agentgym.trainers.checkpoint import STATE_FILE, list_checkpoints
from agentgym.trainers.config import ConfigError, EnvConfig, TinyModelConfig, TrainConfig, from_dict
from agentgym.trainers.credit_inputs import (
    CreditContext,
    inputs_for,
    method_params,
    provided_inputs,
    provider_options,
)
from agentgym.trainers.credit_models.arena import LLMJudge, OutcomeJudge, verdict
from agentgym.trainers.credit_models.features import response_logprobs, turn_rows
from agentgym.trainers.credit_models.hiper import switch_decisions
from agentgym.trainers.credit_models.igpo import answer_prefix
from agentgym.trainers.credit_models.oprl import dpo_loss_gradient, preference_pairs
from agentgym.trainers.credit_models.progrm import labelled_rows
from agentgym.trainers.logger import read_metrics
from agentgym.trainers.logprobs import sequence_logprobs
from agentgym.trainers.recipe import train
from agentgym.trainers.update import UpdateContext

#: one-push levels: the warm-started policy solves about 40% of them within 4 turns, so a group
#: of 4 episodes almost always has different outcomes (and the tests do not depend on luck)
SOKOBAN = {"id": "agentgym/Sokoban-v0", "max_turns": 4, "max_new_tokens": 4,
           "kwargs": {"min_solution_steps": 1, "max_solution_steps": 1}}
SEARCHQA = {"id": "agentgym/SearchQA-v0", "kwargs": {"n_articles": 300, "n_questions": 50},
            "action_format": "plain", "max_turns": 3, "max_new_tokens": 64,
            "stop": ["</tool_call>"]}
TICTACTOE = {"id": "agentgym/TicTacToe-v0", "kwargs": {}, "max_turns": 6, "max_new_tokens": 4}
ENVS = {"sokoban": SOKOBAN, "searchqa": SEARCHQA, "tictactoe": TICTACTOE}
#: methods that need another environment than Sokoban
ENV_OF = {("algo", "igpo"): "searchqa", ("reward", "igpo"): "searchqa",
          ("reward", "stepsearch"): "searchqa",
          ("algo", "rae"): "tictactoe", ("algo", "atgrpo"): "tictactoe"}
#: providers whose state is a model or running statistics, and what their checkpoint holds
STATEFUL = {"spa": {"module", "fits"}, "progrm": {"head"}, "oprl": {"params", "optimizer",
                                                                    "updates"},
            "hiper": {"head"}, "rae": {"values", "updates"},
            "sweet": {"params", "reference", "optimizer", "updates"}}
#: the credit/<section>/<key> metrics a method's fitted model logs every iteration
FIT_METRICS = {"spa": {"loss", "heldout_loss", "outcome_var", "contribution_mean"},
               "progrm": {"loss"}, "oprl": {"loss"}, "hiper": {"loss"}, "sweet": {"loss"}}
METHODS = ([("algo", name) for name in credit.available()]
           + [("reward", name) for name in credit.available_transforms()])


def _load_stub() -> Any:
    """The OpenAI-compatible stub server of ``tests/core`` (imported by path)."""
    path = Path(__file__).parents[1] / "core" / "openai_stub.py"
    spec = importlib.util.spec_from_file_location("agentgym_tests_openai_stub", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)
    spec.loader.exec_module(module)
    return module


def shipped(kind: str, name: str) -> dict[str, Any]:
    """The ``algo`` / ``reward`` section of the shipped config option ``name``."""
    return OmegaConf.to_container(compose([f"{kind}={name}"]), resolve=True)[kind]


def config(run_dir: Path, model: Path, env: dict[str, Any], *, algo: dict[str, Any],
           reward: dict[str, Any] | None = None, iterations: int = 2, resume: bool = False,
           warmup: tuple[int, int] = (0, 1)) -> TrainConfig:
    """A tiny run: 3 tasks x 4 episodes per iteration, no held-out evaluation, one thread."""
    return from_dict(TrainConfig, {
        "env": dict(env),
        "algo": {"name": algo["name"], "params": dict(algo["params"]),
                 "optim": {"lr": 1e-2, "mini_batch_size": 64, "ppo_epochs": 1},
                 "warmup": {"batch_size": 8, "lr": 3e-3}},
        "reward": reward or {"name": None, "params": {}, "update_outcome": False},
        "model": {"path": str(model)},
        "hardware": {"device": "cpu", "micro_batch_size": 32, "num_threads": 1},
        "budget": {"iterations": iterations, "tasks_per_iteration": 3, "group_size": 4,
                   "warmup_episodes": warmup[0], "warmup_epochs": warmup[1],
                   "eval_episodes": 0, "checkpoint_every": 1, "keep_checkpoints": 0},
        "trainer": {"run_dir": str(run_dir), "progress": False, "tensorboard": False,
                    "resume": resume},
    })


class Models:
    """The starting model of each environment, built on first use: the tiny model, behaviour-
    cloned once on expert episodes (Sokoban, tic-tac-toe; SearchQA enough that some of its tool
    calls parse) so that rollouts differ in outcome."""

    WARMUP: ClassVar[dict[str, tuple[int, int]]] = {
        "sokoban": (64, 10), "tictactoe": (16, 10), "searchqa": (32, 30)}

    def __init__(self, tiny_path: Path, root: Path) -> None:
        self.tiny_path, self.root = tiny_path, root
        self.paths: dict[str, Path] = {}

    def path(self, env: str) -> Path:
        if env not in self.paths:
            from agentgym.trainers.tiny import ensure_tiny_model

            tiny = (self.tiny_path if env == "sokoban"
                    else ensure_tiny_model(EnvConfig(**ENVS[env]), TinyModelConfig(
                        corpus_episodes=8)))
            episodes, epochs = self.WARMUP[env]
            if episodes == 0:
                self.paths[env] = tiny
            else:
                run_dir = self.root / f"warm-{env}"
                train(config(run_dir, tiny, ENVS[env], algo=shipped("algo", "grpo"),
                             iterations=0, warmup=(episodes, epochs)))
                self.paths[env] = list_checkpoints(run_dir)[0]
        return self.paths[env]


class Runs:
    """2-iteration runs of each method, made once and shared by the tests that read them."""

    def __init__(self, models: Models, root: Path) -> None:
        self.models, self.root = models, root
        self.done: dict[tuple[str, str], tuple[Path, Any]] = {}

    def setup(self, kind: str, name: str) -> tuple[Path, dict[str, Any], dict[str, Any] | None]:
        """``(model, algo section, reward section)`` of method ``name`` of ``kind``."""
        env = ENV_OF.get((kind, name), "sokoban")
        if kind == "algo":
            return self.models.path(env), shipped("algo", name), None
        return self.models.path(env), shipped("algo", "grpo"), shipped("reward", name)

    def env(self, kind: str, name: str) -> dict[str, Any]:
        return ENVS[ENV_OF.get((kind, name), "sokoban")]

    def run(self, kind: str, name: str) -> tuple[Path, Any]:
        if (kind, name) not in self.done:
            model, algo, reward = self.setup(kind, name)
            run_dir = self.root / f"{kind}-{name}"
            result = train(config(run_dir, model, self.env(kind, name), algo=algo,
                                  reward=reward))
            self.done[(kind, name)] = (run_dir, result)
        return self.done[(kind, name)]


@pytest.fixture(scope="module")
def models(tiny_path, tmp_path_factory) -> Models:
    return Models(tiny_path, tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="module")
def runs(models, tmp_path_factory) -> Runs:
    threads = torch.get_num_threads()
    yield Runs(models, tmp_path_factory.mktemp("runs"))
    torch.set_num_threads(threads)  # the runs use one thread (hardware.num_threads=1)


def _weights(directory: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(directory / "model.safetensors"))


def _state(checkpoint: Path) -> dict[str, Any]:
    return torch.load(checkpoint / STATE_FILE, weights_only=False)


def _assert_same(a: Any, b: Any, path: str = "") -> None:
    if isinstance(a, torch.Tensor):
        assert torch.equal(a, b), path
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for key in a:
            _assert_same(a[key], b[key], f"{path}.{key}")
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _assert_same(x, y, f"{path}[{i}]")
    elif hasattr(a, "shape"):
        assert (a == b).all(), path
    elif isinstance(a, float) and math.isnan(a):
        assert isinstance(b, float) and math.isnan(b), path
    else:
        assert a == b, path


# --- every method trains ----------------------------------------------------------------------
@pytest.mark.parametrize(("kind", "name"), METHODS, ids=[f"{k}={n}" for k, n in METHODS])
def test_every_method_trains_from_its_shipped_config(runs, kind, name):
    run_dir, result = runs.run(kind, name)
    assert result.iterations == 2
    records = [r for r in read_metrics(run_dir) if r["kind"] == "train"]
    assert [r["iteration"] for r in records] == [1, 2]
    assert all(math.isfinite(r["update/loss"]) and math.isfinite(r["update/grad_norm"])
               for r in records)
    assert max(r["adv/nonzero"] for r in records) > 0
    logged = {key.rsplit("/", 1)[1] for r in records for key in r if key.startswith("credit/")}
    expected = FIT_METRICS.get(name, set())
    # OPRL takes (and logs) a DPO step only in an iteration with a better/worse pair
    assert logged <= expected if name == "oprl" else logged == expected
    assert all(math.isfinite(v) for r in records for k, v in r.items() if k.startswith("credit/"))
    start = runs.setup(kind, name)[0]
    final = list_checkpoints(run_dir)[-1]
    before, after = _weights(start), _weights(final)
    assert before.keys() == after.keys()
    assert [k for k in before if torch.equal(before[k], after[k])] == []
    saved = _state(final)["credit_inputs"]
    section = saved["algo" if kind == "algo" else "reward"]
    if name in STATEFUL:
        assert STATEFUL[name] <= set(section), section.keys()
    else:
        assert section == {}


@pytest.mark.parametrize("name", sorted(STATEFUL))
def test_resume_continues_the_credit_model_exactly(runs, tmp_path, name):
    kind = "algo" if name in credit.available() else "reward"
    full_dir, _ = runs.run(kind, name)
    model, algo, reward = runs.setup(kind, name)
    env = runs.env(kind, name)
    train(config(tmp_path, model, env, algo=algo, reward=reward, iterations=1))
    train(config(tmp_path, model, env, algo=algo, reward=reward, iterations=2, resume=True))
    a, b = list_checkpoints(full_dir)[-1], list_checkpoints(tmp_path)[-1]
    _assert_same(_weights(a), _weights(b), "weights")
    state_a, state_b = _state(a), _state(b)
    for key in ("optimizer", "rng", "engine", "shuffle", "credit_inputs"):
        _assert_same(state_a[key], state_b[key], key)
    # the provider's model really is in the checkpoint: it differs from the first one's
    first = _state(list_checkpoints(full_dir)[0])["credit_inputs"]
    if name in ("spa", "hiper", "rae"):
        with pytest.raises(AssertionError):
            _assert_same(first, state_a["credit_inputs"])


# --- configs and options ----------------------------------------------------------------------
def test_provider_options_are_split_from_the_method_params():
    params = shipped("algo", "oprl")["params"]
    assert set(provider_options("oprl")) == {"prm_lr", "prm_steps"}
    assert method_params("oprl", params) == {"beta": 0.05, "alpha": 1.0, "std": "unbiased",
                                             "score": "outcome"}
    assert provided_inputs("oprl") == ("log_ratio",)
    assert provided_inputs("grpo") == () and method_params("grpo", {"x": 1}) == {"x": 1}


def test_bad_provider_option_is_one_config_error(tmp_path, tiny_path):
    cfg = config(tmp_path, tiny_path, SOKOBAN, algo=shipped("algo", "grpo"),
                 reward={"name": "spa", "params": {"estimator_features": "pixels"},
                         "update_outcome": True})
    with pytest.raises(ConfigError, match=r"reward\.params\.estimator_features='pixels' must "
                                          r"be one of hidden, text"):
        train(cfg)
    cfg.reward.params = {"estimator_featurez": "text"}  # a misspelt option: not the method's
    with pytest.raises(ConfigError, match="estimator_featurez"):
        train(cfg)


def test_igpo_needs_an_environment_with_answers(tmp_path, tiny_path):
    cfg = config(tmp_path, tiny_path, SOKOBAN, algo=shipped("algo", "igpo"))
    with pytest.raises(ConfigError, match=r"igpo needs the ground-truth answer .*info\['answer'\]"):
        train(cfg)
    assert not any(tmp_path.iterdir())  # stopped before anything was written


# --- the providers, against hand-computed values ----------------------------------------------
def _episodes(specs: list[tuple[str, list[list[int]], list[list[int]], float]],
              answer: str | None = None) -> list[Episode]:
    """Episodes from ``(group, prompts, responses, outcome)``."""
    out = []
    for k, (group, prompts, responses, outcome) in enumerate(specs):
        turns = [Turn(observation=f"o{t}", action=f"a{k}{t}", state_key=f"s{t}",
                      prompt_ids=p, response_ids=r, response_text=f"a{k}{t}")
                 for t, (p, r) in enumerate(zip(prompts, responses, strict=True))]
        out.append(Episode(env_id="toy", task_id=group, group_id=group, episode_id=f"e{k}",
                           seed=0, turns=turns, outcome=outcome,
                           info={} if answer is None else {"answer": answer}))
    return out


def _context(episodes: list[Episode], model: Any, tokenizer: Any) -> CreditContext:
    update = UpdateContext(device=torch.device("cpu"), pad_id=int(tokenizer.pad_token_id),
                           micro_batch_size=3)
    return CreditContext(batch=StepBatch.from_episodes(episodes), episodes=episodes,
                         model=model, tokenizer=tokenizer, engine=None, update=update,
                         iteration=0)


def test_answer_template_of_tool_and_plain_environments():
    prefix, text = answer_prefix('say "hi"', template=None, tool=True, action_format="plain")
    assert prefix == '<tool_call>\n{"name": "answer", "arguments": {"text": "'
    assert text == 'say \\"hi\\"'  # as written inside the JSON of the call
    assert answer_prefix("Paris", template=None, tool=False, action_format="xml") == (
        "<action>", "Paris")
    assert answer_prefix("Paris", template="A: {answer}.", tool=True,
                         action_format="xml") == ("A: ", "Paris")


def test_igpo_beliefs_equal_a_direct_teacher_forced_forward(tiny_model, tmp_path):
    model, tokenizer = tiny_model
    cfg = config(tmp_path, Path("."), SEARCHQA, algo=shipped("algo", "igpo"))
    provider = inputs_for("igpo", cfg, cfg.algo.params)
    episodes = _episodes([("g", [[5, 6, 7], [5, 6, 7, 8, 9, 10]], [[11], [12]], 1.0),
                          ("g", [[5, 6, 7], [20, 21]], [[13], [14]], 0.0)], answer="Mara Voss")
    episodes[1].turns[1].prompt_ids = None  # a turn the policy failed on
    beliefs = provider(_context(episodes, model, tokenizer))["beliefs"]
    prefix, text = answer_prefix("Mara Voss", template=None, tool=True, action_format="plain")
    head = tokenizer.encode(prefix, add_special_tokens=False)
    body = tokenizer.encode(text, add_special_tokens=False)
    expected = []
    with torch.no_grad():
        for prompt in ([5, 6, 7], [5, 6, 7, 8, 9, 10], [5, 6, 7]):
            ids = torch.tensor([prompt + head + body])
            logp = torch.log_softmax(model(input_ids=ids).logits[0].float(), -1)
            start = len(prompt) + len(head)
            expected.append(float(np.mean([float(logp[start + j - 1, body[j]])
                                           for j in range(len(body))])))
    expected.append(expected[2])  # the failed turn repeats its episode's last belief
    np.testing.assert_allclose(beliefs, expected, atol=1e-5)
    assert np.all(beliefs < 0)


def test_dpo_gradient_by_hand():
    loss, grad = dpo_loss_gradient(np.array([1.0, 0.0]), np.array([0]), np.array([1]), 0.5)
    # -log σ(0.5·(1 − 0)) and ∓0.5·σ(−0.5)
    assert loss == pytest.approx(0.474077, abs=1e-6)
    np.testing.assert_allclose(grad, [-0.188770, 0.188770], atol=1e-6)
    batch = StepBatch.from_episodes(_episodes([("a", [[1]], [[2]], 1.0), ("a", [[1]], [[2]], 0.0),
                                               ("a", [[1]], [[2]], 0.0), ("b", [[1]], [[2]], 2.0),
                                               ("b", [[1]], [[2]], 2.0)]))
    dense, better, worse = preference_pairs(batch)
    assert dense.tolist() == [0, 1, 2, 3, 4]
    assert sorted(zip(better.tolist(), worse.tolist(), strict=True)) == [(0, 1), (0, 2)]


def test_prm_gradient_through_turns_equals_autograd_on_the_whole_loss(tiny_model, tmp_path):
    """The PRM's DPO step differentiates through per-turn log-probs in micro-batches; the
    gradient must equal autograd of the trajectory-level loss computed in one piece."""
    import copy

    model, tokenizer = tiny_model
    episodes = _episodes([("g", [[5, 6], [7, 8, 9]], [[10, 11], [12]], 1.0),
                          ("g", [[5, 6], [13]], [[14], [15, 16]], 0.0),
                          ("g", [[5, 6]], [[17]], 0.5)])
    ctx = _context(episodes, model, tokenizer)
    cfg = config(tmp_path, Path("."), SOKOBAN, algo=shipped("algo", "oprl"))
    provider = inputs_for("oprl", cfg, cfg.algo.params)
    prm = provider._ensure(model)
    with torch.no_grad():  # make π_φ differ from π_old
        for p in prm.parameters():
            p.add_(0.01 * torch.randn(p.shape, generator=torch.Generator().manual_seed(1)))
    rows = turn_rows(episodes)
    old = response_logprobs(model, rows, ctx.update)
    reference = copy.deepcopy(prm)
    # autograd on the whole loss
    logp, mask = sequence_logprobs(reference, rows.prompts, rows.responses, ctx.update.pad_id)
    per_turn = (logp * mask).sum(-1) - torch.tensor(old[rows.rows], dtype=torch.float32)
    z = torch.stack([per_turn[[0, 1]].sum(), per_turn[[2, 3]].sum(), per_turn[[4]].sum()])
    beta = provider.beta
    pairs = [(0, 1), (0, 2), (2, 1)]
    loss = torch.stack([-torch.nn.functional.logsigmoid(beta * (z[i] - z[j]))
                        for i, j in pairs]).mean()
    loss.backward()
    # the provider's step, with a plain SGD step of size 1 to read the gradient off
    before = {n: p.detach().clone() for n, p in prm.named_parameters()}
    provider.optimizer = torch.optim.SGD(prm.parameters(), lr=1.0)
    provider.max_grad_norm = 0.0
    step_loss = provider._dpo_step(rows, old, ctx)
    assert step_loss == pytest.approx(float(loss.detach()), rel=1e-5)
    for name, p in reference.named_parameters():
        moved = before[name] - dict(prm.named_parameters())[name].detach()
        torch.testing.assert_close(moved, p.grad, atol=2e-6, rtol=1e-4, msg=name)


def test_switch_tags_start_segments():
    episodes = _episodes([("g", [[1]] * 4, [[2]] * 4, 0.0)])
    texts = ["<switch>switch</switch><action>up</action>", "<SWITCH> keep </SWITCH> up",
             "<action>up</action>", "<switch>maybe</switch>"]
    for turn, text in zip(episodes[0].turns, texts, strict=True):
        turn.response_text = text
    assert switch_decisions(episodes).tolist() == [True, False, True, True]
    assert switch_decisions(episodes, tag="goal").tolist() == [True, True, True, True]


def test_hiper_critic_fits_its_value_targets(tiny_model, tmp_path):
    model, tokenizer = tiny_model
    episodes = _episodes([("g", [[5, 6], [7, 8]], [[9], [10]], 1.0),
                          ("g", [[5, 6], [11, 12]], [[13], [14]], 0.0)])
    episodes[0].turns[1].reward = 1.0
    for episode in episodes:
        episode.turns[-1].terminated = True
    ctx = _context(episodes, model, tokenizer)
    cfg = config(tmp_path, Path("."), SOKOBAN, algo=shipped("algo", "hiper"))
    critic = inputs_for("hiper", cfg, cfg.algo.params)
    first = critic(ctx)
    assert first["switch"].tolist() == [True, True, True, True]
    for _ in range(5):
        inputs = critic(ctx)
    # γ = 1, each turn its own segment, terminal episodes: the targets are the returns to go,
    # 1 and 0 after the second turn; both episodes start in the same state (the same prompt),
    # whose value is the mean of the two, 0.5
    np.testing.assert_allclose(inputs["v_low"], [0.5, 1.0, 0.5, 0.0], atol=0.05)
    np.testing.assert_allclose(inputs["v_high"], [0.5, 1.0, 0.5, 0.0], atol=0.05)
    # A_low = r + V_high(next) − V_low: ±0.5 on the first turns, 0 on the last
    advantages = credit.hiper(ctx.batch, **inputs, norm_adv=False)
    np.testing.assert_allclose(advantages, [0.5, 0.0, -0.5, 0.0], atol=0.1)


def test_progrm_takes_a_progress_model_input():
    batch = StepBatch.from_episodes(_episodes([("g", [[1]] * 3, [[2]] * 3, 1.0)]))
    rewards = credit.progrm(batch, progress=np.array([0.2, 0.5, 1.0]))
    np.testing.assert_allclose(rewards, [0.2, 0.3, 0.5])
    with pytest.raises(ValueError, match="progrm progress"):
        credit.progrm(batch, progress=np.array([0.2, np.nan, 1.0]))


def test_progress_model_learns_the_recipe_labels(tiny_model, tmp_path):
    model, tokenizer = tiny_model
    # group g: e0 succeeds with actions a00, a01 (its own recipe); group h has no success
    episodes = _episodes([("g", [[5, 6], [7, 8]], [[9], [10]], 1.0),
                          ("g", [[5, 6], [11, 12]], [[13], [14]], 0.0),
                          ("h", [[15, 16]], [[17]], 0.0)])
    ctx = _context(episodes, model, tokenizer)
    assert labelled_rows(ctx.batch, 0.0).tolist() == [True, True, True, True, False]
    labels = credit.progress_labels(ctx.batch)
    assert labels.tolist() == [0.5, 1.0, 0.0, 0.0, 0.0]
    cfg = config(tmp_path, Path("."), SOKOBAN, algo=shipped("algo", "grpo"),
                 reward=shipped("reward", "progrm"))
    provider = inputs_for("progrm", cfg, cfg.reward.params)
    for _ in range(4):
        progress = provider(ctx)["progress"]
    assert np.all((progress > 0) & (progress < 1))
    np.testing.assert_allclose(progress[:4], labels[:4], atol=0.1)
    labels_only = {**cfg.reward.params, "progress_model": False}
    assert inputs_for("progrm", cfg, labels_only)(ctx) == {"progress": None}


@pytest.mark.parametrize("features", ["hidden", "text"])
def test_spa_contributions_add_up_to_the_outcome(tiny_model, tmp_path, features):
    model, tokenizer = tiny_model
    episodes = _episodes([("g", [[5, 6], [7, 8], [9]], [[10], [11], [12]], 1.0),
                          ("g", [[5, 6], [13, 14]], [[15], [16]], -0.5),
                          ("h", [[17, 18]], [[19]], 2.0)])
    ctx = _context(episodes, model, tokenizer)
    cfg = config(tmp_path, Path("."), SOKOBAN, algo=shipped("algo", "grpo"),
                 reward=shipped("reward", "spa"))
    provider = inputs_for("spa", cfg, {**cfg.reward.params, "estimator_features": features})
    contributions = provider(ctx)["contributions"]
    sums = np.bincount(ctx.batch.episode, weights=contributions)
    np.testing.assert_allclose(sums, [1.0, -0.5, 2.0], atol=0.05)
    assert provider.last_loss < 2e-3
    fit = provider.metrics()
    assert fit["loss"] == provider.last_loss
    assert fit["outcome_var"] == pytest.approx(np.var([1.0, -0.5, 2.0]))
    assert fit["contribution_mean"] == pytest.approx(contributions.mean())
    assert "heldout_loss" not in fit  # nothing was fitted before this call
    # the same turns with other outcomes: the held-out loss is the earlier head's (before refit)
    other = _context(_episodes([("g", [[5, 6], [7, 8], [9]], [[10], [11], [12]], -1.0),
                                ("g", [[5, 6], [13, 14]], [[15], [16]], 1.5),
                                ("h", [[17, 18]], [[19]], 0.0)]), model, tokenizer)
    provider(other)
    then = credit.spa_loss(contributions, other.batch.episode, other.batch.outcome)
    assert provider.metrics()["heldout_loss"] == pytest.approx(then, rel=1e-5)
    assert then > 1.0 > provider.metrics()["loss"]
    rewards = credit.spa(ctx.batch, contributions=contributions, failure_text="Invalid action")
    np.testing.assert_allclose(rewards, contributions + 0.5)  # every action took effect


# --- ArenaRL's judges ---------------------------------------------------------------------------
def test_outcome_judge_and_verdicts():
    judge = OutcomeJudge({0: 1.0, 1: 0.0, 2: 1.0})
    assert (judge(0, 1), judge(1, 0), judge(0, 2)) == (1.0, 0.0, 0.5)
    assert judge.stats.calls == 3
    assert [verdict(t) for t in ("A", " b.", "T", "Trajectory A is better", "none")] == [
        1.0, 0.0, 0.5, 1.0, None]


def _fewer_turns_wins(messages: list[dict[str, str]]) -> str:
    """A judge that prefers the shorter trajectory (T on equal length)."""
    text = messages[-1]["content"]
    a, b = text.split("[Trajectory B]")
    turns_a, turns_b = a.count("\nObservation:"), b.count("\nObservation:")
    return "A" if turns_a < turns_b else "B" if turns_b < turns_a else "T"


def test_llm_judge_over_a_local_endpoint():
    stub_module = _load_stub()
    episodes = _episodes([("g", [[1]], [[2]], 0.0), ("g", [[1]] * 3, [[2]] * 3, 0.0)])
    with stub_module.OpenAIStub(reply=_fewer_turns_wins) as stub:
        from agentgym.core.policies import OpenAIChatPolicy

        client = OpenAIChatPolicy(stub.base_url, "judge", temperature=0.0, logprobs=False)
        judge = LLMJudge(client, episodes, max_chars=200)
        assert (judge(0, 1), judge(1, 0)) == (1.0, 0.0)
        body = stub.requests[0]
        assert body["model"] == "judge" and body["temperature"] == 0.0
        assert "[Trajectory A]" in body["messages"][-1]["content"]
        stub.reply = lambda messages: "no idea"
        assert judge(0, 1) == 0.5 and judge.stats.unreadable == 1
        stub.always_fail = 400
        with pytest.raises(InfrastructureError, match="LLM judge failed: HTTP 400"):
            judge(0, 1)


def test_arena_trains_with_an_llm_judge(runs, tmp_path):
    stub_module = _load_stub()
    with stub_module.OpenAIStub(reply=_fewer_turns_wins) as stub:
        model, algo, _ = runs.setup("algo", "arena")
        algo["params"].update(judge_base_url=stub.base_url, judge_model="judge")
        result = train(config(tmp_path, model, SOKOBAN, algo=algo))
        asked = len(stub.requests)
    assert result.iterations == 2 and asked > 0
    records = [r for r in read_metrics(tmp_path) if r["kind"] == "train"]
    assert all(math.isfinite(r["update/loss"]) for r in records)


def test_gigpo_with_similarity_grouping_and_stepsearch_trains_on_searchqa(models, tmp_path):
    """``algo=gigpo +algo.params.similarity=0.9 reward=stepsearch env=searchqa``: GiGPO groups
    SearchQA's ``state_key`` texts (``gold found: …``) by similarity, on StepSearch's rewards."""
    algo = shipped("algo", "gigpo")
    algo["params"]["similarity"] = 0.9
    result = train(config(tmp_path, models.path("searchqa"), SEARCHQA, algo=algo,
                          reward=shipped("reward", "stepsearch")))
    assert result.iterations == 2
    records = [r for r in read_metrics(tmp_path) if r["kind"] == "train"]
    assert all(math.isfinite(r["update/loss"]) for r in records)
    assert max(r["adv/nonzero"] for r in records) > 0


def test_llm_judge_endpoint_is_checked_before_training(tmp_path, tiny_path):
    algo = shipped("algo", "arena")
    algo["params"].update(judge_base_url="http://127.0.0.1:9/v1", judge_model="judge")
    with pytest.raises(InfrastructureError, match="not reachable"):
        train(config(tmp_path, tiny_path, SOKOBAN, algo=algo))
    algo["params"].update(judge_model=None)
    with pytest.raises(ConfigError, match=r"judge_base_url and params\.judge_model"):
        train(config(tmp_path, tiny_path, SOKOBAN, algo=algo))
