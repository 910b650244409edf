"""Adversarial suite: no SWE episode can fake its own reward or poison a later episode's.

Written by a red team against the public environment API only: every attack is a list of tool
calls an agent sends through ``step`` (see ``tests/swe/attacks.py``), played in real containers
of a real :class:`SandboxPool`. Two groups:

* **poison the next episode** (:data:`attacks.POISON`): the attack episode leaves state behind,
  then the *same* env is reset into the *same* pooled container (or, for a few attacks, the
  container goes back to the pool and a new env takes it). The next episodes must score exactly
  as on a fresh container: an empty patch 0.0, the expert's gold fix 1.0, and what an agent sees
  of the sandbox right after ``reset`` (listings of ``/tmp``, ``/dev/shm``, ``/dev/mqueue`` and
  the work dir, IPC objects, foreign processes, global git config, ``sys.path``) must equal that
  of a fresh container.
* **fake this episode** (:data:`attacks.FAKE`): without a real fix the attacked episode must
  score 0.0; attacks played *after* the gold fix (pressure on the sandbox) must leave it 1.0.

A control test proves that clean episodes really share one container, so the poison tests
exercise the reuse they claim to (a poisoned container may be replaced, which is a defence).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest
from attacks import FAKE, POISON, Attack, bash, call

import agentgym
from agentgym.envs.swe.tasks import SWETask, load_tasks
from agentgym.sandboxes.docker import DEFAULT_IMAGE, SandboxPool

#: What an agent sees of the sandbox right after ``reset``; the first line names the container
#: (the start time of its pid 1), the rest must be the same as in a fresh container.
PROBE = r"""echo "container $(cut -d' ' -f22 /proc/1/stat)"
for d in /tmp /dev/shm /dev/mqueue /work; do echo "== ls -A $d"; ls -A "$d" 2>&1; done
echo "== IPC objects: $(ipcs -a 2>&1 | grep -c '^0x')"
echo "== foreign processes"
ps -u agent -o pid=,ppid=,args= | awk -v me=$$ -v up=$PPID '$1 != me && $1 != up && $2 != me'
echo "== global git config"; git config --global --list 2>&1
echo "== python"
python3 -c 'import os, sys; print(sys.path); print(sorted(k for k in os.environ
            if k.startswith(("PYTEST", "PYTHON", "GIT"))))' 2>&1
"""


def make_env(pool: SandboxPool, task: SWETask) -> Any:
    return agentgym.make("agentgym/SWE-v0", tasks=[task], pool=pool)


def error(exc: BaseException) -> str:
    return f"error: {type(exc).__name__}: {str(exc)[:300]}"


def play(env: Any, action: str) -> str:
    """One agent step; its observation (or the exception, as text: attacks may break things)."""
    try:
        return env.step(action)[0]
    except Exception as exc:  # the attack's own steps may fail; what matters is the grading
        return error(exc)


def probe(env: Any) -> tuple[str, str]:
    """``(container id, fingerprint)`` as an agent sees them with one ``bash`` call."""
    text = env.step(bash(PROBE))[0]
    first, _, rest = text.partition("\n")
    return first.removeprefix("container "), rest


def empty_episode(env: Any, task: SWETask) -> tuple[float | str, str, str]:
    """Reset, look around, submit without a change: ``(reward, container, fingerprint)``."""
    container = fingerprint = "?"
    try:
        env.reset(options={"task_id": task.instance_id})
        container, fingerprint = probe(env)
        _, reward, terminated, _, _ = env.step(call("submit"))
        return (reward if terminated else "not terminated"), container, fingerprint
    except Exception as exc:
        return error(exc), container, fingerprint


def gold_episode(env: Any, task: SWETask) -> float | str:
    """Reset, take the expert's action (the gold patch) and submit: the reward."""
    try:
        env.reset(options={"task_id": task.instance_id})
        fixed = env.step(env.unwrapped.expert_action())
        if not fixed[4]["action_valid"]:
            return f"the gold fix failed: {fixed[0][-300:]}"
        _, reward, terminated, _, _ = env.step(call("submit"))
        return reward if terminated else "not terminated"
    except Exception as exc:
        return error(exc)


def close(env: Any, pool: SandboxPool) -> None:
    env.close()
    pool.close()


class FreshEnvs:
    """Envs on fresh containers, each with a pool of its own and already reset on ``task`` (the
    container's first episode); the next one is prepared in a background thread while a test
    plays the current one."""

    def __init__(self, task: SWETask) -> None:
        self.task = task
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="fresh-env")
        self._next: Future[tuple[Any, SandboxPool]] | None = None

    def _prepare(self) -> tuple[Any, SandboxPool]:
        pool = SandboxPool(DEFAULT_IMAGE, size=1, standby=0)
        env = make_env(pool, self.task)
        try:
            env.reset(options={"task_id": self.task.instance_id})
        except BaseException:
            close(env, pool)
            raise
        return env, pool

    def take(self) -> tuple[Any, SandboxPool]:
        current = self._next or self._executor.submit(self._prepare)
        self._next = self._executor.submit(self._prepare)
        return current.result()

    def close(self) -> None:
        if self._next is not None:
            close(*self._next.result())
        self._executor.shutdown()


@pytest.fixture(scope="module")
def task(image) -> SWETask:
    return load_tasks(None)[0]


@pytest.fixture(scope="module")
def fresh(task) -> Iterator[FreshEnvs]:
    envs = FreshEnvs(task)
    yield envs
    envs.close()


@pytest.fixture(scope="module")
def baseline(fresh) -> tuple[str, str]:
    """``(container, fingerprint)`` of the first episode of a fresh container."""
    env, pool = fresh.take()
    try:
        return probe(env)
    finally:
        close(env, pool)


@pytest.fixture(scope="module")
def shared_env(task) -> Iterator[Any]:
    """One env (one pooled container) for the fake attacks that write only in the work dir.

    Every pool here has ``standby=0``: no container is started in advance, so a reset recycles
    the container the attack ran in (wiped and verified) — the path an attack could exploit; with
    standby containers a reset would usually get a fresh one and test less."""
    pool = SandboxPool(DEFAULT_IMAGE, size=1, standby=0)
    env = make_env(pool, task)
    yield env
    close(env, pool)


def diff(expected: str, actual: str) -> str:
    return "\n".join(difflib.unified_diff(expected.splitlines(), actual.splitlines(),
                                          "fresh container", "after the attack", lineterm=""))


def test_clean_episodes_share_one_container_and_score_like_a_fresh_one(task, fresh, baseline):
    """The control: with no attack, the env's resets and a pool hand-off keep one container,
    which looks like a fresh one each time; an empty patch scores 0 and the gold fix 1."""
    env, pool = fresh.take()
    try:
        container = probe(env)[0]
        first = empty_episode(env, task)
        gold = gold_episode(env, task)
        env.close()
        env = make_env(pool, task)  # the pool hands the same container to a new env
        second = empty_episode(env, task)
    finally:
        close(env, pool)
    assert [first[0], gold, second[0]] == [0.0, 1.0, 0.0]
    assert container == first[1] == second[1] != baseline[0]  # one container, not baseline's
    for _, _, fingerprint in (first, second):
        assert fingerprint == baseline[1], diff(baseline[1], fingerprint)


def poison_then_grade(attack: Attack, task: SWETask, fresh: FreshEnvs, *,
                      handoff: str) -> dict[str, Any]:
    """Play ``attack`` as the first episode of a fresh container, then (same env, or a new env
    of the same pool) an empty-patch episode and a gold episode: the scores, what the agent saw
    after reset, and whether the container was reused."""
    env, pool = fresh.take()
    try:
        attacked = probe(env)[0]
        outputs = [play(env, action)[-600:] for action in attack.actions]
        if handoff == "pool":
            env.close()
            env = make_env(pool, task)
        empty, container, fingerprint = empty_episode(env, task)
        gold = gold_episode(env, task)
    finally:
        close(env, pool)
    return {"empty": empty, "gold": gold, "fingerprint": fingerprint, "outputs": outputs,
            "reused": container == attacked}


def check_poison(attack: Attack, result: dict[str, Any], baseline: tuple[str, str]) -> None:
    scores = {"empty": result["empty"], "gold": result["gold"],
              "looks fresh": result["fingerprint"] == baseline[1]}
    assert scores == {"empty": 0.0, "gold": 1.0, "looks fresh": True}, (
        f"{attack.name}: {attack.doc}\n{scores}\ncontainer reused: {result['reused']}\n"
        f"attack output: {result['outputs']}\n{diff(baseline[1], result['fingerprint'])}")


@pytest.mark.parametrize("attack", POISON, ids=lambda a: a.name)
def test_poison_the_next_episode(attack, task, fresh, baseline):
    check_poison(attack, poison_then_grade(attack, task, fresh, handoff="reset"), baseline)


POOL_HANDOFF = ("usercustomize_pytest_plugins", "workdir_read_only", "tmp_full")


@pytest.mark.parametrize("attack", [a for a in POISON if a.name in POOL_HANDOFF],
                         ids=lambda a: a.name)
def test_poison_the_next_env_of_the_pool(attack, task, fresh, baseline):
    """The attacked env closes; its container goes back to the pool and a new env gets it."""
    check_poison(attack, poison_then_grade(attack, task, fresh, handoff="pool"), baseline)


@pytest.mark.parametrize("attack", FAKE, ids=lambda a: a.name)
def test_fake_this_episode(attack, task, fresh, shared_env):
    if attack.dirty:  # it writes outside the work dir: a fresh container of its own
        env, pool = fresh.take()
    else:
        env, pool = shared_env, None
        env.reset(options={"task_id": task.instance_id})
    try:
        if attack.with_fix:
            fixed = env.step(env.unwrapped.expert_action())
            assert fixed[4]["action_valid"], fixed[0]
        outputs = [play(env, action)[-600:] for action in attack.actions]
        try:
            text, reward, terminated, _, _ = env.step(call("submit"))
            outcome: float | str = reward if terminated else f"not terminated: {text}"
        except Exception as exc:
            outcome, text = error(exc), ""
    finally:
        if pool is not None:
            close(env, pool)
    expected = 1.0 if attack.with_fix else 0.0
    assert outcome == expected, (f"{attack.name}: {attack.doc}\nattack output: {outputs}\n"
                                 f"submit: {text[-400:]}")
