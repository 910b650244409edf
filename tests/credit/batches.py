"""Batch builders shared by the credit tests."""

from __future__ import annotations

import numpy as np

from agentgym.core.trajectory import Episode, StepBatch, Turn, stable_hash

ROOMS = ["You are in the kitchen.", "You are in the kitchen!", "You are in the hall.",
         "You are in the hallway.", "A dark cellar.", "A dark cellar!!", "The garden.",
         "You see a locked door.", "You see a locked door here."]


def from_rows(groups, episodes, ts, rewards, states, actions=None, outcome=None, parts=None,
              texts=None):
    """A StepBatch from per-row lists; ``outcome`` per episode dict (default Σ rewards)."""
    episodes = np.asarray(episodes)
    rewards = np.asarray(rewards, dtype=np.float64)
    if outcome is None:
        outcome = {e: rewards[episodes == e].sum() for e in np.unique(episodes)}
    n = len(rewards)
    done = np.zeros(n, dtype=bool)
    ts = np.asarray(ts)
    for e in np.unique(episodes):
        rows = np.flatnonzero(episodes == e)
        done[rows[np.argmax(ts[rows])]] = True
    return StepBatch(
        group=groups, episode=episodes, t=ts, reward=rewards, done=done,
        state=[stable_hash(str(s)) for s in states],
        action=[stable_hash(str(a)) for a in (actions if actions is not None else [0] * n)],
        valid=np.ones(n, dtype=bool),
        outcome=[outcome[e] for e in episodes],
        reward_parts=parts or {},
        state_key=np.array([str(s) for s in states], dtype=object) if texts is None else texts,
    )


def random_batch(seed: int, n_rows: int = 10_000, n_groups: int = 40, group_size: int = 8,
                 n_states: int = 12, n_actions: int = 4, shuffle: bool = True,
                 texts: bool = False) -> StepBatch:
    """A random batch of about ``n_rows`` rows with many repeated states and tied outcomes."""
    rng = np.random.default_rng(seed)
    n_episodes = n_groups * group_size
    mean_len = max(1, n_rows // n_episodes)
    lengths = rng.integers(1, 2 * mean_len, size=n_episodes)
    lengths[rng.random(n_episodes) < 0.05] = 1
    ep = np.repeat(np.arange(n_episodes), lengths)
    n = len(ep)
    t = np.arange(n) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    group = ep // group_size
    # A singleton group: the last group keeps only its first episode.
    keep = ~((group == n_groups - 1) & (ep % group_size != 0))
    ep, t, group = ep[keep], t[keep], group[keep]
    n = len(ep)
    state_ids = rng.integers(0, n_states, size=n)
    action_ids = rng.integers(0, n_actions, size=n)
    reward = rng.choice([0.0, 0.0, 0.0, 1.0, -0.5, 0.25], size=n)
    ep_outcome = rng.choice([0.0, 1.0, 1.0, 0.5, 10.0], size=n_episodes)
    parts = {
        "correct": rng.choice([0.0, 1.0], size=n),
        "format": rng.choice([0.0, 0.5, 1.0], size=n),
    }
    if texts:
        state_key = np.array([ROOMS[s % len(ROOMS)] + f" #{s // len(ROOMS)}" for s in state_ids],
                             dtype=object)
    else:
        state_key = np.array([f"state {s}" for s in state_ids], dtype=object)
    order = rng.permutation(n) if shuffle else np.arange(n)
    done = np.zeros(n, dtype=bool)
    done[np.r_[ep[1:] != ep[:-1], True]] = True
    return StepBatch(
        group=group[order] * 3 + 7,  # arbitrary, non-dense labels
        episode=ep[order] * 5 + 11,
        t=t[order],
        reward=reward[order],
        done=done[order],
        state=np.array([stable_hash(k) for k in state_key])[order],
        action=action_ids[order] * 7919 - 3,
        valid=np.ones(n, dtype=bool),
        outcome=ep_outcome[ep][order],
        reward_parts={k: v[order] for k, v in parts.items()},
        state_key=state_key[order],
    )


def permuted(batch: StepBatch, perm: np.ndarray) -> StepBatch:
    """The same batch with its rows reordered by ``perm``."""
    return StepBatch(
        group=batch.group[perm], episode=batch.episode[perm], t=batch.t[perm],
        reward=batch.reward[perm], done=batch.done[perm], state=batch.state[perm],
        action=batch.action[perm], valid=batch.valid[perm], outcome=batch.outcome[perm],
        terminated=batch.terminated[perm], truncated=batch.truncated[perm],
        reward_parts={k: v[perm] for k, v in batch.reward_parts.items()},
        state_key=None if batch.state_key is None else batch.state_key[perm],
    )


def episodes_from_lists(trajectories, outcomes, group_id="g0"):
    """Episodes from ``[(observation, action, reward), ...]`` lists."""
    out = []
    for k, (traj, outcome) in enumerate(zip(trajectories, outcomes, strict=True)):
        turns = [Turn(observation=o, action=a, reward=r, state_key=o) for o, a, r in traj]
        out.append(Episode(env_id="toy", task_id="task", group_id=group_id,
                           episode_id=f"e{k}", seed=0, turns=turns, outcome=outcome))
    return out
