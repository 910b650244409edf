"""``gigpo(preset="verl-agent")`` reproduces verl-agent's ``compute_gigpo_outcome_advantage``.

Upstream: langfengQ/verl-agent ``gigpo/core_gigpo.py``.

Below is a plain re-implementation of that function's algorithm as the upstream code writes it
(``gigpo/core_gigpo.py``: ``compute_step_discounted_returns``, ``episode_norm_reward`` with
``compute_mean_std_cross_steps=True``, ``build_step_group``, ``step_norm_reward``), with loops and
dicts, numpy float64 instead of torch float32, and one advantage per row instead of a
``(bs, response_length)`` tile (the response mask only broadcasts it). Upstream conventions kept:
rows of a trajectory appear in time order in the batch; a row's ``token_level_rewards`` sum to
the episode reward (Σ of its step rewards); ``index`` is the task-group uid.
"""

from __future__ import annotations

from collections import defaultdict
from difflib import SequenceMatcher

import numpy as np
import pytest

from agentgym import credit
from agentgym.core.trajectory import StepBatch, stable_hash

ROOM_TEXTS = ["You are in the kitchen.", "You are in the kitchen!", "You are in the hall.",
              "You are in the hall!", "A long corridor.", "A long corridor..",
              "You are in the hallway.", "The cellar."]


def torch_std(values):
    """torch.std of a tensor: unbiased."""
    return float(np.std(np.asarray(values, dtype=np.float64), ddof=1))


def compute_step_discounted_returns(rewards, traj_uids, gamma):
    returns_by_traj = {}
    for uid in np.unique(traj_uids):
        traj_indices = np.where(traj_uids == uid)[0]
        traj_rewards = rewards[traj_indices]
        traj_returns = np.zeros_like(traj_rewards)
        running_return = 0.0
        for t in reversed(range(len(traj_rewards))):
            running_return = traj_rewards[t] + gamma * running_return
            traj_returns[t] = running_return
        returns_by_traj[uid] = traj_returns
    all_returns = np.zeros_like(rewards)
    for i, uid in enumerate(traj_uids):
        traj_indices = np.where(traj_uids == uid)[0]
        idx_in_traj = np.where(traj_indices == i)[0][0]
        all_returns[i] = returns_by_traj[uid][idx_in_traj]
    return all_returns


def episode_norm_reward(scores, index, traj_index, epsilon, remove_std,
                        compute_mean_std_cross_steps=True):
    scores = scores.copy()
    id2score = defaultdict(list)
    id2mean, id2std = {}, {}
    seen_pairs = set()
    for i in range(len(scores)):
        if (index[i], traj_index[i]) in seen_pairs:
            continue
        id2score[index[i]].append(scores[i])
        if not compute_mean_std_cross_steps:
            seen_pairs.add((index[i], traj_index[i]))
    for idx in id2score:
        if len(id2score[idx]) == 1:
            id2mean[idx], id2std[idx] = 0.0, 1.0
        else:
            id2mean[idx] = float(np.mean(id2score[idx]))
            id2std[idx] = torch_std(id2score[idx])
    for i in range(len(scores)):
        if remove_std:
            scores[i] = scores[i] - id2mean[index[i]]
        else:
            scores[i] = (scores[i] - id2mean[index[i]]) / (id2std[index[i]] + epsilon)
    return scores


def build_step_group(anchor_obs, index, enable_similarity=False, similarity_thresh=0.95):
    step_group_uids = np.empty(len(anchor_obs), dtype=object)
    next_uid = 0
    for idx in np.unique(index):
        locs = np.where(index == idx)[0]
        if not enable_similarity:
            clusters = defaultdict(list)
            for loc in locs:
                clusters[anchor_obs[loc]].append(loc)
            for members in clusters.values():
                for loc in members:
                    step_group_uids[loc] = next_uid
                next_uid += 1
        else:
            clusters = []
            for loc in locs:
                obs = anchor_obs[loc]
                for cluster in clusters:
                    if SequenceMatcher(None, obs, cluster["rep"]).ratio() >= similarity_thresh:
                        cluster["locs"].append(loc)
                        break
                else:
                    clusters.append({"rep": obs, "locs": [loc]})
            for cluster in clusters:
                for loc in cluster["locs"]:
                    step_group_uids[loc] = next_uid
                next_uid += 1
    return step_group_uids


def step_norm_reward(step_rewards, index, epsilon, remove_std):
    scores = step_rewards.copy()
    id2score = defaultdict(list)
    id2mean, id2std = {}, {}
    for i in range(len(scores)):
        id2score[index[i]].append(scores[i])
    for idx in id2score:
        if len(id2score[idx]) == 1:
            id2mean[idx], id2std[idx] = float(np.mean(id2score[idx])), 1.0
        else:
            id2mean[idx] = float(np.mean(id2score[idx]))
            id2std[idx] = torch_std(id2score[idx])
    for i in range(len(scores)):
        if remove_std:
            scores[i] = scores[i] - id2mean[index[i]]
        else:
            scores[i] = (scores[i] - id2mean[index[i]]) / (id2std[index[i]] + epsilon)
    return scores


def compute_gigpo_outcome_advantage(token_level_scores, step_rewards, anchor_obs, index,
                                    traj_index, epsilon=1e-6, step_advantage_w=1.0,
                                    mode="mean_norm", enable_similarity=False,
                                    similarity_thresh=0.95):
    remove_std = {"mean_norm": True, "mean_std_norm": False}[mode]
    episode_advantages = episode_norm_reward(token_level_scores, index, traj_index, epsilon,
                                             remove_std)
    step_group_uids = build_step_group(anchor_obs, index, enable_similarity, similarity_thresh)
    step_advantages = step_norm_reward(step_rewards, step_group_uids, epsilon, remove_std)
    return episode_advantages + step_advantage_w * step_advantages


def verl_layout_batch(seed, n_tasks=6, group_size=5, max_steps=9, texts=ROOM_TEXTS):
    """Rows laid out as verl-agent's multi-turn loop emits them: step-major over environments,
    each finished environment dropping out (so a trajectory's rows are in time order)."""
    rng = np.random.default_rng(seed)
    n_env = n_tasks * group_size
    lengths = rng.integers(1, max_steps + 1, size=n_env)
    lengths[-group_size:] = rng.integers(1, 3, size=group_size)
    index, traj, t_col, obs, rew = [], [], [], [], []
    for t in range(max_steps):
        for env in range(n_env):
            if t < lengths[env]:
                index.append(env // group_size)
                traj.append(env)
                t_col.append(t)
                obs.append(texts[rng.integers(0, len(texts))] if rng.random() < 0.9
                           else f"unique obs {env} {t}")
                rew.append(float(rng.choice([0.0, 0.0, 0.0, 1.0, 10.0, -0.1])))
    # A task whose only episode has a single step: singleton in both statistics.
    index.append(n_tasks)
    traj.append(n_env)
    t_col.append(0)
    obs.append("lonely")
    rew.append(3.0)
    index, traj, t_col, rew = map(np.asarray, (index, traj, t_col, rew))
    obs = np.asarray(obs, dtype=object)
    episode_reward = {e: rew[traj == e].sum() for e in np.unique(traj)}
    n = len(rew)
    batch = StepBatch(
        group=index, episode=traj, t=t_col, reward=rew, done=np.zeros(n, bool),
        state=[stable_hash(o) for o in obs], action=np.zeros(n, np.int64),
        valid=np.ones(n, bool), outcome=[episode_reward[e] for e in traj], state_key=obs,
    )
    token_level_scores = np.array([episode_reward[e] for e in traj])
    return batch, token_level_scores


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("mode", ["mean_norm", "mean_std_norm"])
@pytest.mark.parametrize("similarity", [None, 0.9])
def test_preset_matches_verl_agent(seed, mode, similarity):
    batch, scores = verl_layout_batch(seed)
    gamma, omega = 0.95, 0.8
    returns = compute_step_discounted_returns(batch.reward, batch.episode, gamma)
    expected = compute_gigpo_outcome_advantage(
        scores, returns, batch.state_key, batch.group, batch.episode,
        step_advantage_w=omega, mode=mode, enable_similarity=similarity is not None,
        similarity_thresh=similarity or 0.95,
    )
    got = credit.gigpo(batch, gamma=gamma, omega=omega, norm=mode, similarity=similarity,
                       preset="verl-agent")
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)
    # The paper-style defaults differ from the preset on such batches (the test can fail).
    paper = credit.gigpo(batch, gamma=gamma, omega=omega, norm=mode, similarity=similarity)
    assert np.max(np.abs(paper - expected)) > 1e-3


def test_preset_on_shuffled_rows_with_exact_grouping():
    batch, scores = verl_layout_batch(11)
    returns = compute_step_discounted_returns(batch.reward, batch.episode, 1.0)
    expected = compute_gigpo_outcome_advantage(scores, returns, batch.state_key, batch.group,
                                               batch.episode, mode="mean_std_norm")
    perm = np.random.default_rng(0).permutation(len(batch))
    shuffled = StepBatch(
        group=batch.group[perm], episode=batch.episode[perm], t=batch.t[perm],
        reward=batch.reward[perm], done=batch.done[perm], state=batch.state[perm],
        action=batch.action[perm], valid=batch.valid[perm], outcome=batch.outcome[perm],
        state_key=batch.state_key[perm],
    )
    got = credit.gigpo(shuffled, gamma=1.0, norm="mean_std", preset="verl-agent")
    np.testing.assert_allclose(got, expected[perm], rtol=0, atol=1e-6)
