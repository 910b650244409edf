"""Plain reference implementations of the credit methods: a Python loop per row, dicts, no numpy
vectorization. The fast implementations in ``agentgym.credit`` must agree with these to 1e-9."""

from __future__ import annotations

import math
from collections import defaultdict, deque
from difflib import SequenceMatcher

END = object()


def _episodes(batch):
    """{episode: [row, ...] ordered by t}, {episode: group}."""
    rows = defaultdict(list)
    group = {}
    for i in range(len(batch.reward)):
        rows[int(batch.episode[i])].append(i)
        group[int(batch.episode[i])] = int(batch.group[i])
    for e in rows:
        rows[e].sort(key=lambda i: int(batch.t[i]))
    return rows, group


def stats(values, std="unbiased", singleton="raw", var_eps=0.0):
    n = len(values)
    if n == 1:
        return (0.0 if singleton == "raw" else values[0]), 1.0
    mean = sum(values) / n
    ss = sum((v - mean) ** 2 for v in values)
    var = ss / (n - 1) if std == "unbiased" else ss / n
    return mean, math.sqrt(var + var_eps)


def norm_value(x, mean, sigma, norm, eps):
    if norm == "mean":
        return x - mean
    return (x - mean) / (sigma + eps)


def returns(batch, gamma, values=None):
    values = batch.reward if values is None else values
    rows, _ = _episodes(batch)
    out = [0.0] * len(values)
    for ep_rows in rows.values():
        running = 0.0
        for i in reversed(ep_rows):
            running = float(values[i]) + gamma * running
            out[i] = running
    return out


def episode_level(batch, per_episode_adv):
    return [per_episode_adv[int(batch.episode[i])] for i in range(len(batch.reward))]


def scores_of(batch, score="outcome"):
    rows, group = _episodes(batch)
    if score == "outcome":
        return {e: float(batch.outcome[r[0]]) for e, r in rows.items()}, group
    return {e: sum(float(batch.reward[i]) for i in r) for e, r in rows.items()}, group


def grpo(batch, norm="mean_std", std="unbiased", eps=1e-6, singleton="raw"):
    scores, group = scores_of(batch)
    members = defaultdict(list)
    for e, g in group.items():
        members[g].append(scores[e])
    group_stats = {g: stats(values, std, singleton) for g, values in members.items()}
    adv = {}
    for e, g in group.items():
        mean, sigma = group_stats[g]
        adv[e] = norm_value(scores[e], mean, sigma, norm, eps)
    return episode_level(batch, adv)


def rloo(batch):
    scores, group = scores_of(batch)
    members = defaultdict(list)
    for e, g in group.items():
        members[g].append(e)
    adv = {}
    for e, g in group.items():
        others = [scores[o] for o in members[g] if o != e]
        adv[e] = scores[e] - (sum(others) / len(others) if others else 0.0)
    return episode_level(batch, adv)


def mc_grpo(batch):
    scores, group = scores_of(batch)
    members = defaultdict(list)
    for e, g in sorted(group.items()):
        members[g].append(e)
    adv, keep = {}, {}
    for _g, eps_ in members.items():
        ordered = sorted(eps_, key=lambda e: (scores[e], e))
        pivot = ordered[(len(ordered) - 1) // 2]
        for e in eps_:
            adv[e] = 0.0 if e == pivot else scores[e] - scores[pivot]
            keep[e] = e != pivot
    return episode_level(batch, adv), episode_level(batch, keep)


def gdpo(batch, parts, eps=1e-6):
    rows, group = _episodes(batch)
    total = defaultdict(float)
    for name in parts:
        values = {e: sum(float(batch.reward_parts[name][i]) for i in r) for e, r in rows.items()}
        members = defaultdict(list)
        for e, g in group.items():
            members[g].append(values[e])
        group_stats = {g: stats(v) for g, v in members.items()}
        for e, g in group.items():
            mean, sigma = group_stats[g]
            total[e] += (values[e] - mean) / (sigma + eps)
    mean, sigma = stats(list(total.values()))
    return episode_level(batch, {e: (v - mean) / (sigma + eps) for e, v in total.items()})


def cluster_canonical(texts, threshold):
    """{text: cluster} by greedy first-fit over the sorted distinct texts."""
    reps, label = [], {}
    for text in sorted(set(texts)):
        for k, rep in enumerate(reps):
            if SequenceMatcher(None, text, rep).ratio() >= threshold:
                label[text] = k
                break
        else:
            label[text] = len(reps)
            reps.append(text)
    return label


def gigpo(batch, gamma, omega=1.0, norm="mean", eps=1e-6, episode_stats="trajectory",
          similarity=None):
    rows, group = _episodes(batch)
    score = {e: sum(float(batch.reward[i]) for i in r) for e, r in rows.items()}
    pool = defaultdict(list)
    for e, g in group.items():
        pool[g].extend([score[e]] * (len(rows[e]) if episode_stats == "rows" else 1))
    ret = returns(batch, gamma)
    n = len(batch.reward)
    key = {}
    if similarity is None:
        for i in range(n):
            key[i] = (int(batch.group[i]), int(batch.state[i]))
    else:
        texts = defaultdict(list)
        for i in range(n):
            texts[int(batch.group[i])].append(str(batch.state_key[i]))
        labels = {g: cluster_canonical(t, similarity) for g, t in texts.items()}
        for i in range(n):
            g = int(batch.group[i])
            key[i] = (g, labels[g][str(batch.state_key[i])])
    step_pool = defaultdict(list)
    for i in range(n):
        step_pool[key[i]].append(ret[i])
    episode_stats_of = {g: stats(values, singleton="raw") for g, values in pool.items()}
    step_stats_of = {k: stats(values, singleton="zero") for k, values in step_pool.items()}
    out = []
    for i in range(n):
        e = int(batch.episode[i])
        mean, sigma = episode_stats_of[group[e]]
        a_e = norm_value(score[e], mean, sigma, norm, eps)
        mean, sigma = step_stats_of[key[i]]
        a_s = norm_value(ret[i], mean, sigma, norm, eps)
        out.append(a_e + omega * a_s)
    return out


def salt(batch, base_adv):
    rows, _ = _episodes(batch)
    edge_of = {}
    for ep_rows in rows.values():
        for k, i in enumerate(ep_rows):
            nxt = int(batch.state[ep_rows[k + 1]]) if k + 1 < len(ep_rows) else END
            edge_of[i] = (int(batch.group[i]), int(batch.state[i]), int(batch.action[i]), nxt)
    values = defaultdict(list)
    for i, edge in edge_of.items():
        values[edge].append(base_adv[i])
    return [sum(values[edge_of[i]]) / len(values[edge_of[i]]) for i in range(len(batch.reward))]


def igpo(batch, log_beliefs, gamma=1.0, eps=1e-6, joint=True):
    rows, _group = _episodes(batch)
    reward = {}
    final = set()
    for ep_rows in rows.values():
        for k, i in enumerate(ep_rows):
            if k + 1 < len(ep_rows):
                gain = math.exp(log_beliefs[ep_rows[k + 1]]) - math.exp(log_beliefs[i])
                reward[i] = gain if math.isfinite(gain) else 0.0
            else:
                reward[i] = float(batch.outcome[i])
                final.add(i)
    pools = defaultdict(list)
    for i, r in reward.items():
        if i in final or r != 0:
            g = int(batch.group[i])
            pools[g if joint else (g, i in final)].append(r)
    pool_stats = {}
    for k, values in pools.items():
        if len(values) <= 1:
            pool_stats[k] = (values[0], 1.0)
        else:
            pool_stats[k] = stats(values, std="population", var_eps=1e-8)
    normalized = {}
    for i, r in reward.items():
        if i in final or r != 0:
            g = int(batch.group[i])
            mean, sigma = pool_stats[g if joint else (g, i in final)]
            normalized[i] = (r - mean) / (sigma + eps)
        else:
            normalized[i] = 0.0
    return returns(batch, gamma, [normalized[i] for i in range(len(batch.reward))])


def oprl(batch, step_rewards, alpha=1.0, eps=1e-6):
    episode_adv = grpo(batch, eps=eps)
    pool = defaultdict(list)
    for i in range(len(batch.reward)):
        pool[int(batch.group[i])].append(float(step_rewards[i]))
    pool_stats = {g: stats(values, singleton="zero") for g, values in pool.items()}
    out = []
    for i in range(len(batch.reward)):
        mean, sigma = pool_stats[int(batch.group[i])]
        out.append(episode_adv[i] + alpha * (float(step_rewards[i]) - mean) / (sigma + eps))
    return out


def gated(batch, gates, step_parts, strict=False):
    rows, _ = _episodes(batch)
    out = [0.0] * len(batch.reward)
    for ep_rows in rows.values():
        passed = True
        for name, delta in gates:
            if name is None:
                contrib = {i: 0.0 for i in ep_rows}
                contrib[ep_rows[-1]] = float(batch.outcome[ep_rows[-1]])
            else:
                contrib = {i: float(batch.reward_parts[name][i]) for i in ep_rows}
            if passed:
                for i in ep_rows:
                    out[i] += contrib[i]
            value = sum(contrib.values())
            passed = passed and (value > delta if strict else value >= delta)
        if passed:
            for i in ep_rows:
                out[i] += sum(float(batch.reward_parts[p][i]) for p in step_parts)
    return out


def lcs_table(a, b):
    table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            if a[i - 1] == b[j - 1]:
                table[i][j] = table[i - 1][j - 1] + 1
            else:
                table[i][j] = max(table[i - 1][j], table[i][j - 1])
    return table


def lcs(a, b):
    table = lcs_table(a, b)
    out, i, j = [], len(a), len(b)
    while i > 0 and j > 0:
        if a[i - 1] == b[j - 1]:
            out.append(a[i - 1])
            i, j = i - 1, j - 1
        elif table[i - 1][j] >= table[i][j - 1]:
            i -= 1
        else:
            j -= 1
    return out[::-1]


def progrm(batch, success_threshold=0.0):
    rows, group = _episodes(batch)
    recipe = {}
    for e in sorted(rows):
        if float(batch.outcome[rows[e][0]]) > success_threshold:
            seq = [int(batch.action[i]) for i in rows[e]]
            g = group[e]
            recipe[g] = seq if g not in recipe else lcs(recipe[g], seq)
    out = [0.0] * len(batch.reward)
    for e, ep_rows in rows.items():
        r = recipe.get(group[e], [])
        if not r:
            continue
        previous = 0.0
        dp = [0] * (len(r) + 1)  # LCS(prefix, recipe[:j]) for the prefix seen so far
        for i in ep_rows:
            action = int(batch.action[i])
            new = [0] * (len(r) + 1)
            for j in range(1, len(r) + 1):
                if r[j - 1] == action:
                    new[j] = dp[j - 1] + 1
                else:
                    new[j] = max(dp[j], new[j - 1])
            dp = new
            progress = dp[-1] / len(r)
            out[i] = progress - previous
            previous = progress
    return out


def spa(batch, contributions, next_observation, weight=0.5, failure="Nothing happens"):
    rows, _ = _episodes(batch)
    out = [0.0] * len(batch.reward)
    for ep_rows in rows.values():
        for k, i in enumerate(ep_rows):
            last = k == len(ep_rows) - 1
            g = weight if last or failure not in next_observation[i] else 0.0
            out[i] = float(contributions[i]) + g
    return out


def goal_distances(batch, key="distance_to_goal"):
    """(N(s_t), N(s_{t+1})) per row from the source episodes' info dicts."""

    def as_distance(value):
        if value is None or isinstance(value, bool):
            return math.nan
        try:
            return float(value)
        except (TypeError, ValueError):
            return math.nan

    before, after = [], []
    for i in range(len(batch.reward)):
        episode = batch.episodes[int(batch.episode[i])]
        t = int(batch.t[i])
        after.append(as_distance(episode.turns[t].info.get(key)))
        previous = episode.info if t == 0 else episode.turns[t - 1].info
        before.append(as_distance(previous.get(key)))
    return before, after


def cast(batch, base_adv, before, after, alpha=0.1, unreachable=None):
    out = []
    for i in range(len(batch.reward)):
        d0, d1 = float(before[i]), float(after[i])
        if unreachable is not None:
            d0 = unreachable if d0 == math.inf else d0
            d1 = unreachable if d1 == math.inf else d1
        shaping = alpha * (d0 - d1) if math.isfinite(d0) and math.isfinite(d1) else 0.0
        out.append(float(base_adv[i]) + shaping)
    return out


def graphgpo(batch, base_adv, omega=0.1, success_reward=10.0, beta=1.0, success_threshold=0.0,
             value="power", norm="mean_std", eps=1e-6):
    """Per group: a dict graph, a BFS from SUCCESS over reversed edges, values, same-state
    normalization."""
    rows, group = _episodes(batch)
    success = {e: float(batch.outcome[r[0]]) > success_threshold for e, r in rows.items()}
    successor = {}
    predecessors = defaultdict(lambda: defaultdict(set))  # group -> node -> {predecessor}
    for e, ep_rows in rows.items():
        g = group[e]
        for k, i in enumerate(ep_rows):
            node = ("state", int(batch.state[i]))
            if k + 1 < len(ep_rows):
                nxt = ("state", int(batch.state[ep_rows[k + 1]]))
            else:
                nxt = "SUCCESS" if success[e] else "FAIL"
            successor[i] = nxt
            predecessors[g][nxt].add(node)
    group_success = defaultdict(bool)
    for e, g in group.items():
        group_success[g] = group_success[g] or success[e]
    distance = {}
    for g, preds in predecessors.items():
        d = {"SUCCESS": 0} if group_success[g] else {}
        queue = deque(d)
        while queue:
            node = queue.popleft()
            for p in preds[node]:
                if p not in d:
                    d[p] = d[node] + 1
                    queue.append(p)
        distance[g] = d
    values = {}
    for i in range(len(batch.reward)):
        g = int(batch.group[i])
        if not group_success[g]:
            values[i] = 0.0
            continue
        d = distance[g].get(successor[i], max(distance[g].values()) + 1)
        values[i] = success_reward * omega**d if value == "power" else -float(d)
    pools = defaultdict(list)
    for i, v in values.items():
        pools[(int(batch.group[i]), int(batch.state[i]))].append(v)
    pool_stats = {k: stats(v, singleton="zero") for k, v in pools.items()}
    out = []
    for i in range(len(batch.reward)):
        mean, sigma = pool_stats[(int(batch.group[i]), int(batch.state[i]))]
        out.append(float(base_adv[i]) + beta * norm_value(values[i], mean, sigma, norm, eps))
    return out


def hiper(batch, v_low, v_high, switch, v_term=None, gamma=1.0, lam_turn=1.0, lam_seg=0.95,
          bootstrap_truncated=True, norm_adv=True):
    """HiPER's three advantages with per-episode, per-segment loops.

    Returns a dict of lists: low, high (None off segment starts), term (or None), and the
    returns."""
    n = len(batch.reward)
    rows, _ = _episodes(batch)
    low, high, term_ret = [0.0] * n, [None] * n, [0.0] * n
    for ep_rows in rows.values():
        last = ep_rows[-1]
        truncated = bootstrap_truncated and not bool(batch.terminated[last])
        starts = [k for k in range(len(ep_rows)) if k == 0 or bool(switch[ep_rows[k]])]
        segments = [(s, (starts[j + 1] if j + 1 < len(starts) else len(ep_rows)) - 1)
                    for j, s in enumerate(starts)]
        next_seg_adv = 0.0
        for j in range(len(segments) - 1, -1, -1):
            s, e = segments[j]
            if j + 1 < len(segments):
                boot_high = float(v_high[ep_rows[segments[j + 1][0]]])
                boot_low = boot_high
            elif truncated:
                boot_high = float(v_high[ep_rows[s]])
                boot_low = float(v_low[ep_rows[e]])
            else:
                boot_high = boot_low = 0.0
            adv = 0.0
            ret = boot_high
            for k in range(e, s - 1, -1):
                i = ep_rows[k]
                v_next = float(v_low[ep_rows[k + 1]]) if k < e else boot_low
                delta = float(batch.reward[i]) + gamma * v_next - float(v_low[i])
                adv = delta if k == e else delta + gamma * lam_turn * adv
                low[i] = adv
                ret = float(batch.reward[i]) + gamma * ret
                term_ret[i] = ret
            seg_return = sum(gamma ** (k - s) * float(batch.reward[ep_rows[k]])
                             for k in range(s, e + 1))
            d = e - s + 1
            delta = seg_return + gamma**d * boot_high - float(v_high[ep_rows[s]])
            last_seg = j + 1 == len(segments)
            seg_adv = delta if last_seg else delta + gamma**d * lam_seg * next_seg_adv
            high[ep_rows[s]] = seg_adv
            next_seg_adv = seg_adv
    returns_low = [low[i] + float(v_low[i]) for i in range(n)]
    returns_high = [None if high[i] is None else high[i] + float(v_high[i]) for i in range(n)]
    term = None if v_term is None else [term_ret[i] - float(v_term[i]) for i in range(n)]

    def z(values):
        chosen = [v for v in values if v is not None]
        mean = sum(chosen) / len(chosen)
        sigma = math.sqrt(sum((v - mean) ** 2 for v in chosen) / len(chosen))
        return [None if v is None else (v - mean) / (sigma + 1e-8) for v in values]

    if norm_adv:
        low, high = z(low), z(high)
        term = None if term is None else z(term)
    return {"low": low, "high": high, "term": term, "returns_low": returns_low,
            "returns_high": returns_high, "returns_term": None if v_term is None else term_ret}
