"""SWEET-RL's LM critic on a toy set: the Bradley–Terry loss falls, the successful trajectories'
turns end up above the failing ones', and the ranking needs the training-time information.

Two tasks whose hidden ``reference_solution`` names the right move (``up`` in one, ``down`` in
the other); per task one successful episode (both turns play the right move) and one failing
(both play the other). The prompts are the same in both tasks, so only the training-time
information in the critic's prompt tells a good turn from a bad one.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from agentgym import credit
from agentgym.core.trajectory import Episode, StepBatch, Turn
from agentgym.trainers.credit_models.sweet import SweetCritic, critic_rows, info_text
from agentgym.trainers.update import UpdateContext


def toy_episodes(tokenizer) -> list[Episode]:
    prompt = tokenizer.encode("<|im_start|>user\nmove?<|im_end|>\n<|im_start|>assistant\n",
                              add_special_tokens=False)
    episodes = []
    for task, right, wrong in (("a", "up", "down"), ("b", "down", "up")):
        for success, move in ((True, right), (False, wrong)):
            response = tokenizer.encode(f"<action>{move}</action><|im_end|>",
                                        add_special_tokens=False)
            turns = [Turn(observation="move?", action=move, prompt_ids=list(prompt),
                          response_ids=list(response)) for _ in range(2)]
            episodes.append(Episode(env_id="toy", task_id=task, group_id=task,
                                    episode_id=f"{task}{int(success)}", seed=0, turns=turns,
                                    success=success, outcome=float(success),
                                    info={"reference_solution": f"the answer is {right}"}))
    return episodes


@pytest.fixture
def ctx(tiny_model):
    """One torch thread: tiny forwards gain nothing from more, and a busy machine's spinning
    threads slow them by orders of magnitude."""
    _, tokenizer = tiny_model
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield UpdateContext(device=torch.device("cpu"), pad_id=int(tokenizer.pad_token_id),
                         micro_batch_size=16)
    torch.set_num_threads(threads)


def test_critic_prompts_carry_the_training_time_information(tiny_model, ctx):
    _, tokenizer = tiny_model
    episodes = toy_episodes(tokenizer)
    rows = critic_rows(episodes, tokenizer, ["reference_solution", "missing"], max_tokens=64)
    plain = critic_rows(episodes, tokenizer, ["missing"], max_tokens=64)
    assert len(rows) == 8 and rows.rows.tolist() == list(range(8))
    assert plain.prompts[0] == episodes[0].turns[0].prompt_ids  # nothing to add
    text = tokenizer.decode(rows.prompts[0])
    assert "the answer is up" in text and text.endswith(tokenizer.decode(plain.prompts[0]))
    assert "the answer is down" in tokenizer.decode(rows.prompts[4])
    short = critic_rows(episodes, tokenizer, ["reference_solution"], max_tokens=2)
    assert len(short.prompts[0]) < len(rows.prompts[0])
    assert info_text(episodes[0], ["reference_solution"]) == (
        "reference_solution:\nthe answer is up")


def test_bradley_terry_training_ranks_successful_turns_first(tiny_model, ctx):
    model, tokenizer = tiny_model
    torch.manual_seed(0)
    episodes = toy_episodes(tokenizer)
    batch = StepBatch.from_episodes(episodes)
    rows = critic_rows(episodes, tokenizer, ["reference_solution"], max_tokens=64)
    critic = SweetCritic(model, beta=1.0, lr=3e-3)
    reference = critic.reference_logprobs(rows, ctx)
    start = critic.advantages(rows, ctx, reference)
    np.testing.assert_allclose(start, 0.0, atol=1e-6)  # π_φ = π_ref at the start
    losses = [critic.step(batch, rows, ctx, reference) for _ in range(40)]
    after = critic.advantages(rows, ctx, reference)
    final = credit.bradley_terry(batch, after)
    assert losses[0] == pytest.approx(np.log(2), abs=1e-4)  # zero margins: −log σ(0)
    assert final.loss < 0.5 * losses[0]
    assert final.accuracy == 1.0
    success = np.repeat([e.success for e in episodes], 2)
    for task in (0, 1):  # within each task, every good turn above every bad one
        mine = batch.group == task
        assert after[mine & success].min() > after[mine & ~success].max()
    # The same move ("up") is the good one in task 0 and the bad one in task 1, so the ranking
    # above needs the information (Bradley-Terry fixes no level across tasks: values are
    # compared within a task, never one task's with the other's). Without the information the
    # same critic cannot rank: the rows of the two tasks are identical, the loss stays at log 2,
    # where the informed critic was clearly below it within as many steps.
    blind_rows = critic_rows(episodes, tokenizer, [], max_tokens=64)
    blind = SweetCritic(model, beta=1.0, lr=3e-3)
    blind_reference = blind.reference_logprobs(blind_rows, ctx)
    blind_losses = [blind.step(batch, blind_rows, ctx, blind_reference) for _ in range(10)]
    assert min(losses[:10]) < np.log(2) - 5e-3
    assert min(blind_losses) == pytest.approx(np.log(2), abs=1e-3)
    # the policy itself was not touched
    assert all(p.grad is None or not p.grad.any() for p in model.parameters())


def test_critic_state_round_trip(tiny_model, ctx):
    model, tokenizer = tiny_model
    episodes = toy_episodes(tokenizer)
    batch = StepBatch.from_episodes(episodes)
    rows = critic_rows(episodes, tokenizer, ["reference_solution"], max_tokens=64)
    critic = SweetCritic(model, beta=0.5, lr=3e-3)
    reference = critic.reference_logprobs(rows, ctx)
    for _ in range(3):
        critic.step(batch, rows, ctx, reference)
    state = critic.state_dict()
    other = SweetCritic(model, beta=0.5, lr=3e-3)
    other.load_state_dict(state)
    assert other.updates == 3
    np.testing.assert_allclose(other.advantages(rows, ctx, other.reference_logprobs(rows, ctx)),
                               critic.advantages(rows, ctx, reference), atol=1e-6)
    # the same next step from both
    a, b = critic.step(batch, rows, ctx, reference), other.step(batch, rows, ctx, reference)
    assert a == pytest.approx(b, abs=1e-6)
